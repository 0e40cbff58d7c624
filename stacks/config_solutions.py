"""The `solutions` key: `SolutionSpec`, one solution a run trains, and how raw entries become specs.

An entry's defaults are other top-level keys (recipe, training_mode, ...), so the `solutions` parser only checks
each entry's keys; `resolve_solutions` builds the specs once the whole `PipelineConfig` is known, checking each
entry against the others and against the datasets its recipe needs (README "Solutions").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pipeline_contracts.flatten_capacity import segment_num_results_max
from pipeline_contracts.solutions import (
    DEFAULT_SOLUTION_NAME,
    JOB_NAME_PREFIX_MAX,
    OUTPUT_KINDS,
    RECIPES,
    SOLUTION_NAME_PATTERN,
    SOLUTION_VERSIONS_QUOTA,
    InputKind,
    JobType,
    OutputKind,
    job_name_prefix_step,
    output_kind_of,
)
from stacks import config_parsers as parsers
from stacks.config_filters import solution_event_and_filter
from stacks.config_parsers import ConfigError, Parser, RetrainCadence

if TYPE_CHECKING:
    from stacks.config import PipelineConfig

TrainingMode = Literal["FULL", "UPDATE"]


# Batch inference returns up to 500 items per input line. A segment solution without num_results asks for this many
# users per segment; its bound is what post-processing flattens per output file (`segment_num_results_max`).
SEGMENT_NUM_RESULTS_DEFAULT = 1000
# UPDATE training exists only for User-Personalization (CreateSolutionVersion trainingMode).
UPDATE_TRAINING_RECIPES = ("aws-user-personalization",)
_SOLUTION_KEYS = (
    "name",
    "recipe",
    "output",
    "training_mode",
    "perform_auto_training",
    "num_results",
    "queries",
    "quality_gate_metric",
    "quality_gate_min_value",
    "event_type",
    "event_value_threshold",
    "filter",
    "filter_values",
    "retrain",
)


@dataclass(frozen=True, kw_only=True)
class SolutionSpec:
    """One solution a run trains, and its batch output (`solutions` in cdk.json; README "Solutions").

    `name` names its Personalize solution (`<prefix>-<env>-<name>-<settings hash>`), its job names, S3 folders and
    states. `queries`: the item-attribute expressions of an item_attribute_affinity solution (one segment each).
    `quality_gate_metric` / `quality_gate_min_value`: this solution's gate rule (the top-level keys otherwise).
    `event_type`, `event_value_threshold`, `filter`, `filter_values`: README "Filters and event types"."""

    name: str
    recipe: str
    output_kind: OutputKind
    training_mode: TrainingMode
    perform_auto_training: bool
    num_results: int
    queries: tuple[str, ...] = ()
    quality_gate_metric: str
    quality_gate_min_value: float
    event_type: str | None = None
    """Train on interactions of this EVENT_TYPE only (CreateSolution eventType); None: all."""
    event_value_threshold: float | None = None
    """Train on interactions whose EVENT_VALUE is at least this (solutionConfig.eventValueThreshold)."""
    filter: str | None = None
    """The configured filter (`filters`) its batch jobs use."""
    filter_values: tuple[tuple[str, str], ...] = ()
    """Placeholder -> value, as each batch input line's `filterValues` carries it."""
    retrain: RetrainCadence = RetrainCadence()

    @property
    def job_type(self) -> JobType:
        return self.output_kind.job_type

    @property
    def input_kind(self) -> InputKind:
        return self.output_kind.input_kind


def solution_entries() -> Parser:
    """The solutions list: a JSON array (cdk.json) or its text (`-c solutions='[...]'`); each entry is checked on
    its own here, and against the other keys in `resolve_solutions`. Kept raw (entries as sorted
    key/value pairs, hashable) until then, because an entry's defaults are other keys."""

    def parse(key: str, value: Any) -> tuple[tuple[tuple[str, Any], ...], ...]:
        data = parsers.or_none(json.loads, value) if isinstance(value, str) else value
        if data in (None, "", []):
            return ()
        if not isinstance(data, (list, tuple)) or not all(isinstance(entry, Mapping) for entry in data):
            raise ConfigError.invalid(
                key, value, 'a list of solutions, e.g. [{"name": "users", "recipe": "aws-user-personalization"}]'
            )
        for index, entry in enumerate(data):
            unknown = sorted(set(entry) - set(_SOLUTION_KEYS))
            if unknown:
                allowed = "keys " + ", ".join(_SOLUTION_KEYS)
                raise ConfigError.invalid(f"{key}[{index}].{unknown[0]}", entry[unknown[0]], allowed)
        return tuple(
            tuple(sorted((k, _entry_value(f"{key}[{index}].{k}", k, v)) for k, v in entry.items()))
            for index, entry in enumerate(data)
        )

    return parse


