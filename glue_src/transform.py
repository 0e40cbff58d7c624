"""Raw ratings -> Amazon Personalize inputs, as pure PySpark (no Python UDFs on the row path).

The same module runs on AWS Glue 5.0 (imported by `job.py` as the top-level module `transform`,
from the zip passed in `--extra-py-files`) and locally (`glue_src.transform`). It imports nothing
from the `glue_src` package and nothing Glue-specific.

Before Spark reads anything, the driver lists the input itself (Hadoop FileSystem API) and reads
the first bytes of every file: files Spark would skip are listed as skipped with their rule,
files that are not text (a ZIP, UTF-16, binary) or cannot be opened fail the run by name, and
each file's own header gives its column positions. Files with the same positions are read
together; each group is classified with its positions.

One pass over the input: the text is read once, every line is classified with built-in column
expressions into exactly one status, and a single aggregation groups the lines:

* kept lines by (user, item, timestamp in seconds): one group per distinct interaction, its
  count minus one being the duplicates;
* rejected lines (and header lines) by (status, line, file), so identical bad lines become one
  quarantine record with an `occurrences` count;
* lines below the rating threshold into one group.

That aggregate is cached; the interactions CSV, the batch-input JSON lines, the quarantine and
every count come from it. Counts add up by construction:

    rows_read = lines_read - expected_header_lines
              = kept + filtered_by_rating + duplicates + rejected

where `rejected` includes blank lines and repeated header lines (a header line met more than once
in the same file). The first header line of each file is expected and not counted as a row.

Batch inputs (`--batch_inputs`, `--item_attribute_queries`): only the inputs the configured solutions
read are written, each as JSON lines in its run folder (`pipeline_contracts.solutions.batch_input_entry`):

* users (`batch-input/`): one `{"userId"}` line per distinct user of the kept interactions;
* items (`batch-input-items/`): one `{"itemId"}` line per item, by this rule: with
  `--batch_items_top_n 0` (the default) every item that has at least one KEPT interaction (after the
  rating filter and the dedupe: exactly the items of the interactions CSV); with N > 0 the N items
  with the most kept (deduplicated) interactions, ties broken by the item id in ascending text
  (byte) order, so the same input always gives the same items. Files hold at most
  `--batch_items_per_file` lines (the stacks pass 500 when an item-affinity solution reads them:
  one batch segment job takes at most 500 items);
* item attributes (`batch-input-queries/<solution>/queries-NNNN.json`): one `{"itemAttributes"}` line per
  configured query of each item-attribute-affinity solution, written as given (JSON-escaped), 10 lines a file
  (one batch segment job takes at most 10 queries).

Every batch-input file holds at most 5 million lines (one post-processing invocation per output
file). Personalize's per-job limits (1 GB, 1000 files) are no longer checked here: batch planning
splits an input over several jobs. `_summary.json` lists every batch-input file (key relative to
the run folder) with its line count under `batch_inputs`, read back from what was written.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame, DataFrameWriter, Observation, SparkSession
from pyspark.sql import functions as F

# The run's folder layout under <output_uri><run_id>/; on Glue the package sits beside this module in the zip.
from pipeline_contracts import run_layout, solutions

# Amazon Personalize training minimums and the input limits of one batch job. Bytes and files per job
# are reported in the summary, not checked: batch planning splits an input over several jobs.
MIN_INTERACTIONS = 1000
MIN_USERS_WITH_2_INTERACTIONS = 25
BATCH_INPUT_MAX_BYTES = 1024**3
BATCH_INPUT_MAX_FILES = 1000
BATCH_INPUT_MAX_RECORDS_PER_FILE = 50_000_000
# About 1 minute of post-processing per file on the fast path, 6.5 at worst (benchmarks/postprocess.py):
# the cap of every batch-input file (users and items).
BATCH_INPUT_MAX_USERS_PER_FILE = 5_000_000
# The users and items inputs are shared by every solution that reads them: their folder names no solution.
USERS_ENTRY = solutions.batch_input_entry("users", solutions.DEFAULT_SOLUTION_NAME)
ITEMS_ENTRY = solutions.batch_input_entry("items", solutions.DEFAULT_SOLUTION_NAME)


RATING_MIN, RATING_MAX = 0.5, 5.0
# 1995-01-01T00:00:00Z: MovieLens starts in 1995; anything earlier is a unit or data error.
MIN_EPOCH_SECONDS = 788_918_400
# Quarantine keeps the first characters of a bad line (a binary file read as text can have huge ones).
MAX_QUARANTINE_LINE = 4096
# IDs are written unquoted to CSV and JSON: letters, digits and a few safe punctuation marks.
ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,256}$"
# The driver reads this much of every file (decompressed) to find its header and what it is.
HEAD_BYTES = 64 * 1024
# At most this many problem files are named in the one-line error (all are in the summary).
MAX_FILES_IN_MESSAGE = 5

# Status of a line. Everything that is not kept, filtered or header is a rejection reason.
KEPT, FILTERED, HEADER = "kept", "filtered_by_rating", "header"
REJECT_REASONS = (
    "blank_line",
    "repeated_header",
    "wrong_field_count",
    "missing_field",
    "invalid_user_id",
    "invalid_item_id",
    "non_numeric_rating",
    "non_numeric_timestamp",
    "rating_out_of_range",
    "timestamp_out_of_range",
)
# A timestamp out of range that would be in range in the other unit (ms <-> s): quarantined as
# timestamp_out_of_range, counted apart so the summary can say which unit fits.
TS_OTHER_UNIT = "timestamp_out_of_range_other_unit_fits"

# Status codes of a classified line, in this order: kept, filtered, header, then the reasons
# (codes > header are rejections; "repeated_header" is derived from header lines per file).
STATUSES = (
    (KEPT, FILTERED, HEADER)
    + tuple(reason for reason in REJECT_REASONS if reason != "repeated_header")
    + (TS_OTHER_UNIT,)
)
STATUS_CODES = {name: code for code, name in enumerate(STATUSES)}
REASON_OF_STATUS = {**{name: name for name in STATUSES}, TS_OTHER_UNIT: "timestamp_out_of_range"}

TIMESTAMP_UNITS = {"ms": 1000, "s": 1}
_UNIT_NAMES = {"ms": "epoch milliseconds", "s": "epoch seconds"}
_DELIMITER_WORDS = {"tab": "\t", "\\t": "\t", "comma": ",", "space": " ", "pipe": "|", "semicolon": ";"}
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
_GLOB_CHARS = re.compile(r"([\\{}\[\]*?])")

# Files the input listing does not read, by rule. Spark (and so Glue) never reads a file whose
# name starts with `_` or `.` (unless it has `=` or is Parquet's `_metadata`), nor one ending in
# `._COPYING_`, even when given its path: the job lists them instead of losing them silently.
SKIP_RULES = {
    "hidden_name": "the name starts with '_' or '.', which Spark and Glue never read; rename the file to read it",
    "incomplete_copy": "the name ends in '._COPYING_' (a copy still in progress); it is read once renamed",
    "not_listed_by_spark": "Spark's file listing left it out",
}

# Batch-input arguments: a job deployed before them does not pass them, so the Glue entry point
# resolves them only when given (their defaults write the users input alone, as before).
BATCH_ARGUMENT_NAMES = ("batch_inputs", "batch_items_top_n", "batch_items_per_file", "item_attribute_queries")
BATCH_INPUT_KINDS = ("users", "items", "item_attributes")
ITEMS_TOP_N_MAX = 50_000_000
ARGUMENT_NAMES = (
    "input_uri",
    "output_uri",
    "run_id",
    "min_rating",
    "delimiter",
    "has_header",
    "user_column",
    "item_column",
    "rating_column",
    "timestamp_column",
    "timestamp_unit",
    *BATCH_ARGUMENT_NAMES,
)
REQUIRED_ARGUMENTS = ("input_uri", "output_uri", "run_id")
COLUMN_ARGUMENTS = ("user_column", "item_column", "rating_column", "timestamp_column")


class EtlArgumentError(ValueError):
    """A job argument that cannot work; the message names the argument, the value and what is allowed."""


class EtlInputError(ValueError):
    """The input cannot be read as configured (missing, empty, unreadable, or not the expected layout)."""


class TrainingMinimumsError(RuntimeError):
    """The kept data is below Personalize's training minimums (or the batch-input limits)."""


