"""The app's one configuration object, read from `cdk.json` context and validated at synth time.

Every key lives in `cdk.json` under `context`; `npx cdk synth -c key=value` overrides one, and a named
configuration (`-c config=NAME`, see `stacks/app_factory.py`) overrides several. Values given on the command
line arrive as strings, so every field is parsed from either form; each field names its parser next to its
default. A bad value raises `ConfigError` naming the key, the value and what is allowed, which stops synth
before anything reaches CloudFormation.
"""

from __future__ import annotations

import dataclasses
import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

from aws_cdk import RemovalPolicy
from aws_cdk import aws_glue as glue

from lambda_src.model_gate.costs import InvalidPriceTable, PriceTable
from lambda_src.model_gate.gate import (
    DEFAULT_MAX_RELATIVE_DROP,
    DEFAULT_METRIC,
    DEFAULT_MIN_VALUE,
    USER_PERSONALIZATION_METRICS,
)
from pipeline_contracts.flatten_capacity import segment_num_results_max
from pipeline_contracts.metadata_datasets import DatasetKind, DatasetSpec, DatasetSpecError, Encoding, parse_dataset
from pipeline_contracts.schedule_times import ScheduleExpressionError, validate_expression
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

T = TypeVar("T")
Parser = Callable[[str, Any], Any]
"""(key, raw context value) -> the field's value; raises `ConfigError` for a value it cannot take."""

RemovalPolicyName = Literal["RETAIN", "DESTROY"]
# G.025X is for Glue streaming jobs only; the ratings ETL is a batch job.
GlueWorkerTypeName = Literal["G.1X", "G.2X", "G.4X", "G.8X"]
Recipe = Literal["aws-user-personalization", "aws-user-personalization-v2"]
TrainingMode = Literal["FULL", "UPDATE"]
ImportMode = Literal["FULL", "INCREMENTAL"]
TimestampUnit = Literal["ms", "s"]
GlueExecutionClassName = Literal["STANDARD", "FLEX"]
QualityGateOnFail = Literal["fail", "use_last_accepted"]
QualityGateOnMissingMetric = Literal["reject", "accept"]

# The one place where a configured choice becomes the CDK enum it stands for.
REMOVAL_POLICIES: Mapping[RemovalPolicyName, RemovalPolicy] = {
    "RETAIN": RemovalPolicy.RETAIN,
    "DESTROY": RemovalPolicy.DESTROY,
}
GLUE_WORKER_TYPES: Mapping[GlueWorkerTypeName, glue.WorkerType] = {
    "G.1X": glue.WorkerType.G_1X,
    "G.2X": glue.WorkerType.G_2X,
    "G.4X": glue.WorkerType.G_4X,
    "G.8X": glue.WorkerType.G_8X,
}
GLUE_EXECUTION_CLASSES: Mapping[GlueExecutionClassName, glue.ExecutionClass] = {
    "STANDARD": glue.ExecutionClass.STANDARD,
    "FLEX": glue.ExecutionClass.FLEX,
}
# Glue Flex runs on G.1X and G.2X workers only (AWS Glue developer guide, "Flex execution class").
FLEX_WORKER_TYPES: tuple[GlueWorkerTypeName, ...] = ("G.1X", "G.2X")

_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}[a-z0-9]$")
_ENVIRONMENT_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
_S3_PREFIX_RE = re.compile(r"^([A-Za-z0-9!_.*'()-]+/)+$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PERSONALIZE_FILTER_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:personalize:[a-z0-9-]+:\d{12}:filter/[a-zA-Z0-9][a-zA-Z0-9\-_]*$"
)


DEFAULT_SOURCE = "cdk.json context"
"""Where a key comes from unless the app says otherwise (see `ConfigError.located`)."""


