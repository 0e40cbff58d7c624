"""The `filters` key and the interactions' event-type keys: `FilterSpec`, one Personalize filter the data stack creates,
checked at synth against the configured datasets (README "Filters and event types").

An entry is `{"name": "unseen", "expression": "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\\"rating\\")"}`.
Its expression is parsed by `pipeline_contracts.filter_expressions` against the fields the deployment has: the
interactions' EVENT_TYPE, and the fields of `items_dataset` / `users_dataset` when configured. A refusal names the
filter, the character position and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline_contracts.filter_expressions import (
    EVENT_TYPE,
    INTERACTIONS,
    MAX_FIELDS_PER_DATASET_GROUP,
    MAX_FILTERS_PER_DATASET_GROUP,
    FieldKind,
    FilterExpressionError,
    ParsedFilter,
    fields_beyond_group_limit,
    filter_value,
    parse_filter,
)
from pipeline_contracts.event_types import EVENT_TYPE_ALLOWED, EVENT_TYPE_PATTERN, MAX_EVENT_TYPES
from pipeline_contracts.metadata_datasets import DATASET_TYPE, NUMERIC_TYPES, DatasetSpec
from pipeline_contracts.solutions import SOLUTION_NAME_PATTERN
from stacks import config_parsers as parsers
from stacks.config_parsers import ConfigError, Parser

if TYPE_CHECKING:
    from stacks.config import PipelineConfig

EXPRESSION_HASH_LENGTH = 8


@dataclass(frozen=True, kw_only=True)
class FilterSpec:
    """One configured filter: its configured `name` (it names the Personalize filter `<prefix>-<env>-<name>-<hash>`,
    the hash over the expression, as a filter cannot be updated) and its checked expression."""

    name: str
    expression: str
    parsed: ParsedFilter

    @property
    def expression_hash8(self) -> str:
        return hashlib.sha256(self.expression.encode()).hexdigest()[:EXPRESSION_HASH_LENGTH]


def event_type_list() -> Parser:
    """`keep_event_types`: a JSON list of event types (or its text); empty keeps every type."""

    def parse(key: str, value: Any) -> tuple[str, ...]:
        data = parsers.or_none(json.loads, value) if isinstance(value, str) and value.strip() else value
        if data in (None, "", []):
            return ()
        if (
            not isinstance(data, (list, tuple))
            or not all(isinstance(item, str) and EVENT_TYPE_PATTERN.match(item) for item in data)
            or len(set(data)) != len(data)
            or len(data) > MAX_EVENT_TYPES
        ):
            raise ConfigError.invalid(
                key, value, f"a list of at most {MAX_EVENT_TYPES} distinct event types, each {EVENT_TYPE_ALLOWED}"
            )
        return tuple(data)

    return parse


def event_type() -> Parser:
    return parsers.matching(EVENT_TYPE_PATTERN, EVENT_TYPE_ALLOWED)


def filter_entries() -> Parser:
    """The filters list, kept raw ((name, expression) pairs) until the datasets are known (`resolve_filters`)."""

    def parse(key: str, value: Any) -> tuple[tuple[str, str], ...]:
        data = parsers.or_none(json.loads, value) if isinstance(value, str) else value
        if data in (None, "", []):
            return ()
        if not isinstance(data, (list, tuple)) or not all(
            isinstance(entry, Mapping) and set(entry) == {"name", "expression"} for entry in data
        ):
            raise ConfigError.invalid(
                key, value, 'a list of {"name": ..., "expression": ...} objects, e.g. [{"name": "unseen", '
                '"expression": "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\\"rating\\")"}]'
            )
        return tuple((entry["name"], entry["expression"]) for entry in data)

    return parse


def field_catalog(config: PipelineConfig) -> dict[str, dict[str, FieldKind]]:
    """Dataset type -> field -> kind, of what this deployment's datasets hold (what a filter may read)."""
    catalog: dict[str, dict[str, FieldKind]] = {INTERACTIONS: {EVENT_TYPE: "string"}}
    for spec in config.metadata_datasets:
        catalog[DATASET_TYPE[spec.kind]] = _fields_of(spec)
    return catalog


def _fields_of(spec: DatasetSpec) -> dict[str, FieldKind]:
    kinds: dict[str, FieldKind] = {}
    for field in spec.fields:
        if field.type in NUMERIC_TYPES or field.type == "creation_timestamp":
            kinds[field.name] = "numeric"
        elif field.type in ("categorical", "textual"):
            kinds[field.name] = field.type  # type: ignore[assignment]
        else:
            kinds[field.name] = "string"
    return kinds


