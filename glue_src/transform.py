"""Raw ratings -> Amazon Personalize inputs, as pure PySpark (no Python UDFs on the row path).

The same module runs on AWS Glue 5.0 (imported by `job.py` as the top-level module `transform`,
from the zip passed in `--extra-py-files`) and locally (`glue_src.transform`). It imports nothing
from the `glue_src` package and nothing Glue-specific.

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
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from pyspark.sql import Column, DataFrame, DataFrameWriter, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

# Amazon Personalize training minimums and batch-inference input limits.
MIN_INTERACTIONS = 1000
MIN_USERS_WITH_2_INTERACTIONS = 25
BATCH_INPUT_MAX_BYTES = 1024**3
BATCH_INPUT_MAX_FILES = 1000
# About 1 minute of post-processing per file on the fast path, 6.5 at worst (benchmarks/postprocess.py).
BATCH_INPUT_MAX_USERS_PER_FILE = 5_000_000

RATING_MIN, RATING_MAX = 0.5, 5.0
# 1995-01-01T00:00:00Z: MovieLens starts in 1995; anything earlier is a unit or data error.
MIN_EPOCH_SECONDS = 788_918_400
# Quarantine keeps the first characters of a bad line (a binary file read as text can have huge ones).
MAX_QUARANTINE_LINE = 4096
# IDs are written unquoted to CSV and JSON: letters, digits and a few safe punctuation marks.
ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,256}$"

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

# Status codes of a classified line, in this order: kept, filtered, header, then the reasons
# (codes > header are rejections; "repeated_header" is derived from header lines per file).
STATUSES = (KEPT, FILTERED, HEADER) + tuple(reason for reason in REJECT_REASONS if reason != "repeated_header")
STATUS_CODES = {name: code for code, name in enumerate(STATUSES)}

TIMESTAMP_UNITS = {"ms": 1000, "s": 1}
_DELIMITER_WORDS = {"tab": "\t", "\\t": "\t", "comma": ",", "space": " ", "pipe": "|", "semicolon": ";"}
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")

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
)
REQUIRED_ARGUMENTS = ("input_uri", "output_uri", "run_id")


class EtlArgumentError(ValueError):
    """A job argument that cannot work; the message names the argument, the value and what is allowed."""


class EtlInputError(ValueError):
    """The input cannot be read as configured (missing, empty, or not the expected layout)."""


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
    # Latest plausible event time (epoch seconds); None = now + 1 day at run time. Tests pin it.
    max_epoch_seconds: int | None = None

    @property
    def run_uri(self) -> str:
        return self.output_uri.rstrip("/") + "/" + self.run_id + "/"

    @property
    def interactions_uri(self) -> str:
        return self.run_uri + "interactions/"

    @property
    def batch_input_uri(self) -> str:
        return self.run_uri + "batch-input/"

    @property
    def quarantine_uri(self) -> str:
        return self.run_uri + "quarantine/"

    @property
    def summary_uri(self) -> str:
        return self.run_uri + "_summary.json"

    def as_arguments(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ARGUMENT_NAMES}


def _fail(name: str, value: Any, allowed: str) -> EtlArgumentError:
    return EtlArgumentError(f"job argument --{name} has value {value!r}; allowed: {allowed}")


def parse_delimiter(value: str) -> str:
    decoded = _DELIMITER_WORDS.get(value.lower() if len(value) > 1 else value, value)
    if len(decoded) != 1 or decoded in "\r\n" or decoded == '"':
        raise _fail("delimiter", value, 'one character (not a quote or newline), or "tab" / "\\t", "comma", "space"')
    return decoded


def parse_options(args: Mapping[str, Any]) -> EtlOptions:
    """Builds EtlOptions from a Glue argument dict (keys with or without the leading `--`).

    Raises EtlArgumentError naming the first bad argument.
    """
    values = {key[2:] if key.startswith("--") else key: value for key, value in args.items()}
    for name in REQUIRED_ARGUMENTS:
        if not str(values.get(name) or "").strip():
            raise _fail(name, values.get(name), "a non-empty value (it is required)")
    defaults = EtlOptions(input_uri="-", output_uri="-", run_id="-")

    def get(name: str) -> Any:
        value = values.get(name)
        return getattr(defaults, name) if value is None or value == "" else value

    input_uri, output_uri, run_id = (str(values[name]).strip() for name in REQUIRED_ARGUMENTS)
    if not _RUN_ID_RE.match(run_id):
        raise _fail("run_id", run_id, "1-128 characters: letters, digits, '.', '_', '=', '-', starting with a letter or digit")
    if output_uri.rstrip("/") + "/" + run_id + "/" == input_uri.rstrip("/") + "/" or (
        output_uri.rstrip("/") + "/"
    ).startswith(input_uri.rstrip("/") + "/"):
        raise _fail("output_uri", output_uri, f"a location outside --input_uri ({input_uri}); outputs would be read back as input")

    raw_rating = get("min_rating")
    try:
        min_rating = float(raw_rating)
    except (TypeError, ValueError):
        raise _fail("min_rating", raw_rating, f"a number from {RATING_MIN} to {RATING_MAX}") from None
    if not (math.isfinite(min_rating) and RATING_MIN <= min_rating <= RATING_MAX):
        raise _fail("min_rating", raw_rating, f"a number from {RATING_MIN} to {RATING_MAX}")

    raw_header = get("has_header")
    if isinstance(raw_header, bool):
        has_header = raw_header
    elif str(raw_header).strip().lower() in _TRUE + _FALSE:
        has_header = str(raw_header).strip().lower() in _TRUE
    else:
        raise _fail("has_header", raw_header, "true or false")

    unit = str(get("timestamp_unit")).strip().lower()
    if unit not in TIMESTAMP_UNITS:
        raise _fail("timestamp_unit", get("timestamp_unit"), "ms (epoch milliseconds) or s (epoch seconds)")

    columns = {}
    for name in ("user_column", "item_column", "rating_column", "timestamp_column"):
        column = str(get(name)).strip()
        if not column:
            raise _fail(name, get(name), "a column name from the header, or a 0-based position")
        if not has_header and not column.isdigit():
            raise _fail(name, column, "a 0-based column position (a whole number), because --has_header is false")
        columns[name] = column
    if len(set(columns.values())) != len(columns):
        raise EtlArgumentError(f"job arguments --user_column/--item_column/--rating_column/--timestamp_column must differ; got {columns}")

    return EtlOptions(
        input_uri=input_uri,
        output_uri=output_uri,
        run_id=run_id,
        min_rating=min_rating,
        delimiter=parse_delimiter(str(get("delimiter"))),
        has_header=has_header,
        timestamp_unit=unit,
        **columns,
    )


@dataclass(frozen=True)
class Layout:
    """What the first line of the input says: field count, header text and column positions."""

    field_count: int
    header_line: str | None
    header: tuple[str, ...] | None
    user_index: int
    item_index: int
    rating_index: int
    timestamp_index: int


def _split_pattern(delimiter: str) -> str:
    # Java regex for one literal character; a single plain char or "\x" keeps String.split's fast path.
    return delimiter if delimiter.isalnum() or delimiter.isspace() else "\\" + delimiter


def read_raw(spark: SparkSession, options: EtlOptions) -> DataFrame:
    """The input as text lines (column `value`), every file under `input_uri`."""
    try:
        return spark.read.option("recursiveFileLookup", "true").text(options.input_uri)
    except AnalysisException as error:
        raise EtlInputError(f"cannot read --input_uri {options.input_uri}: {error}") from None


def inspect_layout(raw: DataFrame, options: EtlOptions) -> Layout:
    """Reads the first non-blank line (one small Spark job) and resolves the column arguments."""
    first = raw.filter(F.length(F.trim(F.translate("value", "\t\r", "  "))) > 0).limit(1).collect()
    if not first:
        raise EtlInputError(f"--input_uri {options.input_uri} has no files or only blank lines")
    line = first[0]["value"].strip(" \t\r")
    fields = [field.strip() for field in line.split(options.delimiter)]
    arguments = {
        "user_column": options.user_column,
        "item_column": options.item_column,
        "rating_column": options.rating_column,
        "timestamp_column": options.timestamp_column,
    }
    positions: dict[str, int] = {}
    if options.has_header:
        names = [fields[0].lstrip("\ufeff")] + fields[1:]
        for name, column in arguments.items():
            if column in names:
                positions[name] = names.index(column)
            elif column.isdigit() and int(column) < len(names):
                positions[name] = int(column)
            else:
                raise EtlArgumentError(
                    f"job argument --{name} is {column!r}, which is not a column of the header of "
                    f"{options.input_uri} (delimiter {options.delimiter!r}): the header has "
                    f"{', '.join(repr(n) for n in names)}. Check --{name}, --delimiter and --has_header."
                )
        header: tuple[str, ...] | None = tuple(names)
    else:
        for name, column in arguments.items():
            if int(column) >= len(fields):
                raise EtlArgumentError(
                    f"job argument --{name} is position {column}, but the first line of {options.input_uri} "
                    f"has {len(fields)} field(s) split by {options.delimiter!r}: {line[:200]!r}. "
                    "Check the positions and --delimiter."
                )
            positions[name] = int(column)
        header = None
    if len(set(positions.values())) != len(positions):
        raise EtlArgumentError(f"the column arguments resolve to the same position: {positions}")
    return Layout(
        field_count=len(fields),
        header_line=line if options.has_header else None,
        header=header,
        user_index=positions["user_column"],
        item_index=positions["item_column"],
        rating_index=positions["rating_column"],
        timestamp_index=positions["timestamp_column"],
    )


def _valid_id(name: str) -> Column:
    # Whole numbers (every MovieLens ID) pass on a cheap cast; anything else must match the pattern.
    return F.expr(f"try_cast({name} AS BIGINT)").isNotNull() | F.col(name).rlike(ID_PATTERN)


def classify(raw: DataFrame, options: EtlOptions, layout: Layout, *, max_epoch_seconds: int) -> DataFrame:
    """One row per input line: `status` (a code of STATUSES: kept, filtered, header or a reject
    reason), the parsed user, item and timestamp in seconds, and the raw `line`.

    Every line is checked in a fixed order and gets the first failing reason; the common case (a
    good numeric row) costs one split, three casts and a few comparisons. Expensive checks (trim,
    regular expressions) run only behind a cheap guard (`when`, `&` and `|` short-circuit).
    """
    line = F.col("value")
    parts = F.split(line, _split_pattern(options.delimiter), -1)

    def field(index: int) -> Column:
        return F.trim(F.try_element_at(parts, F.lit(index + 1)))

    parsed = raw.select(
        line.alias("line"),
        F.size(parts).alias("n_fields"),
        field(layout.user_index).alias("user"),
        field(layout.item_index).alias("item"),
        field(layout.rating_index).alias("rating_text"),
        field(layout.timestamp_index).alias("ts_text"),
    ).select(
        "*",
        F.expr("try_cast(rating_text AS DOUBLE)").alias("rating"),
        F.expr("try_cast(ts_text AS BIGINT)").alias("ts_raw"),
    )
    v = F.col("line")
    stripped = F.regexp_replace(v, r"^[ \t\r]+|[ \t\r]+$", "")  # only evaluated behind a guard
    starts_blank = F.ascii(v).isin(9, 13, 32)
    blank = (F.length(v) == 0) | (starts_blank & (F.length(stripped) == 0))
    if layout.header_line is not None:
        texts = sorted({layout.header_line, layout.header_line.lstrip("\ufeff")})
        first_chars = sorted({ord(text[0]) for text in texts} | {9, 13, 32})
        is_header = F.ascii(v).isin(first_chars) & (v.isin(texts) | stripped.isin(texts))
    else:
        is_header = F.lit(False)
    empty = lambda name: F.col(name).isNull() | (F.col(name) == "")  # noqa: E731
    rating, ts = F.col("rating"), F.col("ts_raw")
    ts_seconds = F.expr(f"ts_raw div {TIMESTAMP_UNITS[options.timestamp_unit]}")
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
        .when((ts_seconds < MIN_EPOCH_SECONDS) | (ts_seconds > max_epoch_seconds), code["timestamp_out_of_range"])
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


@dataclass(frozen=True)
class Outputs:
    interactions: DataFrame  # USER_ID, ITEM_ID, TIMESTAMP
    users: DataFrame  # user, interactions (one row per distinct user of the kept data)
    quarantine: DataFrame  # reason, line, source_file, occurrences


def build_outputs(grouped: DataFrame) -> Outputs:
    """The three outputs as DataFrames over the (cached) aggregate."""
    status = F.col("status")
    kept = grouped.filter(status == STATUS_CODES[KEPT])
    interactions = kept.select(
        F.col("user").alias("USER_ID"), F.col("item").alias("ITEM_ID"), F.col("ts").alias("TIMESTAMP")
    )
    users = kept.groupBy("user").agg(F.count(F.lit(1)).alias("interactions"))
    is_header = status == STATUS_CODES[HEADER]
    reason = F.element_at(F.array(*[F.lit(name) for name in STATUSES]), status.cast("int") + 1)
    quarantine = grouped.filter((status > STATUS_CODES[HEADER]) | (is_header & (F.col("n") > 1))).select(
        F.when(is_header, F.lit("repeated_header")).otherwise(reason).alias("reason"),
        F.col("line"),
        F.col("source_file"),
        F.when(is_header, F.col("n") - 1).otherwise(F.col("n")).alias("occurrences"),
    )
    return Outputs(interactions=interactions, users=users, quarantine=quarantine)


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
    rejected = {reason: get(status, f"lines_{reason}") for reason in REJECT_REASONS}
    rejected["repeated_header"] = header_lines - expected_headers
    kept = get(status, f"groups_{KEPT}")
    lines_read = sum(get(status, f"lines_{s}") for s in STATUSES)
    counts = {
        "lines_read": lines_read,
        "header_lines": header_lines,
        "expected_header_lines": expected_headers,
        "rows_read": lines_read - expected_headers,
        "kept": kept,
        "filtered_by_rating": get(status, f"lines_{FILTERED}"),
        "duplicates": get(status, f"lines_{KEPT}") - kept,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
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
    """Problems that make the run unusable for Personalize (empty when the data is fine)."""
    problems = []
    if counts["kept"] < MIN_INTERACTIONS:
        problems.append(f"{counts['kept']} interactions kept (Personalize needs at least {MIN_INTERACTIONS})")
    if counts["users_with_2plus_interactions"] < MIN_USERS_WITH_2_INTERACTIONS:
        problems.append(
            f"{counts['users_with_2plus_interactions']} users with 2 or more interactions "
            f"(Personalize needs at least {MIN_USERS_WITH_2_INTERACTIONS})"
        )
    if counts["batch_input_bytes"] > BATCH_INPUT_MAX_BYTES:
        problems.append(
            f"batch input of {counts['batch_input_bytes']} bytes (batch inference accepts at most {BATCH_INPUT_MAX_BYTES})"
        )
    return problems


def _writer(df: DataFrame, partitions: int) -> DataFrameWriter:
    return (
        df.coalesce(max(1, partitions))
        .write.mode("overwrite")
        # No _SUCCESS marker in the folders Personalize reads (a writer option reaches the Hadoop conf).
        .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .option("compression", "none")
    )


def write_outputs(spark: SparkSession, grouped: DataFrame, options: EtlOptions) -> tuple[dict[str, Any], dict[str, int]]:
    """Writes interactions (CSV with header), batch input and quarantine (JSON lines) from the
    cached aggregate, and counts: the user metrics are observed while the batch input is written,
    the rest is one small aggregation. Returns (counts, files asked for per output)."""
    outputs = build_outputs(grouped)
    # Few files: at most one per core (adaptive execution already merges small shuffle partitions,
    # so small data gives one file), never more than batch inference accepts; quarantine in one.
    parallel = max(1, min(spark.sparkContext.defaultParallelism, 100, BATCH_INPUT_MAX_FILES))
    files = {"interactions": parallel, "batch_input": parallel, "quarantine": 1}
    _writer(outputs.interactions, files["interactions"]).option("header", "true").csv(options.interactions_uri)
    observed_users = Observation()
    users = outputs.users.observe(observed_users, *user_metrics()).select(F.col("user").alias("userId"))
    # Each batch-input file becomes one .out file that one post-processing invocation must finish
    # within Lambda's 15 minutes: capping its lines keeps that true whatever the user count.
    _writer(users, files["batch_input"]).option("maxRecordsPerFile", BATCH_INPUT_MAX_USERS_PER_FILE).json(
        options.batch_input_uri
    )
    _writer(outputs.quarantine, files["quarantine"]).json(options.quarantine_uri)
    return assemble_counts(status_counts(grouped), observed_users.get), files


def run(spark: SparkSession, options: EtlOptions, *, write_summary_file: bool = True) -> dict[str, Any]:
    """The whole job: read, classify, aggregate, write outputs, write `_summary.json`, and raise
    TrainingMinimumsError (after the summary is written) when the data cannot train a model."""
    started = time.time()
    max_epoch = options.max_epoch_seconds or int(started) + 86_400
    raw = read_raw(spark, options)
    input_files = len(raw.inputFiles())
    layout = inspect_layout(raw, options)
    grouped = aggregate(classify(raw, options, layout, max_epoch_seconds=max_epoch)).cache()
    try:
        counts, files = write_outputs(spark, grouped, options)
    finally:
        grouped.unpersist()
    problems = check_minimums(counts)
    message = (
        "Kept data cannot be used by Amazon Personalize: " + "; ".join(problems) + f". See {options.summary_uri} "
        f"and the rejected rows in {options.quarantine_uri}; nothing should be imported from this run."
        if problems
        else None
    )
    summary = {
        "run_id": options.run_id,
        "status": "FAILED" if problems else "SUCCEEDED",
        "message": message,
        "arguments": options.as_arguments(),
        "input": {
            "uri": options.input_uri,
            "files": input_files,
            "field_count": layout.field_count,
            "header": list(layout.header) if layout.header else None,
            "positions": {
                "user": layout.user_index,
                "item": layout.item_index,
                "rating": layout.rating_index,
                "timestamp": layout.timestamp_index,
            },
            "timestamp_range_seconds": [MIN_EPOCH_SECONDS, max_epoch],
        },
        "counts": counts,
        "minimums": {
            "interactions": MIN_INTERACTIONS,
            "users_with_2plus_interactions": MIN_USERS_WITH_2_INTERACTIONS,
            "batch_input_max_bytes": BATCH_INPUT_MAX_BYTES,
            "met": not problems,
        },
        "outputs": {
            "run": options.run_uri,
            "interactions": options.interactions_uri,
            "batch_input": options.batch_input_uri,
            "quarantine": options.quarantine_uri,
            "summary": options.summary_uri,
            "max_files": files,
        },
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "duration_seconds": round(time.time() - started, 3),
    }
    if write_summary_file:
        write_summary(summary, options.summary_uri)
    if problems:
        raise TrainingMinimumsError(message)
    return summary


def write_summary(summary: Mapping[str, Any], uri: str) -> None:
    """Writes the summary JSON to `s3://bucket/key` (boto3, as on Glue) or to a local path."""
    body = json.dumps(summary, indent=2, sort_keys=False).encode("utf-8")
    if uri.startswith(("s3://", "s3a://", "s3n://")):
        import boto3  # only where the summary goes to S3 (on Glue, boto3 is installed)

        bucket, _, key = uri.split("://", 1)[1].partition("/")
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        return
    path = uri[len("file://") :] if uri.startswith("file://") else uri
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(body)