class ConfigError(ValueError):
    """A context value that cannot be deployed; the message names where the key was set, the key, the value and
    what is allowed: "config/prod.json key 'min_rating' has value 7; allowed: ..."."""

    def __init__(self, key: str, value: Any, allowed: str, source: str = DEFAULT_SOURCE) -> None:
        super().__init__(f"{source} key '{key}' has value {value!r}; allowed: {allowed}")
        self.key, self.value, self.allowed, self.source = key, value, allowed, source

    @classmethod
    def invalid(cls, key: str, value: Any, allowed: str) -> ConfigError:
        """The one message format for a bad configuration value, wherever it is detected."""
        return cls(key, value, allowed)

    @property
    def root_key(self) -> str:
        """The configuration key the error is about: `solutions` for `solutions[1].recipe`."""
        return re.split(r"[\[.]", self.key, maxsplit=1)[0]

    def located(self, source: str) -> ConfigError:
        """The same error, naming `source` (e.g. "config/prod.json", "-c") as where its key was set."""
        return ConfigError(self.key, self.value, self.allowed, source)


# Parsers: each factory returns the `Parser` of one kind of field.


def _boolean() -> Parser:
    def parse(key: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ConfigError.invalid(key, value, "true or false")

    return parse


def _whole_number(low: int, high: int) -> Parser:
    def parse(key: str, value: Any) -> int:
        # bool is an int to Python and a float would be truncated silently: neither is a count.
        number = None if isinstance(value, (bool, float)) else _or_none(int, value)
        if number is None or not low <= number <= high:
            raise ConfigError.invalid(key, value, f"a whole number from {low} to {high}")
        return number

    return parse


def _number(low: float, high: float, step: float | None = None) -> Parser:
    allowed = f"a number from {low} to {high}" + (f" in steps of {step}" if step else "")

    def parse(key: str, value: Any) -> float:
        number = None if isinstance(value, bool) else _or_none(float, value)
        if number is None or not low <= number <= high or (step and abs(round(number / step) * step - number) > 1e-9):
            raise ConfigError.invalid(key, value, allowed)
        return number

    return parse


def _or_none(convert: Callable[[Any], T], value: Any) -> T | None:
    try:
        return convert(value)
    except (TypeError, ValueError):
        return None


def _one_of(choices: Any) -> Parser:
    """A parser for the values of a `Literal` type."""
    allowed: tuple[str, ...] = get_args(choices)

    def parse(key: str, value: Any) -> str:
        if value not in allowed:
            raise ConfigError.invalid(key, value, "one of " + ", ".join(allowed))
        return value

    return parse


def _matching(pattern: re.Pattern[str], allowed: str) -> Parser:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise ConfigError.invalid(key, value, allowed)
        return value

    return parse


def _optional(parse: Parser) -> Parser:
    """cdk.json spells "not set" as an empty string (JSON has null, but `-c key=` gives "")."""

    def parse_optional(key: str, value: Any) -> Any:
        return None if value in (None, "") else parse(key, value)

    return parse_optional


def _timezone() -> Parser:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, str) or value not in zoneinfo.available_timezones():
            raise ConfigError.invalid(key, value, "an IANA time zone name such as UTC or Europe/Berlin")
        return value

    return parse


def _schedule() -> Parser:
    """An EventBridge Scheduler expression, read by the parser the doctor uses to show the next start."""

    def parse(key: str, value: Any) -> str:
        try:
            validate_expression(str(value))
        except ScheduleExpressionError as error:
            raise ConfigError.invalid(
                key, value, f"an EventBridge Scheduler expression: cron(...), rate(N unit) or at(...) ({error})"
            ) from None
        return str(value)

    return parse


def _single_character() -> Parser:
    def parse(key: str, value: Any) -> str:
        # cdk.json cannot hold a literal tab comfortably, so the escape "\t" is accepted too.
        decoded = {"\\t": "\t", "tab": "\t"}.get(value, value) if isinstance(value, str) else value
        if not isinstance(decoded, str) or len(decoded) != 1:
            raise ConfigError.invalid(key, value, 'a single character, or "\\t" / "tab" for a tab')
        return decoded

    return parse