@dataclass(frozen=True, kw_only=True)
class EtlOptions:
    """Typed job arguments. Build with `parse_options` from the Glue argument dict."""

    input_uri: str
    output_uri: str
    run_id: str
    min_rating: float = 3.5
    delimiter: str = "\t"
    has_header: bool = True
    user_column: str = "userID"
    item_column: str = "movieID"
    rating_column: str = "rating"
    timestamp_column: str = "timestamp"
    timestamp_unit: str = "ms"
    # The batch inputs to write (BATCH_INPUT_KINDS; item_attributes come from item_attribute_queries).
    batch_inputs: tuple[str, ...] = ("users",)
    # 0 = every item with a kept interaction; N = the N most interacted items (ties: item id ascending).
    batch_items_top_n: int = 0
    # Lines per items file: 0 = the cap of every batch-input file (batch_input_records_per_file()).
    batch_items_per_file: int = 0
    # Solution name -> its item-attribute queries, one batch-segment input line each.
    item_attribute_queries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Latest plausible event time (epoch seconds); None = now + 1 day at run time. Tests pin it.
    max_epoch_seconds: int | None = None

    @property
    def run_uri(self) -> str:
        return self.output_uri.rstrip("/") + "/" + self.run_id + "/"

    @property
    def interactions_uri(self) -> str:
        return self.run_uri + run_layout.INTERACTIONS

    @property
    def batch_input_uri(self) -> str:
        return self.run_uri + USERS_ENTRY

    @property
    def batch_input_items_uri(self) -> str:
        return self.run_uri + ITEMS_ENTRY

    def batch_input_queries_uri(self, solution: str) -> str:
        return self.run_uri + solutions.batch_input_entry("item_attributes", solution)

    @property
    def writes_users(self) -> bool:
        return "users" in self.batch_inputs

    @property
    def writes_items(self) -> bool:
        return "items" in self.batch_inputs

    @property
    def quarantine_uri(self) -> str:
        return self.run_uri + run_layout.QUARANTINE

    @property
    def summary_uri(self) -> str:
        return self.run_uri + run_layout.SUMMARY

    def as_arguments(self) -> dict[str, Any]:
        arguments = {name: getattr(self, name) for name in ARGUMENT_NAMES}
        arguments["batch_inputs"] = ",".join(self.batch_inputs)
        arguments["item_attribute_queries"] = {
            name: list(queries) for name, queries in self.item_attribute_queries.items()
        }
        return arguments


def _fail(name: str, value: Any, allowed: str) -> EtlArgumentError:
    return EtlArgumentError(f"job argument --{name} has value {value!r}; allowed: {allowed}")


def parse_delimiter(value: str) -> str:
    decoded = _DELIMITER_WORDS.get(value.lower() if len(value) > 1 else value, value)
    if len(decoded) != 1 or decoded in "\r\n" or decoded == '"':
        raise _fail("delimiter", value, 'one character (not a quote or newline), or "tab" / "\\t", "comma", "space"')
    return decoded


def _required_locations(values: Mapping[str, Any]) -> tuple[str, str, str]:
    """The required input_uri, output_uri and run_id, checked (and the output outside the input)."""
    for name in REQUIRED_ARGUMENTS:
        if not str(values.get(name) or "").strip():
            raise _fail(name, values.get(name), "a non-empty value (it is required)")
    input_uri, output_uri, run_id = (str(values[name]).strip() for name in REQUIRED_ARGUMENTS)
    if not _RUN_ID_RE.match(run_id):
        raise _fail(
            "run_id", run_id, "1-128 characters: letters, digits, '.', '_', '=', '-', starting with a letter or digit"
        )
    if output_uri.rstrip("/") + "/" + run_id + "/" == input_uri.rstrip("/") + "/" or (
        output_uri.rstrip("/") + "/"
    ).startswith(input_uri.rstrip("/") + "/"):
        raise _fail(
            "output_uri",
            output_uri,
            f"a location outside --input_uri ({input_uri}); outputs would be read back as input",
        )
    return input_uri, output_uri, run_id


def _optional_getter(values: Mapping[str, Any]) -> Callable[[str], Any]:
    """A lookup of an optional argument: its default when left out, an error when given empty."""
    defaults = EtlOptions(input_uri="-", output_uri="-", run_id="-")

    def get(name: str) -> Any:
        value = values.get(name)
        if value is None:
            return getattr(defaults, name)
        if value == "":
            raise _fail(
                name, value, f"a non-empty value (leave the argument out for the default {getattr(defaults, name)!r})"
            )
        return value

    return get


def _parse_min_rating(raw_rating: Any) -> float:
    try:
        min_rating = float(raw_rating)
    except (TypeError, ValueError):
        raise _fail("min_rating", raw_rating, f"a number from {RATING_MIN} to {RATING_MAX}") from None
    if not (math.isfinite(min_rating) and RATING_MIN <= min_rating <= RATING_MAX):
        raise _fail("min_rating", raw_rating, f"a number from {RATING_MIN} to {RATING_MAX}")
    return min_rating


def _parse_has_header(raw_header: Any) -> bool:
    if isinstance(raw_header, bool):
        return raw_header
    if str(raw_header).strip().lower() in _TRUE + _FALSE:
        return str(raw_header).strip().lower() in _TRUE
    raise _fail("has_header", raw_header, "true or false")


