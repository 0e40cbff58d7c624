"""The app's one configuration object, read from `cdk.json` context and validated at synth time.

Every key lives in `cdk.json` under `context`; `npx cdk synth -c key=value` overrides one. Values
given on the command line arrive as strings, so every field is parsed from either form. A bad
value raises `ConfigError` naming the key, the value and what is allowed, which stops synth
before anything reaches CloudFormation.
"""

from __future__ import annotations

import dataclasses
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

T = TypeVar("T")

RECIPES = ("aws-user-personalization", "aws-user-personalization-v2")
# G.025X is for Glue streaming jobs only; the ratings ETL is a batch job.
GLUE_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")
TRAINING_MODES = ("FULL", "UPDATE")
IMPORT_MODES = ("FULL", "INCREMENTAL")
REMOVAL_POLICIES = ("RETAIN", "DESTROY")
TIMESTAMP_UNITS = ("ms", "s")

_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}[a-z0-9]$")
_ENVIRONMENT_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
_SCHEDULE_RE = re.compile(r"^(cron\(.+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|at\(.+\))$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PERSONALIZE_FILTER_ARN_RE = re.compile(r"^arn:aws[a-z-]*:personalize:[a-z0-9-]+:\d{12}:filter/[a-zA-Z0-9][a-zA-Z0-9\-_]*$")


class ConfigError(ValueError):
    """A context value that cannot be deployed; the message names key, value and what is allowed."""

    @classmethod
    def invalid(cls, key: str, value: Any, allowed: str) -> "ConfigError":
        """The one message format for a bad configuration value, wherever it is detected."""
        return cls(f"cdk.json context key '{key}' has value {value!r}; allowed: {allowed}")


def _fail(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError.invalid(key, value, allowed)


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _fail(key, value, "true or false")


def _as_int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise _fail(key, value, f"a whole number from {low} to {high}")
    try:
        number = int(value) if not isinstance(value, float) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise _fail(key, value, f"a whole number from {low} to {high}")
    return number


def _as_float(key: str, value: Any, low: float, high: float, step: float | None = None) -> float:
    allowed = f"a number from {low} to {high}" + (f" in steps of {step}" if step else "")
    if isinstance(value, bool):
        raise _fail(key, value, allowed)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _fail(key, value, allowed) from None
    if not low <= number <= high or (step and abs(round(number / step) * step - number) > 1e-9):
        raise _fail(key, value, allowed)
    return number


def _one_of(key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(key, value, "one of " + ", ".join(choices))
    return value


def _matching(key: str, value: Any, pattern: re.Pattern[str], allowed: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise _fail(key, value, allowed)
    return value


def _optional(parse: Callable[[str, Any], T]) -> Callable[[str, Any], T | None]:
    def parse_optional(key: str, value: Any) -> T | None:
        return None if value in (None, "") else parse(key, value)

    return parse_optional


def _timezone(key: str, value: Any) -> str:
    if not isinstance(value, str) or value not in zoneinfo.available_timezones():
        raise _fail(key, value, "an IANA time zone name such as UTC or Europe/Berlin")
    return value


def _single_char(key: str, value: Any) -> str:
    # cdk.json cannot hold a literal tab comfortably, so the escape "\t" is accepted too.
    decoded = {"\\t": "\t", "tab": "\t"}.get(value, value) if isinstance(value, str) else value
    if not isinstance(decoded, str) or len(decoded) != 1:
        raise _fail(key, value, 'a single character, or "\\t" / "tab" for a tab')
    return decoded


def _column(key: str, value: Any) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
        raise _fail(key, value, "a column name from the header, or a 0-based position")
    return str(value)


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """Everything a deployment can choose. Defaults are what `cdk.json` ships with."""

    # Naming and lifecycle
    prefix: str = "pbp"
    environment: str = "dev"
    data_removal_policy: str = "RETAIN"
    # Schedule
    schedule_enabled: bool = True
    schedule_expression: str = "cron(0 3 ? * SUN *)"
    schedule_timezone: str = "UTC"
    # Raw input format (Glue job arguments) and the transform
    raw_prefix: str = "ratings/"
    raw_delimiter: str = "\t"
    raw_has_header: bool = True
    raw_user_column: str = "userID"
    raw_item_column: str = "movieID"
    raw_rating_column: str = "rating"
    raw_timestamp_column: str = "timestamp"
    raw_timestamp_unit: str = "ms"
    min_rating: float = 3.5
    # Glue
    glue_worker_type: str = "G.1X"
    glue_worker_count: int = 2
    glue_timeout_minutes: int = 60
    # Personalize
    recipe: str = "aws-user-personalization"
    perform_auto_training: bool = False
    training_mode: str = "FULL"
    import_mode: str = "FULL"
    num_results: int = 25
    filter_arn: str | None = None
    exploration_weight: float | None = None
    exploration_item_age_cut_off_days: int | None = None
    # Orchestration: how often job states are polled and how long anything may take
    status_poll_seconds: int = 45  # fixed poll: mean detection lag ~22 s, <= 1,500 transitions for a 3 h run
    busy_retry_seconds: int = 60
    busy_retry_max_attempts: int = 60
    job_max_wait_hours: int = 12
    execution_timeout_hours: int = 24
    # Alerting
    notification_email: str | None = None

    # Per key: how a raw context value becomes a field value (and is validated on the way).
    @staticmethod
    def _parsers() -> dict[str, Callable[[str, Any], Any]]:
        return {
            "prefix": lambda k, v: _matching(
                k, v, _PREFIX_RE, "2-16 characters: lower-case letters, digits and '-', starting with a letter"
            ),
            "environment": lambda k, v: _matching(
                k, v, _ENVIRONMENT_RE, "1-10 lower-case letters and digits, starting with a letter (e.g. dev, prod)"
            ),
            "data_removal_policy": lambda k, v: _one_of(k, v, REMOVAL_POLICIES),
            "schedule_enabled": _as_bool,
            "schedule_expression": lambda k, v: _matching(
                k, v, _SCHEDULE_RE, "an EventBridge Scheduler expression: cron(...), rate(N unit) or at(...)"
            ),
            "schedule_timezone": _timezone,
            "raw_prefix": lambda k, v: _matching(
                k, v, re.compile(r"^([A-Za-z0-9!_.*'()-]+/)+$"), "an S3 key prefix ending in '/', e.g. ratings/"
            ),
            "raw_delimiter": _single_char,
            "raw_has_header": _as_bool,
            "raw_user_column": _column,
            "raw_item_column": _column,
            "raw_rating_column": _column,
            "raw_timestamp_column": _column,
            "raw_timestamp_unit": lambda k, v: _one_of(k, v, TIMESTAMP_UNITS),
            "min_rating": lambda k, v: _as_float(k, v, 0.5, 5.0, 0.5),
            "glue_worker_type": lambda k, v: _one_of(k, v, GLUE_WORKER_TYPES),
            "glue_worker_count": lambda k, v: _as_int(k, v, 2, 100),
            "glue_timeout_minutes": lambda k, v: _as_int(k, v, 5, 2880),
            "recipe": lambda k, v: _one_of(k, v, RECIPES),
            "perform_auto_training": _as_bool,
            "training_mode": lambda k, v: _one_of(k, v, TRAINING_MODES),
            "import_mode": lambda k, v: _one_of(k, v, IMPORT_MODES),
            "num_results": lambda k, v: _as_int(k, v, 1, 500),
            "filter_arn": _optional(
                lambda k, v: _matching(k, v, _PERSONALIZE_FILTER_ARN_RE, "a Personalize filter ARN, or empty")
            ),
            "exploration_weight": _optional(lambda k, v: _as_float(k, v, 0.0, 1.0)),
            "exploration_item_age_cut_off_days": _optional(lambda k, v: _as_int(k, v, 1, 3650)),
            "status_poll_seconds": lambda k, v: _as_int(k, v, 5, 3600),
            "busy_retry_seconds": lambda k, v: _as_int(k, v, 5, 3600),
            "busy_retry_max_attempts": lambda k, v: _as_int(k, v, 1, 1000),
            "job_max_wait_hours": lambda k, v: _as_int(k, v, 1, 72),
            "execution_timeout_hours": lambda k, v: _as_int(k, v, 1, 168),
            "notification_email": _optional(
                lambda k, v: _matching(k, v, _EMAIL_RE, "an e-mail address such as ops@example.com, or empty")
            ),
        }

    @classmethod
    def from_context(cls, get_context: Callable[[str], Any]) -> "PipelineConfig":
        """Builds the config from a context lookup (`app.node.try_get_context`); absent keys take defaults."""
        defaults = {field.name: getattr(cls(), field.name) for field in dataclasses.fields(cls)}
        values = {}
        for key, parse in cls._parsers().items():
            raw = get_context(key)
            values[key] = defaults[key] if raw is None else parse(key, raw)
        config = cls(**values)
        config._check_combinations()
        return config

    @classmethod
    def from_mapping(cls, context: Mapping[str, Any]) -> "PipelineConfig":
        return cls.from_context(context.get)

    def _check_combinations(self) -> None:
        if self.training_mode == "UPDATE" and self.recipe != "aws-user-personalization":
            raise _fail(
                "training_mode", self.training_mode, "FULL when recipe is not aws-user-personalization (UPDATE needs it)"
            )
        if self.status_poll_seconds * 2 > self.job_max_wait_hours * 3600:
            raise _fail("status_poll_seconds", self.status_poll_seconds, "at most half of job_max_wait_hours")
        if self.execution_timeout_hours <= self.job_max_wait_hours:
            raise _fail(
                "execution_timeout_hours",
                self.execution_timeout_hours,
                f"more than job_max_wait_hours ({self.job_max_wait_hours}): one run waits for several jobs",
            )

    @property
    def destroy_data(self) -> bool:
        return self.data_removal_policy == "DESTROY"

    def resource_name(self, suffix: str) -> str:
        """A physical name unique to this deployment, e.g. `pbp-dev-interactions`."""
        return f"{self.prefix}-{self.environment}-{suffix}"