def resolve_filters(config: PipelineConfig) -> tuple[FilterSpec, ...]:
    """`FilterSpec`s from the raw entries, each expression parsed against the configured datasets."""
    raw: tuple[tuple[str, str], ...] = config.filters  # type: ignore[assignment]
    if len(raw) > MAX_FILTERS_PER_DATASET_GROUP:
        raise ConfigError.invalid(
            "filters", len(raw), f"at most {MAX_FILTERS_PER_DATASET_GROUP} filters (per dataset group)"
        )
    catalog = field_catalog(config)
    specs: list[FilterSpec] = []
    for index, (name, expression) in enumerate(raw):
        if not isinstance(name, str) or not SOLUTION_NAME_PATTERN.match(name) or name in {s.name for s in specs}:
            raise ConfigError.invalid(
                f"filters[{index}].name", name, "1-20 characters: lower-case letters, digits and '_', starting with a "
                "letter, a name no other filter has (it names the Personalize filter)"
            )
        if not isinstance(expression, str):
            raise ConfigError.invalid(f"filters[{index}].expression", expression, "a filter expression (a string)")
        try:
            parsed = parse_filter(expression, catalog)
        except FilterExpressionError as error:
            raise ConfigError.invalid(
                f"filters[{index}].expression", expression, f"a Personalize filter expression; filter {name!r} {error}"
            ) from None
        specs.append(FilterSpec(name=name, expression=expression, parsed=parsed))
    beyond = fields_beyond_group_limit(spec.parsed for spec in specs)
    if beyond:
        raise ConfigError.invalid(
            "filters",
            [spec.name for spec in specs],
            f"filters reading at most {MAX_FIELDS_PER_DATASET_GROUP} distinct fields in all (per dataset group); "
            f"{', '.join(beyond)} are more",
        )
    return tuple(specs)


def solution_event_and_filter(
    config: PipelineConfig, entry: Mapping[str, Any], key: Callable[[str], str], job_type: str, recipe: str
) -> dict[str, Any]:
    """A solution entry's `event_type`, `event_value_threshold`, `filter` and `filter_values`, checked against the
    interactions' event types and the configured filters (SolutionSpec's fields of the same names)."""
    trained_type, threshold = _training_data(config, entry, key)
    name = entry.get("filter")
    values = entry.get("filter_values") or {}
    if name is None:
        if values:
            raise ConfigError.invalid(key("filter_values"), values, "no values: the solution names no filter")
        return {"event_type": trained_type, "event_value_threshold": threshold, "filter": None, "filter_values": ()}
    known = {spec.name: spec for spec in config.filters}
    if name not in known:
        raise ConfigError.invalid(
            key("filter"), name, "the name of a configured filter: " + (", ".join(known) or "none")
        )
    parsed = known[name].parsed
    wanted = "UserID" if job_type == "batch_segment" else "ItemID"
    if parsed.target != wanted:
        raise ConfigError.invalid(
            key("filter"), name, f"a filter of {wanted} expressions ({recipe} batch jobs filter "
            f"{'users' if wanted == 'UserID' else 'items'})"
        )
    if parsed.uses_interactions and recipe == "aws-item-attribute-affinity":
        raise ConfigError.invalid(
            key("filter"), name, "a filter without Interactions conditions: Personalize refuses item interaction "
            "filters with the Item-Attribute-Affinity recipe"
        )
    if parsed.placeholders:
        # The batch input lines would carry `filterValues` (`_filter_values` formats them); the Glue job does not
        # write them yet, and a job whose lines lack them fails: refused until it does.
        raise ConfigError.invalid(
            key("filter"), name, "a filter without $PLACEHOLDERs for batch jobs (the batch input lines do not carry "
            f"filterValues yet); its placeholders: {', '.join(parsed.placeholders)}"
        )
    return {
        "event_type": trained_type,
        "event_value_threshold": threshold,
        "filter": name,
        "filter_values": _filter_values(values, parsed.placeholders, key("filter_values")),
    }


def _training_data(
    config: PipelineConfig, entry: Mapping[str, Any], key: Callable[[str], str]
) -> tuple[str | None, float | None]:
    """The solution's event_type (one the interactions can hold) and event_value_threshold (needs EVENT_VALUE)."""
    trained_type = entry.get("event_type")
    if trained_type is not None:
        trained_type = event_type()(key("event_type"), trained_type)
        possible = config.event_types
        if possible is not None and trained_type not in possible:
            raise ConfigError.invalid(
                key("event_type"), trained_type, f"one of the event types the interactions hold: {', '.join(possible)}"
            )
    threshold = entry.get("event_value_threshold")
    if threshold is not None:
        if not config.raw_event_value_column:
            raise ConfigError.invalid(
                key("event_value_threshold"), threshold, "no threshold while raw_event_value_column is empty (the "
                "interactions then have no EVENT_VALUE)"
            )
        threshold = parsers.number(-1e9, 1e9)(key("event_value_threshold"), threshold)
    return trained_type, threshold


def _filter_values(values: Any, placeholders: tuple[str, ...], key: str) -> tuple[tuple[str, str], ...]:
    """Placeholder -> its value as a batch input line's `filterValues` carries it (`filter_value`)."""
    if not isinstance(values, Mapping) or set(values) != set(placeholders):
        raise ConfigError.invalid(
            key, values, "an object with a value (or a list of values) for each placeholder of the filter: "
            + (", ".join(placeholders) or "none")
        )
    formatted = []
    for placeholder in placeholders:
        value = values[placeholder]
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not items or not all(
            (isinstance(item, str) and item and '"' not in item and "\\" not in item)
            or (isinstance(item, (int, float)) and not isinstance(item, bool))
            for item in items
        ):
            raise ConfigError.invalid(
                f"{key}.{placeholder}", value, "a string or number, or a non-empty list of them (strings without "
                "quotes or backslashes)"
            )
        formatted.append((placeholder, filter_value(items)))
    return tuple(formatted)