def _parse_columns(get: Callable[[str], Any], has_header: bool) -> dict[str, str]:
    columns = {}
    for name in COLUMN_ARGUMENTS:
        column = str(get(name)).strip()
        if not column:
            raise _fail(name, get(name), "a column name from the header, or a 0-based position")
        if not has_header and not column.isdigit():
            raise _fail(name, column, "a 0-based column position (a whole number), because --has_header is false")
        columns[name] = column
    if len(set(columns.values())) != len(columns):
        raise EtlArgumentError(
            f"job arguments --user_column/--item_column/--rating_column/--timestamp_column must differ; got {columns}"
        )
    return columns


def parse_options(args: Mapping[str, Any]) -> EtlOptions:
    """Builds EtlOptions from a Glue argument dict (keys with or without the leading `--`).

    An argument left out takes its default; one given with an empty value is an error (an empty
    `--delimiter` or `--min_rating` silently meaning the default hides a typo).
    Raises EtlArgumentError naming the first bad argument.
    """
    values = {key[2:] if key.startswith("--") else key: value for key, value in args.items()}
    input_uri, output_uri, run_id = _required_locations(values)
    get = _optional_getter(values)
    min_rating = _parse_min_rating(get("min_rating"))
    has_header = _parse_has_header(get("has_header"))

    unit = str(get("timestamp_unit")).strip().lower()
    if unit not in TIMESTAMP_UNITS:
        raise _fail("timestamp_unit", get("timestamp_unit"), "ms (epoch milliseconds) or s (epoch seconds)")

    columns = _parse_columns(get, has_header)
    batch_inputs = _parse_batch_inputs(get("batch_inputs"))
    queries = _parse_item_attribute_queries(get("item_attribute_queries"))
    if "item_attributes" in batch_inputs and not queries:
        raise _fail(
            "batch_inputs",
            get("batch_inputs"),
            "item_attributes only with the queries to write in --item_attribute_queries (it is {})",
        )
    return EtlOptions(
        input_uri=input_uri,
        output_uri=output_uri,
        run_id=run_id,
        min_rating=min_rating,
        delimiter=parse_delimiter(str(get("delimiter"))),
        has_header=has_header,
        timestamp_unit=unit,
        user_column=columns["user_column"],
        item_column=columns["item_column"],
        rating_column=columns["rating_column"],
        timestamp_column=columns["timestamp_column"],
        batch_inputs=batch_inputs,
        batch_items_top_n=_parse_whole_number(
            "batch_items_top_n",
            get("batch_items_top_n"),
            ITEMS_TOP_N_MAX,
            "0 (every item with a kept interaction) or N (the N most interacted items)",
        ),
        batch_items_per_file=_parse_whole_number(
            "batch_items_per_file",
            get("batch_items_per_file"),
            batch_input_records_per_file(),
            f"0 (at most {batch_input_records_per_file()} lines per file) or N (at most N lines per items file)",
        ),
        item_attribute_queries=queries,
    )


def _parse_batch_inputs(raw: Any) -> tuple[str, ...]:
    allowed = f"a comma-separated list of {', '.join(BATCH_INPUT_KINDS)} (at least one)"
    if isinstance(raw, (tuple, list)):
        names = [str(name).strip() for name in raw]
    else:
        names = [name.strip() for name in str(raw).split(",")]
    if not names or any(name not in BATCH_INPUT_KINDS for name in names):
        raise _fail("batch_inputs", raw, allowed)
    return tuple(dict.fromkeys(names))


def _parse_whole_number(name: str, raw: Any, maximum: int, meaning: str) -> int:
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isascii() or not text.isdigit() or int(text) > maximum:
        raise _fail(name, raw, f"a whole number from 0 to {maximum}: {meaning}")
    return int(text)


def _parse_item_attribute_queries(raw: Any) -> dict[str, tuple[str, ...]]:
    """{"<solution>": ["<query>", ...]} from its JSON text (or the mapping itself)."""
    allowed = (
        'a JSON object {"<solution>": ["<query>", ...]}: solution names as configured '
        f"({solutions.SOLUTION_NAME_PATTERN.pattern}), each with a list of distinct non-empty query strings"
    )
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as error:
        raise _fail("item_attribute_queries", raw, f"{allowed} (not JSON: {error})") from None
    if not isinstance(value, dict):
        raise _fail("item_attribute_queries", raw, allowed)
    parsed: dict[str, tuple[str, ...]] = {}
    for solution, queries in value.items():
        valid = (
            isinstance(solution, str)
            and solutions.SOLUTION_NAME_PATTERN.match(solution)
            and isinstance(queries, list)
            and queries
            and all(isinstance(query, str) and query.strip() for query in queries)
            and len(set(queries)) == len(queries)
        )
        if not valid:
            raise _fail("item_attribute_queries", raw, f"{allowed}; {solution!r} has {queries!r}")
        parsed[solution] = tuple(queries)
    return parsed



# --------------------------------------------------------------------------- the input, file by file


@dataclass(frozen=True)
class Layout:
    """Where the columns are in the files of one group: field count, header names, positions."""

    field_count: int
    header: tuple[str, ...] | None
    user_index: int
    item_index: int
    rating_index: int
    timestamp_index: int

    @property
    def positions(self) -> dict[str, int]:
        return {
            "user": self.user_index,
            "item": self.item_index,
            "rating": self.rating_index,
            "timestamp": self.timestamp_index,
        }


@dataclass
class LayoutGroup:
    """Files read together: one layout, the header lines met as their first lines."""

    layout: Layout
    files: list[str] = field(default_factory=list)
    header_lines: set[str] = field(default_factory=set)


@dataclass
class InputPlan:
    """What the driver found in the input before Spark reads it."""

    groups: list[LayoutGroup] = field(default_factory=list)
    blank_files: list[str] = field(default_factory=list)  # empty or only blank lines
    skipped: list[dict[str, str]] = field(default_factory=list)  # file, rule, why
    problems: list[dict[str, str]] = field(default_factory=list)  # file, problem

    @property
    def files_read(self) -> list[str]:
        return [path for group in self.groups for path in group.files] + self.blank_files

    def skip(self, path: str, rule: str) -> None:
        self.skipped.append({"file": path, "rule": rule, "why": SKIP_RULES[rule]})
        for files in [group.files for group in self.groups] + [self.blank_files]:
            if path in files:
                files.remove(path)

    def describe(self) -> dict[str, Any]:
        return {
            "files_read": len(self.files_read),
            "files_skipped": len(self.skipped),
            "layouts": [
                {"header": list(g.layout.header) if g.layout.header else None, "field_count": g.layout.field_count,
                 "positions": g.layout.positions, "files": g.files}
                for g in self.groups
            ],
            "blank_files": self.blank_files,
            "skipped": self.skipped,
            "problems": self.problems,
        }

    def raise_problems(self, input_uri: str) -> None:
        if self.problems:
            raise EtlInputError(
                files_message(f"{len(self.problems)} input file(s) cannot be used", self.problems, "problem")
            )
        if not self.groups:
            raise EtlInputError(
                f"--input_uri {input_uri} has no rows to read: {len(self.blank_files)} file(s) read, all empty or blank"
                + (f", {len(self.skipped)} skipped (see input.skipped)" if self.skipped else "")
            )