def _queries(queries: Any, key: str, kind: OutputKind) -> tuple[str, ...]:
    """The item-attribute expressions of an item_attribute_affinity solution (one segment each); none otherwise."""
    if kind.input_kind != "item_attributes":
        if queries:
            raise ConfigError.invalid(key, queries, "no queries: only output kind item_attribute_affinity reads them")
        return ()
    if (
        not isinstance(queries, (list, tuple))
        or not queries
        or not all(isinstance(q, str) and q.strip() and "\n" not in q for q in queries)
        or len(set(queries)) != len(queries)
    ):
        raise ConfigError.invalid(
            key, queries, 'a non-empty list of distinct item-attribute expressions, one segment each, e.g. '
            '["ITEMS.GENRES = \\"Comedy\\""] (a batch segment job reads 10 at most: more make more jobs)'
        )
    return tuple(queries)


def _hashable(value: Any) -> Any:
    if isinstance(value, Mapping):  # filter_values: sorted pairs, read back by `resolve_solutions`
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return tuple(value) if isinstance(value, list) else value


def _restored(key: str, value: Any) -> Any:
    """An entry's value as configured, from its hashable form (`_hashable`)."""
    if key == "filter_values" and isinstance(value, tuple):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in value}
    return list(value) if isinstance(value, tuple) else value
def _entry_value(key: str, name: str, value: Any) -> Any:
    """An entry's value, hashable; its `retrain` checked here (it has no other key to depend on)."""
    return parsers.retrain_cadence()(key, value) if name == "retrain" else _hashable(value)


def _retrain(config: PipelineConfig, entry: Mapping[str, Any], key: str, training_mode: str) -> RetrainCadence:
    """The solution's own cadence (refused with an update period unless it trains UPDATE), or the config's, whose
    update period applies only to a solution training UPDATE (the others keep the FULL period)."""
    own = entry.get("retrain")
    if isinstance(own, RetrainCadence):
        if own.update_every_days and training_mode != "UPDATE":
            raise ConfigError.invalid(
                f"{key}.update_every_days", own.update_every_days,
                f"0 when training_mode is {training_mode} (an UPDATE cadence needs training_mode UPDATE, "
                f"recipe {UPDATE_TRAINING_RECIPES[0]})",
            )  # fmt: skip
        return own
    default = config.retrain
    return default if training_mode == "UPDATE" else RetrainCadence(full_every_days=default.full_every_days)


def resolve_solutions(config: PipelineConfig) -> tuple[SolutionSpec, ...]:
    """`SolutionSpec`s from the raw entries (or the one default solution), each checked against the others and
    against the datasets it needs."""
    if not config.solutions:  # not yet resolved: the raw entries, or none
        entries: list[dict[str, Any]] = [{"name": DEFAULT_SOLUTION_NAME, "recipe": config.recipe}]
        where = ["recipe"]
    else:
        entries = [{k: _restored(k, v) for k, v in raw} for raw in config.solutions]  # type: ignore[attr-defined]
        where = [f"solutions[{index}]" for index in range(len(entries))]
    if len(entries) > SOLUTION_VERSIONS_QUOTA:
        raise ConfigError.invalid(
            "solutions", len(entries), f"at most {SOLUTION_VERSIONS_QUOTA} solutions (solution versions training "
            "at once per region)"
        )
    places: list[str | None] = list(where) if config.solutions else [None]
    specs = [_solution(config, entry, at) for entry, at in zip(entries, places, strict=True)]
    seen: set[str] = set()
    for spec, at in zip(specs, where, strict=True):
        if spec.name in seen:
            raise ConfigError.invalid(f"{at}.name", spec.name, "a name no other solution has")
        seen.add(spec.name)
    return tuple(specs)


