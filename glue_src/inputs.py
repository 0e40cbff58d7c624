"""The one place that reads the raw files: listing, the names Spark never reads, each file's head (binary and
encoding detection, its first line) and its text lines as Spark reads them.

The interactions (`layouts`, `rows`) and the Items / Users metadata (`metadata`) read their sources only
through these functions, with the Hadoop FileSystem API on the driver and Spark's text reader on the workers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from glue_src.messages import EtlInputError


_GLOB_CHARS = re.compile(r"([\\{}\[\]*?])")


# Files the input listing does not read, by rule. Spark (and so Glue) never reads a file whose
# name starts with `_` or `.` (unless it has `=` or is Parquet's `_metadata`), nor one ending in
# `._COPYING_`, even when given its path: the job lists them instead of losing them silently.
SKIP_RULES = {
    "hidden_name": "the name starts with '_' or '.', which Spark and Glue never read; rename the file to read it",
    "hidden_folder": "a folder on its path (below the input) starts with '_' or '.', which Spark and Glue never "
    "read (a _temporary/ folder holds partial writes); move the file to read it",
    "incomplete_copy": "the name ends in '._COPYING_' (a copy still in progress); it is read once renamed",
    "not_listed_by_spark": "Spark's file listing left it out",
}


# The driver reads this much of every file (decompressed) to find its header and what it is.
HEAD_BYTES = 64 * 1024


def skip_rule(name: str) -> str | None:
    """The rule by which Spark would leave a file out (its `shouldFilterOutPathName`), or None."""
    if name.endswith("._COPYING_"):
        return "incomplete_copy"
    hidden = (name.startswith("_") and "=" not in name) or name.startswith(".")
    if hidden and not name.startswith(("_metadata", "_common_metadata")):
        return "hidden_name"
    return None


def skip_rule_of_path(path: str, root: str) -> str | None:
    """The rule by which Spark would leave out a file listed under the folder `root`: its own name, or a
    folder between `root` and it (Spark's listing applies the same name rule at every level)."""
    prefix = root.rstrip("/") + "/"
    relative = path[len(prefix) :] if path.startswith(prefix) else path.rsplit("/", 1)[-1]
    *folders, name = relative.split("/")
    if any(skip_rule(folder) for folder in folders):
        return "hidden_folder"
    return skip_rule(name)


def _java_message(error: Exception) -> str:
    """The one-line message of a Java exception raised through py4j (no stack trace)."""
    java = getattr(error, "java_exception", None)
    text = str(java.toString()) if java is not None else str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def _jvm(spark: SparkSession) -> Any:
    """The session's py4j view of the JVM (pyspark types it Optional: None only without a gateway)."""
    return spark._jvm


def hadoop_path(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """(org.apache.hadoop.fs.Path, its FileSystem)."""
    jvm_path = _jvm(spark).org.apache.hadoop.fs.Path(path)
    return jvm_path, jvm_path.getFileSystem(spark._jsc.hadoopConfiguration())


def list_input_files(spark: SparkSession, input_uri: str) -> list[str]:
    """Every file under `input_uri` (a file, a folder, or a glob pattern when no such path
    exists), recursively, hidden names included. A path with glob characters is first taken
    literally, so `ratings[1].csv` is that file."""
    return [path for path, _ in list_files_with_skip_rules(spark, input_uri)]


def list_files_with_skip_rules(spark: SparkSession, input_uri: str) -> list[tuple[str, str | None]]:
    """(file, the rule Spark would skip it by, or None) for every file `list_input_files` finds."""
    from py4j.protocol import Py4JJavaError

    try:
        root, fs = hadoop_path(spark, input_uri)
        if fs.exists(root):
            roots = [fs.getFileStatus(root)]
        else:
            roots = list(fs.globStatus(root) or []) if _GLOB_CHARS.search(input_uri) else []
        if not roots:
            raise EtlInputError(f"--input_uri {input_uri} does not exist")
        files = []
        for status in roots:
            root_path = str(status.getPath().toString())
            if not status.isDirectory():
                files.append((root_path, skip_rule(root_path.rsplit("/", 1)[-1])))
                continue
            listing = fs.listFiles(status.getPath(), True)
            while listing.hasNext():
                path = str(listing.next().getPath().toString())
                files.append((path, skip_rule_of_path(path, root_path)))
    except Py4JJavaError as error:
        raise EtlInputError(f"cannot list --input_uri {input_uri}: {_java_message(error)}") from None
    return sorted(files)


def _codec(spark: SparkSession, path: str) -> Any:
    """The Hadoop codec Spark decompresses a file with (chosen by its extension), or None."""
    factory = _jvm(spark).org.apache.hadoop.io.compress.CompressionCodecFactory(spark._jsc.hadoopConfiguration())
    return factory.getCodec(_jvm(spark).org.apache.hadoop.fs.Path(path))


@contextmanager
def _open_as_spark_reads(spark: SparkSession, path: str) -> Iterator[Any]:
    """A Java InputStream of the file's bytes as Spark's text reader sees them (decompressed)."""
    jvm_path, fs = hadoop_path(spark, path)
    codec = _codec(spark, path)
    stream = fs.open(jvm_path)
    try:
        if codec is not None:
            stream = codec.createInputStream(stream)
        yield stream
    finally:
        stream.close()


def read_head(spark: SparkSession, path: str) -> bytes:
    """The first HEAD_BYTES of a file as Spark will read it."""
    with _open_as_spark_reads(spark, path) as stream:
        return bytes(stream.readNBytes(HEAD_BYTES))


def drain(spark: SparkSession, path: str) -> None:
    """Reads a whole file on the driver, raising what Spark's reader would meet."""
    with _open_as_spark_reads(spark, path) as stream:
        stream.transferTo(_jvm(spark).java.io.OutputStream.nullOutputStream())


# (leading bytes, what the file looks like): formats a text reader would turn into garbage lines.
_MAGIC = (
    (b"PK\x03\x04", "looks like a ZIP archive; unzip it and upload the files it holds"),
    (b"PK\x05\x06", "looks like an empty ZIP archive"),
    (
        b"\x1f\x8b",
        "looks like gzip-compressed data, but its name does not end in .gz (Spark decompresses by extension): "
        "rename it",
    ),
    (b"BZh", "looks like bzip2-compressed data, but its name does not end in .bz2: rename it"),
    (b"\xfd7zXZ\x00", "looks like an xz archive, which Spark does not read; recompress it as .gz or .bz2"),
    (b"7z\xbc\xaf\x27\x1c", "looks like a 7-Zip archive, which Spark does not read; extract it"),
    (b"\x28\xb5\x2f\xfd", "looks like zstd-compressed data, but its name does not end in .zst: rename it"),
    (b"PAR1", "looks like a Parquet file, not delimited text"),
    (b"\xff\xfe", "looks like UTF-16 text (little-endian, with a byte-order mark); save it as UTF-8"),
    (b"\xfe\xff", "looks like UTF-16 text (big-endian, with a byte-order mark); save it as UTF-8"),
)


def describe_binary(head: bytes) -> str | None:
    """What a file that is not UTF-8 text looks like, or None for text."""
    for magic, description in _MAGIC:
        if head.startswith(magic) and not (magic == b"BZh" and head[3:4] not in b"123456789"):
            return description
    if b"\x00" in head:
        sample = head[:4096]
        odd_nuls = sample[1::2].count(0) > 0.4 * len(sample[1::2])
        even_nuls = sample[0::2].count(0) > 0.4 * len(sample[0::2])
        if odd_nuls != even_nuls:
            return "looks like UTF-16 text (no byte-order mark); save it as UTF-8"
        return "looks like binary data (it has NUL bytes), not delimited text"
    return None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def first_line(head: bytes, encoding: str = "utf-8") -> str | None:
    """The first non-blank line of a file's head (as Spark splits lines), None if there is none.
    Raises ValueError when it does not end within the head (no header is that long). Bytes invalid in
    `encoding` (a Python codec name) are replaced here: `invalid_bytes` fails the run naming them."""
    lines = _LINE_BREAK.split(head.decode(encoding, errors="replace"))
    complete = lines if len(head) < HEAD_BYTES else lines[:-1]
    for line in complete:
        if line.strip(" \t\ufeff"):
            return line.strip(" \t")
    if len(head) >= HEAD_BYTES:
        raise ValueError(f"no complete non-blank line in its first {HEAD_BYTES // 1024} KiB")
    return None


def split_fields(line: str, delimiter: str) -> list[str]:
    fields = [part.strip() for part in line.split(delimiter)]
    return [fields[0].lstrip("\ufeff")] + fields[1:]


def inspect_file(spark: SparkSession, path: str, encoding: str = "utf-8") -> tuple[str | None, str | None]:
    """(first non-blank line or None, problem or None) of one file."""
    from py4j.protocol import Py4JError

    try:
        head = read_head(spark, path)
    except Py4JError as error:
        return None, f"cannot be read: {_java_message(error)}"
    binary = describe_binary(head)
    if binary:
        return None, binary
    try:
        return first_line(head, encoding), None
    except ValueError as error:
        return None, str(error)


def glob_escaped(path: str) -> str:
    # Spark expands glob patterns in the paths it is given: a listed file is meant literally.
    return _GLOB_CHARS.sub(r"\\\1", path)


def read_text_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """The text lines (column `value`) of listed files as Spark's text reader splits them, each
    path meant literally (decompressed by extension, as `read_head` reads them)."""
    return spark.read.text([glob_escaped(path) for path in files])


_URI_PARTS = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://([^/]*))?(.*)$", re.DOTALL)


def path_key(path: str, *, url_encoded: bool) -> str:
    """A file's identity whatever its spelling: `file:/a b#1` (Hadoop) or `file:///a%20b%231` (Spark)."""
    match = _URI_PARTS.match(path)
    authority, rest = (match.group(1) or "", match.group(2)) if match else ("", path)
    return authority + (unquote(rest) if url_encoded else rest)


def unreadable_files(spark: SparkSession, files: Iterable[str]) -> list[dict[str, str]]:
    """After Spark failed reading: the compressed files that cannot be read to their end (a
    truncated gzip, a corrupt bzip2 block), each with its problem. Spark's own error names no file."""
    from py4j.protocol import Py4JError

    found = []
    for path in files:
        if _codec(spark, path) is None:
            continue
        try:
            drain(spark, path)
        except Py4JError as error:
            found.append({"file": path, "problem": f"cannot be read to its end: {_java_message(error)}"})
    return found


def check_encoding(
    spark: SparkSession, files: list[str], charset: str, option: str
) -> tuple[list[dict[str, str]], int]:
    """(the files holding bytes that are not text in `charset` (a Java charset name), each with its first
    bad line (1-based, as Spark splits lines), its count of bad lines and the option to set; the number of
    lines read). A line is valid when decoding and encoding it again gives its bytes back: a replaced
    byte (U+FFFD in, `?` out) never does. Line numbers are computed only for files with bad lines."""
    if not files:
        return [], 0
    roundtrip = F.expr(f"raw = encode(decode(raw, '{charset}'), '{charset}')")
    lines = read_text_lines(spark, files).select(
        F.input_file_name().alias("file"),
        F.col("value").cast("binary").alias("raw"),  # the line's bytes as written (Spark keeps them)
        F.monotonically_increasing_id().alias("position"),  # increasing within a file
    )
    per_file = lines.groupBy("file").agg(F.count("*").alias("lines"), F.sum((~roundtrip).cast("int")).alias("bad"))
    counted = per_file.collect()
    bad_files = [row["file"] for row in counted if row["bad"]]
    total = sum(row["lines"] for row in counted)
    if not bad_files:
        return [], total
    numbered = lines.filter(F.col("file").isin(bad_files)).select(
        "file",
        roundtrip.alias("valid"),
        F.row_number().over(Window.partitionBy("file").orderBy("position")).alias("line"),
    )
    found = numbered.filter(~F.col("valid")).groupBy("file").agg(F.min("line").alias("first"), F.count("*").alias("n"))
    listed = {path_key(path, url_encoded=False): path for path in files}
    problems = [
        {
            "file": listed.get(path_key(row["file"], url_encoded=True), row["file"]),
            "problem": f"line {row['first']} (and {row['n'] - 1} more line(s)) has bytes that are not {charset} "
            f"text; set {option} to the encoding the file is written in",
        }
        for row in found.collect()
    ]
    return sorted(problems, key=lambda problem: problem["file"]), total