def files_message(lead: str, entries: list[dict[str, str]], key: str) -> str:
    """One line naming the first files and what is wrong with each."""
    named = "; ".join(f"{entry['file']}: {entry[key]}" for entry in entries[:MAX_FILES_IN_MESSAGE])
    more = f"; and {len(entries) - MAX_FILES_IN_MESSAGE} more" if len(entries) > MAX_FILES_IN_MESSAGE else ""
    return f"{lead}: {named}{more} (every file is listed in the run's {run_layout.SUMMARY})"


def skip_rule(name: str) -> str | None:
    """The rule by which Spark would leave a file out (its `shouldFilterOutPathName`), or None."""
    if name.endswith("._COPYING_"):
        return "incomplete_copy"
    hidden = (name.startswith("_") and "=" not in name) or name.startswith(".")
    if hidden and not name.startswith(("_metadata", "_common_metadata")):
        return "hidden_name"
    return None


def _java_message(error: Exception) -> str:
    """The one-line message of a Java exception raised through py4j (no stack trace)."""
    java = getattr(error, "java_exception", None)
    text = str(java.toString()) if java is not None else str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def _jvm(spark: SparkSession) -> Any:
    """The session's py4j view of the JVM (pyspark types it Optional: None only without a gateway)."""
    return spark._jvm