def _column() -> Parser:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
            raise ConfigError.invalid(key, value, "a column name from the header, or a 0-based position")
        return str(value)

    return parse


def _gate_metric() -> Parser:
    def parse(key: str, value: Any) -> str:
        if value not in USER_PERSONALIZATION_METRICS:
            raise ConfigError.invalid(key, value, "one of " + ", ".join(USER_PERSONALIZATION_METRICS))
        return value

    return parse


def _prices() -> Parser:
    """Unit prices: an object (cdk.json) or its JSON text (`-c prices='{...}'`), keys of `PriceTable`; absent keys
    keep the documented defaults (lambda_src/model_gate/costs.py)."""

    def parse(key: str, value: Any) -> tuple[tuple[str, Any], ...]:
        data = _or_none(json.loads, value) if isinstance(value, str) else value
        if not isinstance(data, Mapping):
            raise ConfigError.invalid(
                key, value, 'an object of unit prices, e.g. {"glue_standard_per_dpu_hour": 0.44}'
            )
        try:
            PriceTable.from_mapping(data)
        except (InvalidPriceTable, TypeError) as error:
            raise ConfigError.invalid(key, value, f"{error}") from None
        return tuple(sorted(data.items()))


    return parse


def _metadata_dataset(kind: DatasetKind) -> Parser:
    """An Items or Users dataset (see pipeline_contracts/metadata_datasets.py); absent or empty = disabled."""

    def parse(key: str, value: Any) -> DatasetSpec | None:
        try:
            return parse_dataset(kind, value)
        except DatasetSpecError as error:
            raise ConfigError.invalid(error.key, error.value, error.allowed) from None

    return parse


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
)


@dataclass(frozen=True, kw_only=True)
class SolutionSpec:
    """One solution a run trains, and its batch output (`solutions` in cdk.json; README "Solutions").

    `name` names its Personalize solution (`<prefix>-<env>-<name>-<settings hash>`), its job names, S3 folders and
    states. `queries`: the item-attribute expressions of an item_attribute_affinity solution (one segment each).
    `quality_gate_metric` / `quality_gate_min_value`: this solution's gate rule (the top-level keys otherwise)."""

    name: str
    recipe: str
    output_kind: OutputKind
    training_mode: TrainingMode
    perform_auto_training: bool
    num_results: int
    queries: tuple[str, ...] = ()
    quality_gate_metric: str
    quality_gate_min_value: float

    @property
    def job_type(self) -> JobType:
        return self.output_kind.job_type

    @property
    def input_kind(self) -> InputKind:
        return self.output_kind.input_kind


def _solutions() -> Parser:
    """The solutions list: a JSON array (cdk.json) or its text (`-c solutions='[...]'`); each entry is checked on
    its own here, and against the other keys in `PipelineConfig._resolve_solutions`. Kept raw (entries as sorted
    key/value pairs, hashable) until then, because an entry's defaults are other keys."""

    def parse(key: str, value: Any) -> tuple[tuple[tuple[str, Any], ...], ...]:
        data = _or_none(json.loads, value) if isinstance(value, str) else value
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
        return tuple(tuple(sorted((k, _hashable(v)) for k, v in entry.items())) for entry in data)

    return parse


def _solution_queries(queries: Any, key: str, kind: OutputKind) -> tuple[str, ...]:
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
    return tuple(value) if isinstance(value, list) else value


