"""The job arguments: their names, `EtlOptions` (typed, with the run's output locations) and `parse_options`.

Every argument is checked before Spark starts; a bad one raises `EtlArgumentError` naming the argument, the
value and what is allowed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The run's folder layout under <output_uri><run_id>/; on Glue the package sits beside glue_src/ in the zip.
from pipeline_contracts import run_layout, solutions
from pipeline_contracts.event_types import (
    ALL_EVENT_TYPES,
    EVENT_TYPE_ALLOWED,
    EVENT_TYPE_PATTERN,
    MAX_AGE_DAYS_MAX,
    NO_COLUMN,
    NO_EVENT_TYPES,
)
from pipeline_contracts.metadata_datasets import ENCODINGS

from glue_src.limits import RATING_MAX, RATING_MIN, batch_input_records_per_file
from glue_src.messages import EtlArgumentError


# The users and items inputs are shared by every solution that reads them: their folder names no solution.
USERS_ENTRY = solutions.batch_input_entry("users", solutions.DEFAULT_SOLUTION_NAME)
ITEMS_ENTRY = solutions.batch_input_entry("items", solutions.DEFAULT_SOLUTION_NAME)


TIMESTAMP_UNITS = {"ms": 1000, "s": 1}
UNIT_NAMES = {"ms": "epoch milliseconds", "s": "epoch seconds"}
_DELIMITER_WORDS = {"tab": "\t", "\\t": "\t", "comma": ",", "space": " ", "pipe": "|", "semicolon": ";"}
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


# Batch-input arguments: a job deployed before them does not pass them, so the Glue entry point
# resolves them only when given (their defaults write the users input alone, as before).
BATCH_ARGUMENT_NAMES = ("batch_inputs", "batch_items_top_n", "batch_items_per_file", "item_attribute_queries")
# Event-type arguments (README "Filters and event types"): a job deployed before them writes EVENT_TYPE
# default_event_type and an empty EVENT_VALUE.
EVENT_ARGUMENT_NAMES = (
    "event_type_column",
    "default_event_type",
    "event_value_column",
    "keep_event_types",
    "max_age_days",
    "trained_event_types",
)
# Arguments newer than the deployed job may be: resolved only when given, defaults otherwise.
OPTIONAL_ARGUMENT_NAMES = (*BATCH_ARGUMENT_NAMES, *EVENT_ARGUMENT_NAMES, "encoding")

# The option a ratings file with bytes invalid in --encoding names (config key, then local_run's flag).
ENCODING_OPTION = "raw_encoding (job argument --encoding, local_run --encoding)"
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
    "encoding",
    *BATCH_ARGUMENT_NAMES,
    *EVENT_ARGUMENT_NAMES,
)
REQUIRED_ARGUMENTS = ("input_uri", "output_uri", "run_id")
COLUMN_ARGUMENTS = (
    "user_column", "item_column", "rating_column", "timestamp_column", "event_type_column", "event_value_column"
)
# The columns a file without a header has at positions 0-3 unless configured (the local run's default).
POSITIONAL_COLUMN_ARGUMENTS = COLUMN_ARGUMENTS[:4]
# Columns that may be absent (NO_COLUMN); the event value may be the rating column itself.
OPTIONAL_COLUMNS = ("rating_column", "event_type_column", "event_value_column")


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
    # NO_COLUMN: implicit feedback, no rating read (min_rating unused).
    event_type_column: str = NO_COLUMN
    # EVENT_TYPE of every row when event_type_column is NO_COLUMN.
    default_event_type: str = "rating"
    # NO_COLUMN: EVENT_VALUE is empty (null); may name the rating column.
    event_value_column: str = NO_COLUMN
    # Only rows of these event types are kept; empty: all.
    keep_event_types: tuple[str, ...] = ()
    # The recent window: rows older than N days before the run's start are filtered (0: none).
    max_age_days: int = 0
    # Event types a solution trains on alone: each needs the training minimum of interactions of its own.
    trained_event_types: tuple[str, ...] = ()
    timestamp_unit: str = "ms"
    # The raw files' encoding (a key of ENCODINGS): their lines are decoded with it.
    encoding: str = "utf-8"
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
        arguments["keep_event_types"] = ",".join(self.keep_event_types) or ALL_EVENT_TYPES
        arguments["trained_event_types"] = ",".join(self.trained_event_types) or NO_EVENT_TYPES
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
        if column == NO_COLUMN and name not in OPTIONAL_COLUMNS:
            raise _fail(name, column, "a column name from the header, or a 0-based position (the column is required)")
        if not has_header and not column.isdigit() and column != NO_COLUMN:
            raise _fail(name, column, "a 0-based column position (a whole number), because --has_header is false")
        columns[name] = column
    distinct = [c for n, c in columns.items() if c != NO_COLUMN and n != "event_value_column"]
    if len(set(distinct)) != len(distinct):
        raise EtlArgumentError(
            "job arguments --user_column/--item_column/--rating_column/--timestamp_column/--event_type_column must "
            f"differ; got {columns}"
        )
    return columns


def _parse_event_types(default: Any, keep: Any) -> tuple[str, tuple[str, ...]]:
    if not EVENT_TYPE_PATTERN.match(str(default)):
        raise _fail("default_event_type", default, EVENT_TYPE_ALLOWED)
    if isinstance(keep, (tuple, list)):
        kept = tuple(str(t) for t in keep)
    else:
        kept = () if str(keep).strip() == ALL_EVENT_TYPES else tuple(t.strip() for t in str(keep).split(","))
    if any(not EVENT_TYPE_PATTERN.match(t) for t in kept):
        raise _fail("keep_event_types", keep, f"{ALL_EVENT_TYPES} (every event type) or a comma-separated list of "
                    "event types, each " + EVENT_TYPE_ALLOWED)
    return str(default), kept


def _parse_trained_event_types(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, (tuple, list)):  # the default (not given: a job deployed before the argument)
        types = tuple(str(t) for t in raw)
    else:
        text = str(raw).strip()
        types = () if text == NO_EVENT_TYPES else tuple(t.strip() for t in text.split(","))
    if any(not EVENT_TYPE_PATTERN.match(t) for t in types):
        raise _fail(
            "trained_event_types", raw, f"{NO_EVENT_TYPES} (none) or a comma-separated list of event types, each "
            + EVENT_TYPE_ALLOWED
        )
    return types


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

    encoding = str(get("encoding")).strip().lower()
    if encoding not in ENCODINGS:
        allowed = f"one of {', '.join(ENCODINGS)} (the encoding the raw files are written in)"
        raise _fail("encoding", get("encoding"), allowed)

    columns = _parse_columns(get, has_header)
    event_types = _parse_event_types(get("default_event_type"), get("keep_event_types"))
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
        encoding=encoding,
        user_column=columns["user_column"],
        item_column=columns["item_column"],
        rating_column=columns["rating_column"],
        timestamp_column=columns["timestamp_column"],
        event_type_column=columns["event_type_column"],
        event_value_column=columns["event_value_column"],
        default_event_type=event_types[0],
        keep_event_types=event_types[1],
        batch_inputs=batch_inputs,
        trained_event_types=_parse_trained_event_types(get("trained_event_types")),
        max_age_days=_parse_whole_number(
            "max_age_days", get("max_age_days"), MAX_AGE_DAYS_MAX, "0 (every age) or N (the last N days)"
        ),
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
