"""The row rules: every line of the input gets exactly one status (kept, filtered by rating, header or a
rejection reason) from built-in column expressions, and one aggregation groups the lines (duplicates and
identical bad lines collapse, each with its count)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from glue_src.arguments import TIMESTAMP_UNITS, EtlOptions
from pipeline_contracts.event_types import EVENT_TYPE_PATTERN
from glue_src.layouts import InputPlan, LayoutGroup, read_group
from glue_src.limits import ID_PATTERN, MAX_QUARANTINE_LINE, MIN_EPOCH_SECONDS, RATING_MAX, RATING_MIN
from pipeline_contracts.metadata_datasets import ENCODINGS


# Status of a line. Everything that is not kept, filtered or header is a rejection reason.
KEPT, FILTERED, HEADER = "kept", "filtered_by_rating", "header"
FILTERED_EVENT = "filtered_by_event_type"  # an event type not in --keep_event_types
FILTERED_AGE = "filtered_by_age"  # older than the recent window (--max_age_days)
SECONDS_PER_DAY = 86_400
REJECT_REASONS = (
    "blank_line",
    "repeated_header",
    "wrong_field_count",
    "missing_field",
    "invalid_user_id",
    "invalid_item_id",
    "invalid_event_type",
    "non_numeric_event_value",
    "non_numeric_rating",
    "non_numeric_timestamp",
    "rating_out_of_range",
    "timestamp_out_of_range",
)
# A timestamp out of range that would be in range in the other unit (ms <-> s): quarantined as
# timestamp_out_of_range, counted apart so the summary can say which unit fits.
TS_OTHER_UNIT = "timestamp_out_of_range_other_unit_fits"
# A line with bytes that are not text in --encoding: the run fails naming its file and line
# (`transform.check_text`), so it is never counted nor written.
NOT_TEXT = "not_text_in_encoding"

# Status codes of a classified line, in this order: kept, filtered, header, then the reasons
# (codes > header are rejections; "repeated_header" is derived from header lines per file).
STATUSES = (
    (KEPT, FILTERED, FILTERED_EVENT, FILTERED_AGE, HEADER)
    + tuple(reason for reason in REJECT_REASONS if reason != "repeated_header")
    + (TS_OTHER_UNIT, NOT_TEXT)
)
STATUS_CODES = {name: code for code, name in enumerate(STATUSES)}
REASON_OF_STATUS = {**{name: name for name in STATUSES}, TS_OTHER_UNIT: "timestamp_out_of_range"}


def decoded(raw: DataFrame, encoding: str) -> DataFrame:
    """The text lines (`value`) in the raw files' encoding. Spark's text reader keeps a line's bytes
    as they are (read as UTF-8): a single-byte encoding is decoded from them, UTF-8 left as read."""
    charset = ENCODINGS[encoding]
    if charset == "UTF-8":
        return raw
    return raw.select(F.decode(F.col("value").cast("binary"), charset).alias("value"))


def not_text(line: Column, encoding: str) -> Column:
    """Whether a line (as `decoded` gives it) holds bytes that are not text in `encoding`. UTF-8: decoding
    and encoding the line again gives its bytes back unless one was replaced. latin-1 gives every byte a
    character; cp1252 leaves five bytes undefined, decoded to U+FFFD (which it cannot encode, so a U+FFFD
    there was such a byte)."""
    charset = ENCODINGS[encoding]
    if charset == "ISO-8859-1":
        return F.lit(False)
    if charset != "UTF-8":
        return F.instr(line, "\ufffd") > 0
    raw = line.cast("binary")
    roundtrip = F.encode(F.decode(raw, "UTF-8"), "UTF-8")
    return roundtrip != raw


def split_pattern(delimiter: str) -> str:
    # Java regex for one literal character; a single plain char or "\x" keeps String.split's fast path.
    return delimiter if delimiter.isalnum() or delimiter.isspace() else "\\" + delimiter


# 10**0 .. 10**18: a whole number written with n digits (no sign, no leading zero) lies in
# [10**(n-1), 10**n).
_POWERS_OF_TEN = "array(" + ", ".join(f"{10**n}L" for n in range(19)) + ")"


def id_number(name: str) -> Column:
    """The id as a whole number, or null: computed once per line, in the projection."""
    return F.expr(f"try_cast({name} AS BIGINT)").alias(f"{name}_number")


def valid_id(name: str) -> Column:
    # The one id rule: the (space-trimmed) field matches ID_PATTERN exactly. Whole numbers (every
    # MovieLens ID) pass a cheaper check first: a digit 1-9 first, and as many bytes as the
    # number has digits. A cast alone would also accept "12" wrapped in tabs or control
    # characters (it trims them), which the CSV writer strips and the JSON batch input keeps.
    # Byte comparisons and octet_length allocate nothing (ascii() and length() would).
    # Needs the column `<name>_number` (`id_number`).
    numeric = F.expr(
        f"{name} >= '1' AND {name} < ':' "
        f"AND {name}_number >= try_element_at({_POWERS_OF_TEN}, octet_length({name})) "
        f"AND {name}_number < try_element_at({_POWERS_OF_TEN}, octet_length({name}) + 1)"
    )
    return F.coalesce(numeric, F.lit(False)) | F.col(name).rlike(ID_PATTERN)


def recent_cutoff(options: EtlOptions, max_epoch_seconds: int) -> int:
    """The oldest timestamp (epoch seconds) the recent window keeps: the run's start (`max_epoch_seconds` is the
    start plus the day of clock skew the timestamp rule allows) minus `max_age_days` days; 0 without a window."""
    if not options.max_age_days:
        return 0
    return max_epoch_seconds - SECONDS_PER_DAY - options.max_age_days * SECONDS_PER_DAY


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
    parsed = _parsed_fields(raw, options, group)
    v = F.col("line")
    blank, is_header = _blank_and_header(v, group)
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
        .when(
            empty("user") | empty("item") | empty("rating_text") | empty("ts_text") | empty("event_type"),
            code["missing_field"],
        )
        .when(~valid_id("user"), code["invalid_user_id"])
        .when(~valid_id("item"), code["invalid_item_id"])
        .when(~F.col("event_type").rlike(EVENT_TYPE_PATTERN.pattern), code["invalid_event_type"])
        .when(
            ~empty("event_value_text") & (F.col("event_value").isNull() | F.isnan(F.col("event_value"))),
            code["non_numeric_event_value"],
        )
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
        .when(ts_seconds < recent_cutoff(options, max_epoch_seconds), code[FILTERED_AGE])
        .when(
            F.lit(bool(options.keep_event_types)) & ~F.col("event_type").isin(*options.keep_event_types),
            code[FILTERED_EVENT],
        )
        .otherwise(code[KEPT])
    )
    # A kept or filtered line is ASCII when the file has only the four columns read (each checked: ids by
    # ID_PATTERN, numbers by their casts; trim drops spaces only): the encoding check, which allocates,
    # runs on every line only when the file has other columns, which nothing else reads.
    suspect = F.lit(True) if layout.field_count > len(set(layout.positions.values())) else status >= code[HEADER]
    status = F.when(suspect & not_text(v, options.encoding), code[NOT_TEXT]).otherwise(status)
    return parsed.select(
        status.cast("tinyint").alias("status"),
        F.col("user"),
        F.col("item"),
        ts_seconds.alias("ts"),
        F.col("event_type"),
        F.col("event_value").cast("float").alias("event_value"),
        F.col("line"),
    )


def _parsed_fields(raw: DataFrame, options: EtlOptions, group: LayoutGroup) -> DataFrame:
    """The line split into the fields the layout reads (trimmed text) and their casts; a column the layout does
    not read is its constant: a rating that passes, the default event type, no event value."""
    layout = group.layout
    line = F.col("value")
    parts = F.split(line, split_pattern(options.delimiter), -1)

    def field_at(index: int | None, absent: Column) -> Column:
        return absent if index is None else F.trim(F.try_element_at(parts, F.lit(index + 1)))

    return raw.select(
        line.alias("line"),
        F.size(parts).alias("n_fields"),
        field_at(layout.user_index, F.lit(None)).alias("user"),
        field_at(layout.item_index, F.lit(None)).alias("item"),
        # Without a rating column every row passes the rating rules (implicit feedback).
        field_at(layout.rating_index, F.lit(str(RATING_MAX))).alias("rating_text"),
        field_at(layout.timestamp_index, F.lit(None)).alias("ts_text"),
        field_at(layout.event_index, F.lit(options.default_event_type)).alias("event_type"),
        field_at(layout.event_value_index, F.lit(None).cast("string")).alias("event_value_text"),
    ).select(
        "*",
        F.expr("try_cast(rating_text AS DOUBLE)").alias("rating"),
        F.expr("try_cast(ts_text AS BIGINT)").alias("ts_raw"),
        F.expr("try_cast(event_value_text AS DOUBLE)").alias("event_value"),
        id_number("user"),
        id_number("item"),
    )


def _blank_and_header(v: Column, group: LayoutGroup) -> tuple[Column, Column]:
    """Whether line `v` is blank (whitespace only) and whether it is one of the group's header lines."""
    stripped = F.regexp_replace(v, r"^[ \t\r]+|[ \t\r]+$", "")  # only evaluated behind a guard
    starts_blank = F.ascii(v).isin(9, 13, 32)
    blank = (F.length(v) == 0) | (starts_blank & (F.length(stripped) == 0))
    if not group.header_lines:
        return blank, F.lit(False)
    texts = sorted(group.header_lines | {text.lstrip("\ufeff") for text in group.header_lines})
    first_chars = sorted({ord(text[0]) for text in texts} | {9, 13, 32})
    return blank, F.ascii(v).isin(first_chars) & (v.isin(texts) | stripped.isin(texts))