def _setting(default: Any, parse: Parser) -> Any:
    """A field with its default and the parser of its raw context value, side by side."""
    return dataclasses.field(default=default, metadata={"parse": parse})


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """Everything a deployment can choose. Defaults are what `cdk.json` ships with."""

    # Naming and lifecycle
    prefix: str = _setting(
        "pbp", _matching(_PREFIX_RE, "2-16 characters: lower-case letters, digits and '-', starting with a letter")
    )
    environment: str = _setting(
        "dev", _matching(_ENVIRONMENT_RE, "1-10 lower-case letters and digits, starting with a letter (e.g. dev, prod)")
    )
    data_removal_policy: RemovalPolicyName = _setting("RETAIN", _one_of(RemovalPolicyName))
    # Schedule
    schedule_enabled: bool = _setting(True, _boolean())
    schedule_expression: str = _setting(
        "cron(0 3 ? * SUN *)",
        _schedule(),
    )
    schedule_timezone: str = _setting("UTC", _timezone())
    # Raw input format (Glue job arguments) and the transform
    raw_prefix: str = _setting("ratings/", _matching(_S3_PREFIX_RE, "an S3 key prefix ending in '/', e.g. ratings/"))
    raw_delimiter: str = _setting("\t", _single_character())
    raw_has_header: bool = _setting(True, _boolean())
    raw_user_column: str = _setting("userID", _column())
    raw_item_column: str = _setting("movieID", _column())
    raw_rating_column: str = _setting("rating", _column())
    raw_timestamp_column: str = _setting("timestamp", _column())
    raw_timestamp_unit: TimestampUnit = _setting("ms", _one_of(TimestampUnit))
    raw_encoding: Encoding = _setting("utf-8", _one_of(Encoding))
    min_rating: float = _setting(3.5, _number(0.5, 5.0, step=0.5))
    # Glue
    glue_worker_type: GlueWorkerTypeName = _setting("G.1X", _one_of(GlueWorkerTypeName))
    glue_worker_count: int = _setting(2, _whole_number(2, 100))
    glue_timeout_minutes: int = _setting(60, _whole_number(5, 2880))
    # Personalize
    recipe: Recipe = _setting("aws-user-personalization", _one_of(Recipe))
    perform_auto_training: bool = _setting(False, _boolean())
    training_mode: TrainingMode = _setting("FULL", _one_of(TrainingMode))
    import_mode: ImportMode = _setting("FULL", _one_of(ImportMode))
    num_results: int = _setting(25, _whole_number(1, 500))
    filter_arn: str | None = _setting(
        None, _optional(_matching(_PERSONALIZE_FILTER_ARN_RE, "a Personalize filter ARN, or empty"))
    )
    exploration_weight: float | None = _setting(None, _optional(_number(0.0, 1.0)))
    exploration_item_age_cut_off_days: int | None = _setting(None, _optional(_whole_number(1, 3650)))
    # Several solutions per run (README "Solutions"). Empty: one solution named "solution" from recipe,
    # training_mode, perform_auto_training and num_results above, which are also each entry's defaults.
    # `__post_init__` replaces the raw entries by `SolutionSpec`s, so `config.solutions` is never empty.
    solutions: tuple[SolutionSpec, ...] = _setting((), _solutions())
    # The items batch input (related items, item affinity): 0 = every item with a kept interaction, N = the N
    # items with the most kept interactions (ties: smaller item id first).
    batch_items_top_n: int = _setting(0, _whole_number(0, 50_000_000))
    # Orchestration: how often job states are polled and how long anything may take. A job's end falls
    # anywhere in a poll interval, so the default 45 s keeps the mean detection lag near 22 s and the worst
    # under 60 s; a run with 3 h of training then takes about 1,200 state transitions (benchmarks/orchestration.py
    # measures both; its targets are a mean lag <= 30 s and <= 1,500 transitions).
    status_poll_seconds: int = _setting(45, _whole_number(5, 3600))
    busy_retry_seconds: int = _setting(60, _whole_number(5, 3600))
    busy_retry_max_attempts: int = _setting(60, _whole_number(1, 1000))
    job_max_wait_hours: int = _setting(12, _whole_number(1, 72))
    execution_timeout_hours: int = _setting(24, _whole_number(1, 168))
    # Metadata datasets (issue 12): item and user metadata imported beside the interactions, each from its own
    # raw prefixes. A typed structure rather than flat keys: a dataset has several sources and fields.
    items_dataset: DatasetSpec | None = _setting(None, _metadata_dataset("items"))
    users_dataset: DatasetSpec | None = _setting(None, _metadata_dataset("users"))
    # Alerting
    notification_email: str | None = _setting(
        None, _optional(_matching(_EMAIL_RE, "an e-mail address such as ops@example.com, or empty"))
    )
    # Model quality gate, run accounting and downstream signals (the rule's meaning and defaults:
    # lambda_src/model_gate/gate.py; the prices and their sources: lambda_src/model_gate/costs.py).
    quality_gate_metric: str = _setting(DEFAULT_METRIC, _gate_metric())
    quality_gate_min_value: float = _setting(DEFAULT_MIN_VALUE, _number(0.0, 1.0))
    quality_gate_max_relative_drop: float = _setting(DEFAULT_MAX_RELATIVE_DROP, _number(0.0, 1.0))
    quality_gate_on_fail: QualityGateOnFail = _setting("fail", _one_of(QualityGateOnFail))
    quality_gate_on_missing_metric: QualityGateOnMissingMetric = _setting(
        "reject", _one_of(QualityGateOnMissingMetric)
    )
    # Unit prices as (key, value) pairs (hashable, as the frozen config must be); `price_overrides` as a dict.
    prices: tuple[tuple[str, Any], ...] = _setting((), _prices())
    # The freshness alarm's window. CloudWatch caps an alarm's evaluation range at 7 days (PutMetricAlarm:
    # Period x EvaluationPeriods <= 604,800 s), so 168 h is the longest age an alarm can watch; it is the
    # default, as the weekly schedule leaves no shorter window without an alarm every week.
    freshness_max_age_hours: int = _setting(168, _whole_number(1, 168))
    glue_execution_class: GlueExecutionClassName = _setting("STANDARD", _one_of(GlueExecutionClassName))

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The context keys the configuration reads (the field names)."""
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def from_context(cls, get_context: Callable[[str], Any]) -> PipelineConfig:
        """Builds the config from a context lookup (`app.node.try_get_context`); absent keys take defaults."""
        values = {}
        for field in dataclasses.fields(cls):
            raw = get_context(field.name)
            if raw is not None:
                values[field.name] = field.metadata["parse"](field.name, raw)
        config = cls(**values)
        config._check_combinations()
        return config

    def __post_init__(self) -> None:
        # The raw `solutions` entries become `SolutionSpec`s here (their defaults are other keys), so every
        # config, however built, lists the solutions a run trains.
        if not self.solutions or not all(isinstance(spec, SolutionSpec) for spec in self.solutions):
            object.__setattr__(self, "solutions", self._resolve_solutions())

    def _resolve_solutions(self) -> tuple[SolutionSpec, ...]:
        """`SolutionSpec`s from the raw entries (or the one default solution), each checked against the others and
        against the datasets it needs."""
        if not self.solutions:  # not yet resolved: the raw entries, or none
            entries: list[dict[str, Any]] = [{"name": DEFAULT_SOLUTION_NAME, "recipe": self.recipe}]
            where = ["recipe"]
        else:
            entries = [{k: list(v) if isinstance(v, tuple) else v for k, v in raw} for raw in self.solutions]  # type: ignore[attr-defined]
            where = [f"solutions[{index}]" for index in range(len(entries))]
        if len(entries) > SOLUTION_VERSIONS_QUOTA:
            raise ConfigError.invalid(
                "solutions", len(entries), f"at most {SOLUTION_VERSIONS_QUOTA} solutions (solution versions training "
                "at once per region)"
            )
        places: list[str | None] = list(where) if self.solutions else [None]
        specs = [self._solution(entry, at) for entry, at in zip(entries, places, strict=True)]
        seen: set[str] = set()
        for spec, at in zip(specs, where, strict=True):
            if spec.name in seen:
                raise ConfigError.invalid(f"{at}.name", spec.name, "a name no other solution has")
            seen.add(spec.name)
        return tuple(specs)

    def _solution(self, entry: Mapping[str, Any], at: str | None) -> SolutionSpec:
        """One entry (`at` = its place, e.g. solutions[1]; None for the default solution, whose keys are the
        top-level ones)."""

        def key(name: str) -> str:
            return f"{at}.{name}" if at else name

        name = self._solution_name(entry.get("name"), key("name"))
        recipe, kind = self._solution_recipe(entry, key)
        training_mode = _one_of(TrainingMode)(key("training_mode"), entry.get("training_mode", self.training_mode))
        if training_mode == "UPDATE" and recipe not in UPDATE_TRAINING_RECIPES:
            raise ConfigError.invalid(
                key("training_mode"),
                training_mode,
                f"FULL when recipe is {recipe} (UPDATE needs {UPDATE_TRAINING_RECIPES[0]})",
            )
        if kind.job_type == "batch_segment":  # an output file (max_job_records lines) must fit one post-processing run
            results = _whole_number(1, segment_num_results_max(kind.max_job_records or 1)), SEGMENT_NUM_RESULTS_DEFAULT
        else:
            results = _whole_number(1, 500), self.num_results
        metric = entry.get("quality_gate_metric", self.quality_gate_metric)
        if not isinstance(metric, str) or not re.match(r"^[a-z][a-z0-9_]*$", metric):
            raise ConfigError.invalid(
                key("quality_gate_metric"), metric, "a Personalize metric name, e.g. precision_at_25"
            )
        return SolutionSpec(
            name=name,
            recipe=recipe,
            output_kind=kind,
            training_mode=training_mode,
            perform_auto_training=_boolean()(
                key("perform_auto_training"), entry.get("perform_auto_training", self.perform_auto_training)
            ),
            num_results=results[0](key("num_results"), entry.get("num_results", results[1])),
            queries=_solution_queries(entry.get("queries", ()), key("queries"), kind),
            quality_gate_metric=metric,
            quality_gate_min_value=_number(0.0, 1.0)(
                key("quality_gate_min_value"), entry.get("quality_gate_min_value", self.quality_gate_min_value)
            ),
        )

    def _solution_name(self, name: Any, key: str) -> str:
        if not isinstance(name, str) or not SOLUTION_NAME_PATTERN.match(name):
            raise ConfigError.invalid(
                key, name, "1-20 characters: lower-case letters, digits and '_', starting with a letter (it "
                "names the Personalize solution, its jobs, S3 folders and states)"
            )
        longest_prefix = self.resource_name(job_name_prefix_step("batch", name))
        if len(longest_prefix) > JOB_NAME_PREFIX_MAX:
            raise ConfigError.invalid(
                key, name, f"a name of at most {JOB_NAME_PREFIX_MAX - len(longest_prefix) + len(name)} "
                f"characters with prefix {self.prefix!r} and environment {self.environment!r} (job names such as "
                f"{longest_prefix}-<run>-0001 must fit Personalize's 63)"
            )
        return name

    def _solution_recipe(self, entry: Mapping[str, Any], key: Callable[[str], str]) -> tuple[str, OutputKind]:
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
        if kind.job_type == "batch_segment" and self.items_dataset is None:
            # USER_SEGMENTATION recipes train on the Interactions and Items datasets (Personalize developer guide,
            # "USER_SEGMENTATION recipes"); item-attribute queries are on item attributes.
            raise ConfigError.invalid(
                key("recipe"), recipe, f"a recipe of another output kind than {kind.name}, or an items_dataset "
                "(USER_SEGMENTATION recipes train on the Items dataset)"
            )
        return recipe, kind

    @classmethod
    def from_mapping(cls, context: Mapping[str, Any]) -> PipelineConfig:
        return cls.from_context(context.get)

    def _check_combinations(self) -> None:
        if self.status_poll_seconds * 2 > self.job_max_wait_hours * 3600:
            raise ConfigError.invalid(
                "status_poll_seconds", self.status_poll_seconds, "at most half of job_max_wait_hours"
            )
        if self.glue_execution_class == "FLEX" and self.glue_worker_type not in FLEX_WORKER_TYPES:
            raise ConfigError.invalid(
                "glue_execution_class",
                self.glue_execution_class,
                f"STANDARD when glue_worker_type is {self.glue_worker_type} "
                f"(FLEX runs on {', '.join(FLEX_WORKER_TYPES)})",
            )
        self._check_metadata_prefixes()
        if self.execution_timeout_hours <= self.job_max_wait_hours:
            raise ConfigError.invalid(
                "execution_timeout_hours",
                self.execution_timeout_hours,
                f"more than job_max_wait_hours ({self.job_max_wait_hours}): one run waits for several jobs",
            )

    def _check_metadata_prefixes(self) -> None:
        """The ratings ETL reads everything under raw_prefix: a metadata file there would be read as ratings."""
        for spec in self.metadata_datasets:
            for index, source in enumerate(spec.sources):
                if source.prefix.startswith(self.raw_prefix) or self.raw_prefix.startswith(source.prefix):
                    raise ConfigError.invalid(
                        f"{spec.kind}_dataset.sources[{index}].prefix",
                        source.prefix,
                        f"a prefix that neither contains nor lies under raw_prefix ({self.raw_prefix})",
                    )

    @property
    def metadata_datasets(self) -> tuple[DatasetSpec, ...]:
        """The configured Items / Users datasets, items first."""
        return tuple(spec for spec in (self.items_dataset, self.users_dataset) if spec is not None)

    @property
    def destroy_data(self) -> bool:
        return self.data_removal_policy == "DESTROY"

    @property
    def removal_policy(self) -> RemovalPolicy:
        """What happens to the data stack's buckets, keys and dataset group on `cdk destroy`."""
        return REMOVAL_POLICIES[self.data_removal_policy]

    @property
    def glue_worker(self) -> glue.WorkerType:
        return GLUE_WORKER_TYPES[self.glue_worker_type]

    @property
    def glue_execution(self) -> glue.ExecutionClass:
        return GLUE_EXECUTION_CLASSES[self.glue_execution_class]

    @property
    def price_overrides(self) -> dict[str, Any]:
        """The configured unit prices (the account function fills in the defaults for absent keys)."""
        return dict(self.prices)

    @property
    def batch_input_kinds(self) -> tuple[InputKind, ...]:
        """The batch inputs the Glue job writes for the configured solutions (users, items, item_attributes)."""
        return tuple(dict.fromkeys(spec.input_kind for spec in self.solutions))

    def solutions_of_job_type(self, job_type: JobType) -> tuple[SolutionSpec, ...]:
        """The solutions whose batch jobs share one quota (5 in progress per region and job type)."""
        return tuple(spec for spec in self.solutions if spec.job_type == job_type)

    def quality_gate_rule_of(self, spec: SolutionSpec) -> dict[str, Any]:
        """The gate's rule for one solution, as the state machine passes it to the evaluate function."""
        return {**self.quality_gate_rule, "metric": spec.quality_gate_metric, "minValue": spec.quality_gate_min_value}

    @property
    def quality_gate_rule(self) -> dict[str, Any]:
        """The gate's rule as the state machine passes it to the evaluate function (camelCase)."""
        return {
            "metric": self.quality_gate_metric,
            "minValue": self.quality_gate_min_value,
            "maxRelativeDrop": self.quality_gate_max_relative_drop,
            "onFail": self.quality_gate_on_fail,
            "onMissingMetric": self.quality_gate_on_missing_metric,
        }

    def resource_name(self, suffix: str) -> str:
        """A physical name unique to this deployment, e.g. `pbp-dev-interactions`."""
        return f"{self.prefix}-{self.environment}-{suffix}"