def _hadoop_path(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """(org.apache.hadoop.fs.Path, its FileSystem)."""
    jvm_path = _jvm(spark).org.apache.hadoop.fs.Path(path)
    return jvm_path, jvm_path.getFileSystem(spark._jsc.hadoopConfiguration())


def list_input_files(spark: SparkSession, input_uri: str) -> list[str]:
    """Every file under `input_uri` (a file, a folder, or a glob pattern when no such path
    exists), recursively, hidden names included. A path with glob characters is first taken
    literally, so `ratings[1].csv` is that file."""
    from py4j.protocol import Py4JJavaError

    try:
        root, fs = _hadoop_path(spark, input_uri)
        if fs.exists(root):
            roots = [fs.getFileStatus(root)]
        else:
            roots = list(fs.globStatus(root) or []) if _GLOB_CHARS.search(input_uri) else []
        if not roots:
            raise EtlInputError(f"--input_uri {input_uri} does not exist")
        files = []
        for status in roots:
            if not status.isDirectory():
                files.append(str(status.getPath().toString()))
                continue
            listing = fs.listFiles(status.getPath(), True)
            while listing.hasNext():
                files.append(str(listing.next().getPath().toString()))
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
    jvm_path, fs = _hadoop_path(spark, path)
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


def first_line(head: bytes) -> str | None:
    """The first non-blank line of a file's head (as Spark splits lines), None if there is none.
    Raises ValueError when it does not end within the head (no header is that long)."""
    lines = _LINE_BREAK.split(head.decode("utf-8", errors="replace"))
    complete = lines if len(head) < HEAD_BYTES else lines[:-1]
    for line in complete:
        if line.strip(" \t\ufeff"):
            return line.strip(" \t")
    if len(head) >= HEAD_BYTES:
        raise ValueError(f"no complete non-blank line in its first {HEAD_BYTES // 1024} KiB")
    return None


def _split_fields(line: str, delimiter: str) -> list[str]:
    fields = [part.strip() for part in line.split(delimiter)]
    return [fields[0].lstrip("\ufeff")] + fields[1:]


class LayoutMismatch(ValueError):
    """A file's first line does not have a configured column (by name, or at its position)."""

    def __init__(self, argument: str, column: str, fields: list[str], line: str) -> None:
        super().__init__(argument, column, fields, line)
        self.argument, self.column, self.fields, self.line = argument, column, fields, line

    def argument_message(self, options: EtlOptions, path: str) -> str:
        """When no file has the column: the argument is what is wrong."""
        if options.has_header:
            return (
                f"job argument --{self.argument} is {self.column!r}, which is not a column of the header of "
                f"{path} (delimiter {options.delimiter!r}): the header has "
                f"{', '.join(repr(n) for n in self.fields)}. Check --{self.argument}, --delimiter and --has_header."
            )
        return (
            f"job argument --{self.argument} is position {self.column}, but the first line of {path} "
            f"has {len(self.fields)} field(s) split by {options.delimiter!r}: {self.line[:200]!r}. "
            "Check the positions and --delimiter."
        )

    def file_problem(self, options: EtlOptions, working: LayoutGroup) -> str:
        """When other files have it: this file is what is wrong."""
        what = "header" if options.has_header else "first line"
        reference = options.delimiter.join(working.layout.header) if working.layout.header else None
        unlike = f" with header {reference!r}" if reference else f" ({working.layout.field_count} fields)"
        return (
            f"its {what} {self.line[:200]!r} has no column {self.column!r} (--{self.argument}), "
            f"unlike {working.files[0]}{unlike}"
        )


def file_layout(line: str, options: EtlOptions) -> Layout:
    """The layout of a file from its first non-blank line."""
    fields = _split_fields(line, options.delimiter)
    positions: dict[str, int] = {}
    for name in COLUMN_ARGUMENTS:
        column = getattr(options, name)
        if options.has_header and column in fields:
            positions[name] = fields.index(column)
        elif column.isdigit() and int(column) < len(fields):
            positions[name] = int(column)
        else:
            raise LayoutMismatch(name, column, fields, line)
    if len(set(positions.values())) != len(positions):
        raise EtlArgumentError(f"the column arguments resolve to the same position: {positions}")
    return Layout(
        field_count=len(fields),
        header=tuple(fields) if options.has_header else None,
        **{f"{name.split('_')[0]}_index": index for name, index in positions.items()},
    )


def _inspect_file(spark: SparkSession, path: str) -> tuple[str | None, str | None]:
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
        return first_line(head), None
    except ValueError as error:
        return None, str(error)


def plan_input(spark: SparkSession, options: EtlOptions) -> InputPlan:
    """Lists the input, applies the skip rules and groups the files by their own layout.

    Raises EtlArgumentError when no file names the configured columns (an argument problem);
    files that cannot be used go to `problems` (the caller fails the run naming them)."""
    from concurrent.futures import ThreadPoolExecutor

    plan = InputPlan()
    readable = []
    for path in list_input_files(spark, options.input_uri):
        rule = skip_rule(path.rstrip("/").rsplit("/", 1)[-1])
        if rule:
            plan.skip(path, rule)
        else:
            readable.append(path)
    # Opening a file on S3 takes tens of milliseconds: read the heads of many files in parallel.
    with ThreadPoolExecutor(max_workers=8) as pool:
        inspected = list(pool.map(lambda path: (path, *_inspect_file(spark, path)), readable))
    mismatches: list[tuple[str, LayoutMismatch]] = []
    by_layout: dict[Layout, LayoutGroup] = {}
    for path, line, problem in inspected:
        if problem:
            plan.problems.append({"file": path, "problem": problem})
        elif line is None:
            plan.blank_files.append(path)
        else:
            try:
                layout = file_layout(line, options)
            except LayoutMismatch as mismatch:
                mismatches.append((path, mismatch))
                continue
            group = by_layout.setdefault(layout, LayoutGroup(layout))
            group.files.append(path)
            if options.has_header:
                group.header_lines.add(line)
    plan.groups = list(by_layout.values())
    _report_mismatches(plan, mismatches, options)
    return plan


def _report_mismatches(plan: InputPlan, mismatches: list[tuple[str, LayoutMismatch]], options: EtlOptions) -> None:
    """A file without the configured columns means a wrong argument when no file has them, and a
    wrong file (named with its first line and a file that works) when others do."""
    if mismatches and not plan.groups:
        path, mismatch = mismatches[0]
        raise EtlArgumentError(mismatch.argument_message(options, path))
    for path, mismatch in mismatches:
        plan.problems.append({"file": path, "problem": mismatch.file_problem(options, plan.groups[0])})


def _glob_escaped(path: str) -> str:
    # Spark expands glob patterns in the paths it is given: a listed file is meant literally.
    return _GLOB_CHARS.sub(r"\\\1", path)


_URI_PARTS = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://([^/]*))?(.*)$", re.DOTALL)


def _path_key(path: str, *, url_encoded: bool) -> str:
    """A file's identity whatever its spelling: `file:/a b#1` (Hadoop) or `file:///a%20b%231` (Spark)."""
    match = _URI_PARTS.match(path)
    authority, rest = (match.group(1) or "", match.group(2)) if match else ("", path)
    return authority + (unquote(rest) if url_encoded else rest)


def read_group(spark: SparkSession, files: list[str], plan: InputPlan) -> DataFrame:
    """The text lines of a group's files; a file Spark's listing leaves out anyway is skipped
    (and listed) rather than lost."""
    raw = spark.read.text([_glob_escaped(path) for path in files])
    listed = {_path_key(path, url_encoded=True) for path in raw.inputFiles()}
    for path in files:
        if _path_key(path, url_encoded=False) not in listed:
            plan.skip(path, "not_listed_by_spark")
    return raw


# --------------------------------------------------------------------------- classification


def _split_pattern(delimiter: str) -> str:
    # Java regex for one literal character; a single plain char or "\x" keeps String.split's fast path.
    return delimiter if delimiter.isalnum() or delimiter.isspace() else "\\" + delimiter


# 10**0 .. 10**18: a whole number written with n digits (no sign, no leading zero) lies in
# [10**(n-1), 10**n).
_POWERS_OF_TEN = "array(" + ", ".join(f"{10**n}L" for n in range(19)) + ")"


def _id_number(name: str) -> Column:
    """The id as a whole number, or null: computed once per line, in the projection."""
    return F.expr(f"try_cast({name} AS BIGINT)").alias(f"{name}_number")


def _valid_id(name: str) -> Column:
    # The one id rule: the (space-trimmed) field matches ID_PATTERN exactly. Whole numbers (every
    # MovieLens ID) pass a cheaper check first: a digit 1-9 first, and as many bytes as the
    # number has digits. A cast alone would also accept "12" wrapped in tabs or control
    # characters (it trims them), which the CSV writer strips and the JSON batch input keeps.
    # Byte comparisons and octet_length allocate nothing (ascii() and length() would).
    # Needs the column `<name>_number` (`_id_number`).
    numeric = F.expr(
        f"{name} >= '1' AND {name} < ':' "
        f"AND {name}_number >= try_element_at({_POWERS_OF_TEN}, octet_length({name})) "
        f"AND {name}_number < try_element_at({_POWERS_OF_TEN}, octet_length({name}) + 1)"
    )
    return F.coalesce(numeric, F.lit(False)) | F.col(name).rlike(ID_PATTERN)


def _in_range(seconds: Column, max_epoch_seconds: int) -> Column:
    return (seconds >= MIN_EPOCH_SECONDS) & (seconds <= max_epoch_seconds)


def classify(raw: DataFrame, options: EtlOptions, group: LayoutGroup, *, max_epoch_seconds: int) -> DataFrame:
    """One row per input line of a group's files: `status` (a code of STATUSES: kept, filtered,
    header or a reject reason), the parsed user, item and timestamp in seconds, and the raw `line`.

    Every line is checked in a fixed order and gets the first failing reason; the common case (a
    good numeric row) costs one split, a few casts and comparisons. Expensive checks (trim,
    regular expressions) run only behind a cheap guard (`when`, `&` and `|` short-circuit).
    """
    layout = group.layout
    line = F.col("value")
    parts = F.split(line, _split_pattern(options.delimiter), -1)

    def field_at(index: int) -> Column:
        return F.trim(F.try_element_at(parts, F.lit(index + 1)))

    parsed = raw.select(
        line.alias("line"),
        F.size(parts).alias("n_fields"),
        field_at(layout.user_index).alias("user"),
        field_at(layout.item_index).alias("item"),
        field_at(layout.rating_index).alias("rating_text"),
        field_at(layout.timestamp_index).alias("ts_text"),
    ).select(
        "*",
        F.expr("try_cast(rating_text AS DOUBLE)").alias("rating"),
        F.expr("try_cast(ts_text AS BIGINT)").alias("ts_raw"),
        _id_number("user"),
        _id_number("item"),
    )
    v = F.col("line")
    stripped = F.regexp_replace(v, r"^[ \t\r]+|[ \t\r]+$", "")  # only evaluated behind a guard
    starts_blank = F.ascii(v).isin(9, 13, 32)
    blank = (F.length(v) == 0) | (starts_blank & (F.length(stripped) == 0))
    if group.header_lines:
        texts = sorted(group.header_lines | {text.lstrip("\ufeff") for text in group.header_lines})
        first_chars = sorted({ord(text[0]) for text in texts} | {9, 13, 32})
        is_header = F.ascii(v).isin(first_chars) & (v.isin(texts) | stripped.isin(texts))
    else:
        is_header = F.lit(False)
    empty = lambda name: F.col(name).isNull() | (F.col(name) == "")  # noqa: E731
    rating, ts = F.col("rating"), F.col("ts_raw")
    factor = TIMESTAMP_UNITS[options.timestamp_unit]
    ts_seconds = F.expr(f"ts_raw div {factor}")
    # Seconds read as milliseconds or the reverse: the same value in the other unit.
    ts_other_unit = F.expr(f"ts_raw div {TIMESTAMP_UNITS['s' if factor == 1000 else 'ms']}")
    code = STATUS_CODES
    status = (
        F.when(blank, code["blank_line"])
        .when(is_header, code[HEADER])
        .when(F.col("n_fields") != layout.field_count, code["wrong_field_count"])
        .when(empty("user") | empty("item") | empty("rating_text") | empty("ts_text"), code["missing_field"])
        .when(~_valid_id("user"), code["invalid_user_id"])
        .when(~_valid_id("item"), code["invalid_item_id"])
        .when(rating.isNull() | F.isnan(rating), code["non_numeric_rating"])
        .when(ts.isNull() & F.col("ts_text").rlike(r"^[+-]?[0-9]+$"), code["timestamp_out_of_range"])
        .when(ts.isNull(), code["non_numeric_timestamp"])
        .when((rating < RATING_MIN) | (rating > RATING_MAX), code["rating_out_of_range"])
        .when(
            ~_in_range(ts_seconds, max_epoch_seconds),
            F.when(_in_range(ts_other_unit, max_epoch_seconds), code[TS_OTHER_UNIT]).otherwise(
                code["timestamp_out_of_range"]
            ),
        )
        .when(rating < options.min_rating, code[FILTERED])
        .otherwise(code[KEPT])
    )
    return parsed.select(
        status.cast("tinyint").alias("status"),
        F.col("user"),
        F.col("item"),
        ts_seconds.alias("ts"),
        F.col("line"),
    )


def classify_input(spark: SparkSession, options: EtlOptions, plan: InputPlan, *, max_epoch_seconds: int) -> DataFrame:
    """All groups' classified lines; empty and blank-only files are read with the first group
    (their lines are blank whatever the layout)."""
    classified = []
    for index, group in enumerate(plan.groups):
        files = group.files + (plan.blank_files if index == 0 else [])
        raw = read_group(spark, files, plan)
        classified.append(classify(raw, options, group, max_epoch_seconds=max_epoch_seconds))
    result = classified[0]
    for other in classified[1:]:
        result = result.unionAll(other)
    return result


def aggregate(classified: DataFrame) -> DataFrame:
    """The single shuffle: groups kept lines by interaction, bad and header lines by (line, file),
    and filtered lines into one group. Columns: status, user, item, ts, line, source_file, n."""
    status = F.col("status")
    kept = status == STATUS_CODES[KEPT]
    keep_line = status >= STATUS_CODES[HEADER]  # header lines and rejections
    return classified.groupBy(
        status.alias("status"),
        F.when(kept, F.col("user")).alias("user"),
        F.when(kept, F.col("item")).alias("item"),
        F.when(kept, F.col("ts")).alias("ts"),
        F.when(keep_line, F.substring(F.col("line"), 1, MAX_QUARANTINE_LINE)).alias("line"),
        F.when(keep_line, F.input_file_name()).alias("source_file"),
    ).agg(F.count(F.lit(1)).alias("n"))


# --------------------------------------------------------------------------- outputs and counts


@dataclass(frozen=True)
class Outputs:
    interactions: DataFrame  # USER_ID, ITEM_ID, TIMESTAMP
    users: DataFrame  # user, interactions (one row per distinct user of the kept data)
    items: DataFrame  # item, interactions (one row per distinct item of the kept data)
    quarantine: DataFrame  # reason, line, source_file, occurrences


def batch_items(items: DataFrame, top_n: int) -> DataFrame:
    """The items batch input (column `itemId`): every item with a kept interaction (`top_n` 0), or
    the `top_n` items with the most kept interactions, ties by item id ascending (text order)."""
    if top_n:
        items = items.orderBy(F.desc("interactions"), F.asc("item")).limit(top_n)
    return items.select(F.col("item").alias("itemId"))


def build_outputs(grouped: DataFrame) -> Outputs:
    """The outputs as DataFrames over the (cached) aggregate."""
    status = F.col("status")
    kept = grouped.filter(status == STATUS_CODES[KEPT])
    interactions = kept.select(
        F.col("user").alias("USER_ID"), F.col("item").alias("ITEM_ID"), F.col("ts").alias("TIMESTAMP")
    )
    users = kept.groupBy("user").agg(F.count(F.lit(1)).alias("interactions"))
    items = kept.groupBy("item").agg(F.count(F.lit(1)).alias("interactions"))
    is_header = status == STATUS_CODES[HEADER]
    reason = F.element_at(F.array(*[F.lit(REASON_OF_STATUS[name]) for name in STATUSES]), status.cast("int") + 1)
    quarantine = grouped.filter((status > STATUS_CODES[HEADER]) | (is_header & (F.col("n") > 1))).select(
        F.when(is_header, F.lit("repeated_header")).otherwise(reason).alias("reason"),
        F.col("line"),
        F.col("source_file"),
        F.when(is_header, F.col("n") - 1).otherwise(F.col("n")).alias("occurrences"),
    )
    return Outputs(interactions=interactions, users=users, items=items, quarantine=quarantine)


def status_counts(grouped: DataFrame) -> dict[str, Any]:
    """One small action over the (cached) aggregate: lines and groups per status, and distinct
    items of the kept interactions (groups of `kept` are distinct interactions, groups of `header`
    are files with a header)."""
    rows = (
        grouped.groupBy("status")
        .agg(F.sum("n").alias("lines"), F.count(F.lit(1)).alias("groups"), F.countDistinct("item").alias("items"))
        .collect()
    )
    metrics: dict[str, Any] = {}
    for row in rows:
        name = STATUSES[row["status"]]
        metrics[f"lines_{name}"], metrics[f"groups_{name}"] = row["lines"], row["groups"]
        if name == KEPT:
            metrics["distinct_items"] = row["items"]
    return metrics


def user_metrics() -> list[Column]:
    """Aggregates over the per-user counts, observed while the batch input is written."""
    return [
        F.count(F.lit(1)).alias("distinct_users"),
        F.sum(F.when(F.col("interactions") >= 2, F.lit(1))).alias("users_2plus"),
        # Bytes of the JSON lines written: {"userId":"<id>"} plus a newline (IDs are ASCII).
        F.sum(F.length("user") + 14).alias("batch_input_bytes"),
        F.sum("interactions").alias("kept"),
    ]


def assemble_counts(status: Mapping[str, Any], users: Mapping[str, Any]) -> dict[str, Any]:
    """The summary's counts from the status counts and the users' observed metrics; checks that
    they add up."""
    get = lambda metrics, key: int(metrics.get(key) or 0)  # noqa: E731  (a sum over no rows is null)
    header_lines, expected_headers = get(status, f"lines_{HEADER}"), get(status, f"groups_{HEADER}")
    rejected = dict.fromkeys(REJECT_REASONS, 0)
    for name in STATUSES[STATUS_CODES[HEADER] + 1 :]:
        rejected[REASON_OF_STATUS[name]] += get(status, f"lines_{name}")
    rejected["repeated_header"] = header_lines - expected_headers
    kept = get(status, f"groups_{KEPT}")
    lines_read = sum(get(status, f"lines_{s}") for s in STATUSES)
    counts: dict[str, Any] = {
        "lines_read": lines_read,
        "header_lines": header_lines,
        "expected_header_lines": expected_headers,
        "rows_read": lines_read - expected_headers,
        "kept": kept,
        "filtered_by_rating": get(status, f"lines_{FILTERED}"),
        "duplicates": get(status, f"lines_{KEPT}") - kept,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "timestamp_in_range_in_other_unit": get(status, f"lines_{TS_OTHER_UNIT}"),
        "distinct_users": get(users, "distinct_users"),
        "distinct_items": get(status, "distinct_items"),
        "users_with_2plus_interactions": get(users, "users_2plus"),
        "batch_input_bytes": get(users, "batch_input_bytes"),
    }
    accounted = counts["kept"] + counts["filtered_by_rating"] + counts["duplicates"] + counts["rejected"]
    if accounted != counts["rows_read"] or get(users, "kept") != kept:  # a status missed above
        raise AssertionError(f"counts do not add up: {counts}, users: {dict(users)}")
    return counts


def check_minimums(counts: Mapping[str, Any]) -> list[str]:
    """Problems that make the run unusable for training (empty when the data is fine)."""
    problems = []
    if counts["kept"] < MIN_INTERACTIONS:
        problems.append(f"{counts['kept']} interactions kept (Personalize needs at least {MIN_INTERACTIONS})")
    if counts["users_with_2plus_interactions"] < MIN_USERS_WITH_2_INTERACTIONS:
        problems.append(
            f"{counts['users_with_2plus_interactions']} users with 2 or more interactions "
            f"(Personalize needs at least {MIN_USERS_WITH_2_INTERACTIONS})"
        )
    # No check of the batch input's bytes or files against one job's limits (1 GB, 1000 files):
    # batch planning splits an input over as many jobs as it needs.
    return problems


def timestamp_hint(counts: Mapping[str, Any], unit: str) -> str | None:
    """When most rows have timestamps out of range and most of those fit the other unit, which
    --timestamp_unit would read them (seconds data read as ms lands in 1970, and the reverse far
    in the future)."""
    out_of_range = counts["rejected_by_reason"]["timestamp_out_of_range"]
    other_fits = counts["timestamp_in_range_in_other_unit"]
    if not (out_of_range * 2 > counts["rows_read"] and other_fits * 2 > out_of_range):
        return None
    other = "s" if unit == "ms" else "ms"
    return (
        f"{out_of_range} of {counts['rows_read']} rows have timestamps out of range as {_UNIT_NAMES[unit]} "
        f"(--timestamp_unit {unit}); {other_fits} of them are in range as {_UNIT_NAMES[other]}: "
        f"run with --timestamp_unit {other}"
    )


def batch_input_records_per_file() -> int:
    """Lines per batch-input file: Personalize's limit, or less so one post-processing invocation
    finishes each file within Lambda's 15 minutes."""
    return min(BATCH_INPUT_MAX_USERS_PER_FILE, BATCH_INPUT_MAX_RECORDS_PER_FILE)


def _writer(df: DataFrame, partitions: int) -> DataFrameWriter:
    return (
        df.coalesce(max(1, partitions))
        .write.mode("overwrite")
        # No _SUCCESS marker in the folders Personalize reads (a writer option reaches the Hadoop conf).
        .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .option("compression", "none")
    )


def data_file_names(spark: SparkSession, folder_uri: str) -> list[str]:
    """The names of the files written in an output folder (Personalize reads every object under
    the prefix; names Spark and Personalize leave alone, `_`/`.`, are not data)."""
    folder, fs = _hadoop_path(spark, folder_uri)
    names = (str(status.getPath().getName()) for status in fs.listStatus(folder) if status.isFile())
    return sorted(name for name in names if not name.startswith(("_", ".")))


def lines_per_file(spark: SparkSession, folder_uri: str, entry: str) -> dict[str, int]:
    """{key relative to the run folder: lines} of every file written in a JSON-lines output folder,
    read back (Spark decides how rows fall into files; an empty file counts 0)."""
    names = data_file_names(spark, folder_uri)
    counts = dict.fromkeys(names, 0)
    if names:
        rows = (
            spark.read.text(folder_uri)
            .groupBy(F.input_file_name().alias("file"))
            .agg(F.count(F.lit(1)).alias("lines"))
            .collect()
        )
        for row in rows:
            counts[_path_key(row["file"], url_encoded=True).rsplit("/", 1)[-1]] = row["lines"]
    return {entry + name: counts[name] for name in names}


def batch_input_section(files: Mapping[str, int], **details: Any) -> dict[str, Any]:
    """One input of the summary's `batch_inputs`: total lines and lines per file (and details)."""
    return {"records": sum(files.values()), "files": dict(files), **details}


def items_rule(options: EtlOptions) -> str:
    if options.batch_items_top_n:
        return f"the {options.batch_items_top_n} items with the most kept interactions (ties: item id ascending)"
    return "every item with at least one kept interaction"


def items_records_per_file(options: EtlOptions) -> int:
    return min(batch_input_records_per_file(), options.batch_items_per_file or batch_input_records_per_file())


def write_queries(options: EtlOptions) -> dict[str, dict[str, Any]]:
    """Each item-attribute-affinity solution's queries files (`solutions.query_files`: at most 10 queries a
    file, the most one batch segment job reads): one {"itemAttributes"} JSON line per query (json.dumps
    escapes quotes, backslashes and control characters)."""
    sections = {}
    for solution, queries in options.item_attribute_queries.items():
        entry = solutions.batch_input_entry("item_attributes", solution)
        counts = {}
        for name, file_queries in solutions.query_files(queries).items():
            body = "".join(json.dumps({"itemAttributes": query}) + "\n" for query in file_queries)
            write_text(options.run_uri + entry + name, body, "application/json")
            counts[entry + name] = len(file_queries)
        sections[solution] = batch_input_section(counts)
    return sections


def write_outputs(
    spark: SparkSession, grouped: DataFrame, options: EtlOptions
) -> tuple[dict[str, Any], dict[str, int], dict[str, Any]]:
    """Writes interactions (CSV with header), the requested batch inputs and quarantine (JSON
    lines) from the cached aggregate, and counts: the user metrics are observed while the users
    batch input is written (one aggregation otherwise), the rest is one small aggregation.
    Returns (counts, files asked for per output, the summary's `batch_inputs`)."""
    outputs = build_outputs(grouped)
    # Few files: at most one per core (adaptive execution already merges small shuffle partitions,
    # so small data gives one file); quarantine in one.
    parallel = max(1, min(spark.sparkContext.defaultParallelism, 100))
    files = {"interactions": parallel, "quarantine": 1}
    _writer(outputs.interactions, files["interactions"]).option("header", "true").csv(options.interactions_uri)
    inputs: dict[str, Any] = {}
    if options.writes_users:
        files["batch_input"] = parallel
        observed_users = Observation()
        users = outputs.users.observe(observed_users, *user_metrics()).select(F.col("user").alias("userId"))
        _writer(users, files["batch_input"]).option("maxRecordsPerFile", batch_input_records_per_file()).json(
            options.batch_input_uri
        )
        user_counts = observed_users.get
        inputs["users"] = batch_input_section(
            lines_per_file(spark, options.batch_input_uri, USERS_ENTRY), folder=USERS_ENTRY
        )
    else:
        user_counts = outputs.users.agg(*user_metrics()).collect()[0].asDict()
    if options.writes_items:
        files["batch_input_items"] = parallel
        _writer(batch_items(outputs.items, options.batch_items_top_n), parallel).option(
            "maxRecordsPerFile", items_records_per_file(options)
        ).json(options.batch_input_items_uri)
        inputs["items"] = batch_input_section(
            lines_per_file(spark, options.batch_input_items_uri, ITEMS_ENTRY),
            folder=ITEMS_ENTRY,
            rule=items_rule(options),
            records_per_file_max=items_records_per_file(options),
        )
    if options.item_attribute_queries:
        inputs["item_attributes"] = write_queries(options)
    _writer(outputs.quarantine, files["quarantine"]).json(options.quarantine_uri)
    counts = assemble_counts(status_counts(grouped), user_counts)
    counts["batch_input_files"] = len(inputs["users"]["files"]) if "users" in inputs else 0
    return counts, files, inputs


# --------------------------------------------------------------------------- the run


def log(message: str) -> None:
    """A line in the job's log (stderr: the Glue job's error log in CloudWatch, the terminal locally)."""
    print(f"[transform] {message}", file=sys.stderr, flush=True)


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


def transform_input(
    spark: SparkSession, options: EtlOptions, plan: InputPlan, max_epoch: int
) -> tuple[dict[str, Any], dict[str, int], dict[str, Any]]:
    """Classifies, aggregates and writes; a file that fails mid-read becomes an EtlInputError naming it."""
    grouped = aggregate(classify_input(spark, options, plan, max_epoch_seconds=max_epoch)).cache()
    try:
        return write_outputs(spark, grouped, options)
    except Exception:
        broken = unreadable_files(spark, plan.files_read)
        if not broken:
            raise
        plan.problems.extend(broken)
        raise EtlInputError(files_message(f"{len(broken)} input file(s) cannot be read", broken, "problem")) from None
    finally:
        grouped.unpersist()


def new_summary(options: EtlOptions, started: float, max_epoch: int) -> dict[str, Any]:
    queries = options.item_attribute_queries
    return {
        "run_id": options.run_id,
        "status": "RUNNING",
        "failure": None,
        "message": None,
        "hints": [],
        "arguments": options.as_arguments(),
        "input": {"uri": options.input_uri, "timestamp_range_seconds": [MIN_EPOCH_SECONDS, max_epoch]},
        "counts": None,
        "minimums": {
            "interactions": MIN_INTERACTIONS,
            "users_with_2plus_interactions": MIN_USERS_WITH_2_INTERACTIONS,
            "batch_input_max_bytes": BATCH_INPUT_MAX_BYTES,
            "batch_input_max_files": BATCH_INPUT_MAX_FILES,
            "batch_input_max_records_per_file": batch_input_records_per_file(),
            "met": None,
        },
        "batch_inputs": None,
        "outputs": {
            "run": options.run_uri,
            "interactions": options.interactions_uri,
            "batch_input": options.batch_input_uri if options.writes_users else None,
            **({"batch_input_items": options.batch_input_items_uri} if options.writes_items else {}),
            **(
                {"batch_input_queries": {name: options.batch_input_queries_uri(name) for name in queries}}
                if queries
                else {}
            ),
            "quarantine": options.quarantine_uri,
            "summary": options.summary_uri,
            "max_files": None,
        },
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "duration_seconds": None,
    }


def _finish(summary: dict[str, Any], started: float, failure: str | None, message: str | None, write: bool) -> None:
    summary.update(status="FAILED" if failure else "SUCCEEDED", failure=failure, message=message)
    summary["duration_seconds"] = round(time.time() - started, 3)
    if write:
        write_summary(summary, summary["outputs"]["summary"])


def _log_plan(plan: InputPlan) -> None:
    log(f"{len(plan.files_read)} file(s) to read in {len(plan.groups)} layout(s), {len(plan.skipped)} skipped")
    for entry in plan.skipped:
        log(f"skipped {entry['file']} ({entry['rule']}: {entry['why']})")


def _minimums_message(problems: list[str], options: EtlOptions) -> str:
    return (
        "Kept data cannot be used by Amazon Personalize: " + "; ".join(problems) + f". See {options.summary_uri} "
        f"and the rejected rows in {options.quarantine_uri}; nothing should be imported from this run."
    )


def run(spark: SparkSession, options: EtlOptions, *, write_summary_file: bool = True) -> dict[str, Any]:
    """The whole job: plan the input, read, classify, aggregate, write outputs and `_summary.json`.

    Raises, after the summary is written: EtlInputError (failure "input") when a file cannot be
    used or nothing can be read, TrainingMinimumsError (failure "minimums") when the kept data
    cannot train a model or exceeds the batch-input limits. EtlArgumentError (before any output)
    when the arguments do not fit the input.
    """
    started = time.time()
    max_epoch = options.max_epoch_seconds or int(started) + 86_400
    summary = new_summary(options, started, max_epoch)
    plan = InputPlan()
    try:
        plan = plan_input(spark, options)
        _log_plan(plan)
        plan.raise_problems(options.input_uri)
        counts, files, batch_inputs = transform_input(spark, options, plan, max_epoch)
    except EtlInputError as error:
        summary["input"].update(plan.describe())
        _finish(summary, started, "input", f"{error}. Nothing should be imported from this run.", write_summary_file)
        log(f"FAILED: {error}")
        raise
    summary["input"].update(plan.describe())
    hint = timestamp_hint(counts, options.timestamp_unit)
    summary["hints"] = [hint] if hint else []
    for line in summary["hints"]:
        log(f"hint: {line}")
    problems = check_minimums(counts)
    message = _minimums_message(problems + summary["hints"], options) if problems else None
    summary["counts"], summary["outputs"]["max_files"] = counts, files
    summary["batch_inputs"] = batch_inputs
    summary["minimums"]["met"] = not problems
    _finish(summary, started, "minimums" if problems else None, message, write_summary_file)
    if problems:
        raise TrainingMinimumsError(message)
    return summary


def write_summary(summary: Mapping[str, Any], uri: str) -> None:
    """Writes the summary JSON to `s3://bucket/key` (boto3, as on Glue) or to a local path."""
    write_text(uri, json.dumps(summary, indent=2, sort_keys=False), "application/json")


def write_text(uri: str, text: str, content_type: str) -> None:
    """Writes one small object: to `s3://bucket/key` with boto3 (on Glue), or to a local path."""
    body = text.encode("utf-8")
    if uri.startswith(("s3://", "s3a://", "s3n://")):
        import boto3  # only where the object goes to S3 (on Glue, boto3 is installed)

        bucket, _, key = uri.split("://", 1)[1].partition("/")
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        return
    path = uri[len("file://") :] if uri.startswith("file://") else uri
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(body)