def _solution(config: PipelineConfig, entry: Mapping[str, Any], at: str | None) -> SolutionSpec:
    """One entry (`at` = its place, e.g. solutions[1]; None for the default solution, whose keys are the
    top-level ones)."""

    def key(name: str) -> str:
        return f"{at}.{name}" if at else name

    name = _solution_name(config, entry.get("name"), key("name"))
    recipe, kind = _solution_recipe(config, entry, key)
    training_mode = parsers.one_of(TrainingMode)(
        key("training_mode"), entry.get("training_mode", config.training_mode)
    )
    if training_mode == "UPDATE" and recipe not in UPDATE_TRAINING_RECIPES:
        raise ConfigError.invalid(
            key("training_mode"),
            training_mode,
            f"FULL when recipe is {recipe} (UPDATE needs {UPDATE_TRAINING_RECIPES[0]})",
        )
    if kind.job_type == "batch_segment":  # an output file (max_job_records lines) must fit one post-processing run
        segment_max = segment_num_results_max(kind.max_job_records or 1)
        results = parsers.whole_number(1, segment_max), SEGMENT_NUM_RESULTS_DEFAULT
    else:
        results = parsers.whole_number(1, 500), config.num_results
    metric = entry.get("quality_gate_metric", config.quality_gate_metric)
    if not isinstance(metric, str) or not re.match(r"^[a-z][a-z0-9_]*$", metric):
        raise ConfigError.invalid(
            key("quality_gate_metric"), metric, "a Personalize metric name, e.g. precision_at_25"
        )
    return SolutionSpec(
        name=name,
        recipe=recipe,
        output_kind=kind,
        training_mode=training_mode,
        perform_auto_training=parsers.boolean()(
            key("perform_auto_training"), entry.get("perform_auto_training", config.perform_auto_training)
        ),
        num_results=results[0](key("num_results"), entry.get("num_results", results[1])),
        queries=_queries(entry.get("queries", ()), key("queries"), kind),
        quality_gate_metric=metric,
        quality_gate_min_value=parsers.number(0.0, 1.0)(
            key("quality_gate_min_value"), entry.get("quality_gate_min_value", config.quality_gate_min_value)
        ),
        **solution_event_and_filter(config, entry, key, kind.job_type, recipe),
        retrain=_retrain(config, entry, key("retrain"), training_mode),
    )


def _solution_name(config: PipelineConfig, name: Any, key: str) -> str:
    if not isinstance(name, str) or not SOLUTION_NAME_PATTERN.match(name):
        raise ConfigError.invalid(
            key, name, "1-20 characters: lower-case letters, digits and '_', starting with a letter (it "
            "names the Personalize solution, its jobs, S3 folders and states)"
        )
    longest_prefix = config.resource_name(job_name_prefix_step("batch", name))
    if len(longest_prefix) > JOB_NAME_PREFIX_MAX:
        raise ConfigError.invalid(
            key, name, f"a name of at most {JOB_NAME_PREFIX_MAX - len(longest_prefix) + len(name)} "
            f"characters with prefix {config.prefix!r} and environment {config.environment!r} (job names such as "
            f"{longest_prefix}-<run>-0001 must fit Personalize's 63)"
        )
    return name


def _solution_recipe(
    config: PipelineConfig, entry: Mapping[str, Any], key: Callable[[str], str]
) -> tuple[str, OutputKind]:
    """The recipe, and its output kind, checked against `output` and the datasets the recipe needs."""
    recipe = entry.get("recipe")
    if recipe not in RECIPES:
        raise ConfigError.invalid(key("recipe"), recipe, "one of " + ", ".join(RECIPES))
    kind = output_kind_of(recipe)
    output = entry.get("output", kind.name)
    if output != kind.name:
        allowed = {k.name: k.recipes for k in OUTPUT_KINDS.values()}
        raise ConfigError.invalid(
            key("output"), output, f"{kind.name} for recipe {recipe} (each output kind's recipes: {allowed})"
        )
    if kind.job_type == "batch_segment" and config.items_dataset is None:
        # USER_SEGMENTATION recipes train on the Interactions and Items datasets (Personalize developer guide,
        # "USER_SEGMENTATION recipes"); item-attribute queries are on item attributes.
        raise ConfigError.invalid(
            key("recipe"), recipe, f"a recipe of another output kind than {kind.name}, or an items_dataset "
            "(USER_SEGMENTATION recipes train on the Items dataset)"
        )
    return recipe, kind
