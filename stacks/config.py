"""The app's one configuration object, read from `cdk.json` context and validated at synth time.

Every key lives in `cdk.json` under `context`; `npx cdk synth -c key=value` overrides one, and a named
configuration (`-c config=NAME`, see `stacks/app_factory.py`) overrides several. Values given on the command
line arrive as strings, so every field is parsed from either form; each field names its parser next to its
default. A bad value raises `ConfigError` naming the key, the value and what is allowed, which stops synth
before anything reaches CloudFormation.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aws_cdk import RemovalPolicy
from aws_cdk import aws_glue as glue

from lambda_src.model_gate.gate import (
    DEFAULT_MAX_RELATIVE_DROP,
    DEFAULT_METRIC,
    DEFAULT_MIN_VALUE,
)
from pipeline_contracts.metadata_datasets import DatasetSpec, Encoding
from pipeline_contracts.solutions import InputKind, JobType
from stacks import config_parsers as parsers
from stacks.config_parsers import DEFAULT_SOURCE as DEFAULT_SOURCE  # importers read it from here, beside ConfigError
from stacks.config_filters import FilterSpec, event_type, event_type_list, filter_entries, resolve_filters
from stacks.config_parsers import ConfigError, Parser, RetrainCadence
from pipeline_contracts.event_types import MAX_AGE_DAYS_MAX
from stacks.config_solutions import SolutionSpec, TrainingMode, resolve_solutions, solution_entries

RemovalPolicyName = Literal["RETAIN", "DESTROY"]
# G.025X is for Glue streaming jobs only; the ratings ETL is a batch job.
GlueWorkerTypeName = Literal["G.1X", "G.2X", "G.4X", "G.8X"]
Recipe = Literal["aws-user-personalization", "aws-user-personalization-v2"]
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


def _setting(default: Any, parser: Parser) -> Any:
    """A field with its default and the parser of its raw context value, side by side."""
    return dataclasses.field(default=default, metadata={"parse": parser})


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """Everything a deployment can choose. Defaults are what `cdk.json` ships with."""

    # Naming and lifecycle
    prefix: str = _setting(
        "pbp",
        parsers.matching(_PREFIX_RE, "2-16 characters: lower-case letters, digits and '-', starting with a letter"),
    )
    environment: str = _setting(
        "dev",
        parsers.matching(
            _ENVIRONMENT_RE, "1-10 lower-case letters and digits, starting with a letter (e.g. dev, prod)"
        ),
    )
    data_removal_policy: RemovalPolicyName = _setting("RETAIN", parsers.one_of(RemovalPolicyName))
    # Schedule
    schedule_enabled: bool = _setting(True, parsers.boolean())
    schedule_expression: str = _setting(
        "cron(0 3 ? * SUN *)",
        parsers.schedule(),
    )
    schedule_timezone: str = _setting("UTC", parsers.timezone())
    # Raw input format (Glue job arguments) and the transform
    raw_prefix: str = _setting(
        "ratings/", parsers.matching(_S3_PREFIX_RE, "an S3 key prefix ending in '/', e.g. ratings/")
    )
    raw_delimiter: str = _setting("\t", parsers.single_character())
    raw_has_header: bool = _setting(True, parsers.boolean())
    raw_user_column: str = _setting("userID", parsers.column())
    raw_item_column: str = _setting("movieID", parsers.column())
    # Empty: no rating column (implicit feedback: every kept interaction counts, min_rating is not applied).
    raw_rating_column: str | None = _setting("rating", parsers.optional(parsers.column()))
    raw_timestamp_column: str = _setting("timestamp", parsers.column())
    raw_timestamp_unit: TimestampUnit = _setting("ms", parsers.one_of(TimestampUnit))
    raw_encoding: Encoding = _setting("utf-8", parsers.one_of(Encoding))
    min_rating: float = _setting(3.5, parsers.number(0.5, 5.0, step=0.5))
    # Incremental ETL (docs/run.md "Incremental ETL"): each run reads only the raw objects no earlier successful
    # run processed (a ledger of key and ETag), and rebuilds in full every `etl_full_rebuild_every_days` (0: only
    # on demand). Off: every run reads the whole raw prefix, as before.
    etl_incremental: bool = _setting(False, parsers.boolean())
    etl_full_rebuild_every_days: int = _setting(7, parsers.whole_number(0, 3650))
    # Event types (README "Filters and event types"): EVENT_TYPE is read from raw_event_type_column, or is
    # default_event_type on every row when that is empty; EVENT_VALUE from raw_event_value_column (empty: null).
    raw_event_type_column: str | None = _setting(None, parsers.optional(parsers.column()))
    default_event_type: str = _setting("rating", event_type())
    raw_event_value_column: str | None = _setting(None, parsers.optional(parsers.column()))
    # Only rows of these event types are kept (empty: all).
    keep_event_types: tuple[str, ...] = _setting((), event_type_list())
    # The recent window: only interactions of the last N days before the run's start are kept (0: all).
    raw_max_age_days: int = _setting(0, parsers.whole_number(0, MAX_AGE_DAYS_MAX))
    # Glue
    glue_worker_type: GlueWorkerTypeName = _setting("G.1X", parsers.one_of(GlueWorkerTypeName))
    glue_worker_count: int = _setting(2, parsers.whole_number(2, 100))
    glue_timeout_minutes: int = _setting(60, parsers.whole_number(5, 2880))
    # Personalize
    recipe: Recipe = _setting("aws-user-personalization", parsers.one_of(Recipe))
    perform_auto_training: bool = _setting(False, parsers.boolean())
    training_mode: TrainingMode = _setting("FULL", parsers.one_of(TrainingMode))
    # Cadence (docs/run.md "Cadences"): days between FULL trainings and between UPDATE trainings; a run in between
    # reuses the last accepted version. Each solution's default; both 0: every run trains.
    retrain: RetrainCadence = _setting(RetrainCadence(), parsers.retrain_cadence())
    import_mode: ImportMode = _setting("FULL", parsers.one_of(ImportMode))
    num_results: int = _setting(25, parsers.whole_number(1, 500))
    # Filters the data stack creates (name + expression, checked at synth); a solution names the one its batch
    # jobs use (`filter` in its entry). `__post_init__` replaces the raw entries by `FilterSpec`s.
    filters: tuple[FilterSpec, ...] = _setting((), filter_entries())
    # A filter made outside this app, for user-recommendation solutions that name no `filter` of their own.
    filter_arn: str | None = _setting(
        None, parsers.optional(parsers.matching(_PERSONALIZE_FILTER_ARN_RE, "a Personalize filter ARN, or empty"))
    )
    exploration_weight: float | None = _setting(None, parsers.optional(parsers.number(0.0, 1.0)))
    exploration_item_age_cut_off_days: int | None = _setting(None, parsers.optional(parsers.whole_number(1, 3650)))
    # Several solutions per run (README "Solutions"). Empty: one solution named "solution" from recipe,
    # training_mode, perform_auto_training and num_results above, which are also each entry's defaults.
    # `__post_init__` replaces the raw entries by `SolutionSpec`s, so `config.solutions` is never empty.
    solutions: tuple[SolutionSpec, ...] = _setting((), solution_entries())
    # The items batch input (related items, item affinity): 0 = every item with a kept interaction, N = the N
    # items with the most kept interactions (ties: smaller item id first).
    batch_items_top_n: int = _setting(0, parsers.whole_number(0, 50_000_000))
    # Orchestration: how often job states are polled and how long anything may take. A job's end falls
    # anywhere in a poll interval, so the default 45 s keeps the mean detection lag near 22 s and the worst
    # under 60 s; a run with 3 h of training then takes about 1,200 state transitions (benchmarks/orchestration.py
    # measures both; its targets are a mean lag <= 30 s and <= 1,500 transitions).
    status_poll_seconds: int = _setting(45, parsers.whole_number(5, 3600))
    busy_retry_seconds: int = _setting(60, parsers.whole_number(5, 3600))
    busy_retry_max_attempts: int = _setting(60, parsers.whole_number(1, 1000))
    job_max_wait_hours: int = _setting(12, parsers.whole_number(1, 72))
    execution_timeout_hours: int = _setting(24, parsers.whole_number(1, 168))
    # Metadata datasets (issue 12): item and user metadata imported beside the interactions, each from its own
    # raw prefixes. A typed structure rather than flat keys: a dataset has several sources and fields.
    items_dataset: DatasetSpec | None = _setting(None, parsers.metadata_dataset("items"))
    users_dataset: DatasetSpec | None = _setting(None, parsers.metadata_dataset("users"))
    # Alerting (failed runs, alarms) and notices (each successful run's summary), each on its own topic
    notification_email: str | None = _setting(
        None, parsers.optional(parsers.matching(_EMAIL_RE, "an e-mail address such as ops@example.com, or empty"))
    )
    notices_email: str | None = _setting(
        None, parsers.optional(parsers.matching(_EMAIL_RE, "an e-mail address such as team@example.com, or empty"))
    )
    # Model quality gate, run accounting and downstream signals (the rule's meaning and defaults:
    # lambda_src/model_gate/gate.py; the prices and their sources: lambda_src/model_gate/costs.py).
    quality_gate_metric: str = _setting(DEFAULT_METRIC, parsers.gate_metric())
    quality_gate_min_value: float = _setting(DEFAULT_MIN_VALUE, parsers.number(0.0, 1.0))
    quality_gate_max_relative_drop: float = _setting(DEFAULT_MAX_RELATIVE_DROP, parsers.number(0.0, 1.0))
    quality_gate_on_fail: QualityGateOnFail = _setting("fail", parsers.one_of(QualityGateOnFail))
    quality_gate_on_missing_metric: QualityGateOnMissingMetric = _setting(
        "reject", parsers.one_of(QualityGateOnMissingMetric)
    )
    # Unit prices as (key, value) pairs (hashable, as the frozen config must be); `price_overrides` as a dict.
    prices: tuple[tuple[str, Any], ...] = _setting((), parsers.prices())
    # The freshness alarm's window. CloudWatch caps an alarm's evaluation range at 7 days (PutMetricAlarm:
    # Period x EvaluationPeriods <= 604,800 s), so 168 h is the longest age an alarm can watch; it is the
    # default, as the weekly schedule leaves no shorter window without an alarm every week.
    freshness_max_age_hours: int = _setting(168, parsers.whole_number(1, 168))
    glue_execution_class: GlueExecutionClassName = _setting("STANDARD", parsers.one_of(GlueExecutionClassName))

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
        # config, however built, lists the solutions a run trains. Filters first: a solution names its filter.
        if not all(isinstance(spec, FilterSpec) for spec in self.filters):
            object.__setattr__(self, "filters", resolve_filters(self))
        if not self.solutions or not all(isinstance(spec, SolutionSpec) for spec in self.solutions):
            object.__setattr__(self, "solutions", resolve_solutions(self))

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
        kept = self.keep_event_types
        if kept and not self.raw_event_type_column and self.default_event_type not in kept:
            raise ConfigError.invalid(
                "keep_event_types",
                list(self.keep_event_types),
                f"a list holding default_event_type ({self.default_event_type}) while raw_event_type_column is "
                "empty (every row has that type: nothing else would be kept)",
            )
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

    def filter_named(self, name: str) -> FilterSpec:
        return next(spec for spec in self.filters if spec.name == name)

    @property
    def event_types(self) -> tuple[str, ...] | None:
        """The event types the interactions can hold: keep_event_types, the one default_event_type when no column
        is read, None when any type read from the column may appear."""
        if self.keep_event_types:
            return self.keep_event_types
        return None if self.raw_event_type_column else (self.default_event_type,)

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