def classify_input(spark: SparkSession, options: EtlOptions, plan: InputPlan, *, max_epoch_seconds: int) -> DataFrame:
    """All groups' classified lines; empty and blank-only files are read with the first group
    (their lines are blank whatever the layout)."""
    classified = []
    for index, group in enumerate(plan.groups):
        files = group.files + (plan.blank_files if index == 0 else [])
        raw = decoded(read_group(spark, files, plan), options.encoding)
        classified.append(classify(raw, options, group, max_epoch_seconds=max_epoch_seconds))
    result = classified[0]
    for other in classified[1:]:
        result = result.unionAll(other)
    return result


def aggregate(classified: DataFrame) -> DataFrame:
    """The single shuffle: groups kept lines by interaction, bad and header lines by (line, file),
    and filtered lines into one group. Columns: status, user, item, ts, event_type, event_value, line, source_file,
    n."""
    status = F.col("status")
    kept = status == STATUS_CODES[KEPT]
    keep_line = status >= STATUS_CODES[HEADER]  # header lines and rejections
    return classified.groupBy(
        status.alias("status"),
        F.when(kept, F.col("user")).alias("user"),
        F.when(kept, F.col("item")).alias("item"),
        F.when(kept, F.col("ts")).alias("ts"),
        F.when(kept, F.col("event_type")).alias("event_type"),
        F.when(kept, F.col("event_value")).alias("event_value"),
        F.when(keep_line, F.substring(F.col("line"), 1, MAX_QUARANTINE_LINE)).alias("line"),
        F.when(keep_line, F.input_file_name()).alias("source_file"),
    ).agg(F.count(F.lit(1)).alias("n"))
