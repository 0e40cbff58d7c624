"""The parsers of the configuration's fields, and `ConfigError`, what each raises for a value it cannot take.

Each factory returns the `Parser` of one kind of field (stacks/config.py names one next to each field's default).
A context value arrives either as JSON from `cdk.json` or as a string from `-c key=value`, so every parser reads
both forms.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, get_args

from lambda_src.model_gate.costs import InvalidPriceTable, PriceTable
from lambda_src.model_gate.gate import USER_PERSONALIZATION_METRICS
from pipeline_contracts.metadata_datasets import DatasetKind, DatasetSpec, DatasetSpecError, parse_dataset
from pipeline_contracts.schedule_times import ScheduleExpressionError, validate_expression

T = TypeVar("T")
Parser = Callable[[str, Any], Any]
"""(key, raw context value) -> the field's value; raises `ConfigError` for a value it cannot take."""


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


def boolean() -> Parser:
    def parse(key: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ConfigError.invalid(key, value, "true or false")

    return parse


def whole_number(low: int, high: int) -> Parser:
    def parse(key: str, value: Any) -> int:
        # bool is an int to Python and a float would be truncated silently: neither is a count.
        number = None if isinstance(value, (bool, float)) else or_none(int, value)
        if number is None or not low <= number <= high:
            raise ConfigError.invalid(key, value, f"a whole number from {low} to {high}")
        return number

    return parse


def number(low: float, high: float, step: float | None = None) -> Parser:
    allowed = f"a number from {low} to {high}" + (f" in steps of {step}" if step else "")

    def parse(key: str, value: Any) -> float:
        number = None if isinstance(value, bool) else or_none(float, value)
        if number is None or not low <= number <= high or (step and abs(round(number / step) * step - number) > 1e-9):
            raise ConfigError.invalid(key, value, allowed)
        return number

    return parse


def or_none(convert: Callable[[Any], T], value: Any) -> T | None:
    try:
        return convert(value)
    except (TypeError, ValueError):
        return None


def one_of(choices: Any) -> Parser:
    """A parser for the values of a `Literal` type."""
    allowed: tuple[str, ...] = get_args(choices)

    def parse(key: str, value: Any) -> str:
        if value not in allowed:
            raise ConfigError.invalid(key, value, "one of " + ", ".join(allowed))
        return value

    return parse


def matching(pattern: re.Pattern[str], allowed: str) -> Parser:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise ConfigError.invalid(key, value, allowed)
        return value

    return parse


def optional(parse: Parser) -> Parser:
    """cdk.json spells "not set" as an empty string (JSON has null, but `-c key=` gives "")."""

    def parse_optional(key: str, value: Any) -> Any:
        return None if value in (None, "") else parse(key, value)

    return parse_optional


def timezone() -> Parser:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, str) or value not in zoneinfo.available_timezones():
            raise ConfigError.invalid(key, value, "an IANA time zone name such as UTC or Europe/Berlin")
        return value

    return parse


def schedule() -> Parser:
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


def single_character() -> Parser:
    def parse(key: str, value: Any) -> str:
        # cdk.json cannot hold a literal tab comfortably, so the escape "\t" is accepted too.
        decoded = {"\\t": "\t", "tab": "\t"}.get(value, value) if isinstance(value, str) else value
        if not isinstance(decoded, str) or len(decoded) != 1:
            raise ConfigError.invalid(key, value, 'a single character, or "\\t" / "tab" for a tab')
        return decoded

    return parse


def column() -> Parser:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
            raise ConfigError.invalid(key, value, "a column name from the header, or a 0-based position")
        return str(value)

    return parse


def gate_metric() -> Parser:
    def parse(key: str, value: Any) -> str:
        if value not in USER_PERSONALIZATION_METRICS:
            raise ConfigError.invalid(key, value, "one of " + ", ".join(USER_PERSONALIZATION_METRICS))
        return value

    return parse


def prices() -> Parser:
    """Unit prices: an object (cdk.json) or its JSON text (`-c prices='{...}'`), keys of `PriceTable`; absent keys
    keep the documented defaults (lambda_src/model_gate/costs.py)."""

    def parse(key: str, value: Any) -> tuple[tuple[str, Any], ...]:
        data = or_none(json.loads, value) if isinstance(value, str) else value
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


@dataclass(frozen=True)
class RetrainCadence:
    """`retrain`: days between FULL trainings and between trainings of a solution (0: no such period; both 0:
    every run trains). The decision: lambda_src/run_modes/cadence.py."""

    full_every_days: int = 0
    update_every_days: int = 0

    @property
    def on(self) -> bool:
        return self.full_every_days > 0 or self.update_every_days > 0

    def as_dict(self) -> dict[str, int]:
        return {"full_every_days": self.full_every_days, "update_every_days": self.update_every_days}


CADENCE_KEYS = ("full_every_days", "update_every_days")
CADENCE_MAX_DAYS = 3650


def retrain_cadence() -> Parser:
    """A cadence: an object (cdk.json, a solution entry) or its JSON text (`-c retrain='{...}'`); absent keys 0."""

    def parse(key: str, value: Any) -> RetrainCadence:
        if value in (None, ""):
            return RetrainCadence()
        data = or_none(json.loads, value) if isinstance(value, str) else value
        if not isinstance(data, Mapping):
            raise ConfigError.invalid(
                key, value, 'an object, e.g. {"full_every_days": 28, "update_every_days": 7} (both 0: every run trains)'
            )
        unknown = sorted(set(data) - set(CADENCE_KEYS))
        if unknown:
            raise ConfigError.invalid(f"{key}.{unknown[0]}", data[unknown[0]], "keys " + ", ".join(CADENCE_KEYS))
        days = {name: whole_number(0, CADENCE_MAX_DAYS)(f"{key}.{name}", data.get(name, 0)) for name in CADENCE_KEYS}
        cadence = RetrainCadence(**days)
        if cadence.full_every_days and cadence.update_every_days >= cadence.full_every_days:
            raise ConfigError.invalid(
                f"{key}.update_every_days", cadence.update_every_days,
                f"0, or fewer days than full_every_days ({cadence.full_every_days}): a FULL training is due first",
            )  # fmt: skip
        return cadence

    return parse


def metadata_dataset(kind: DatasetKind) -> Parser:
    """An Items or Users dataset (see pipeline_contracts/metadata_datasets.py); absent or empty = disabled."""

    def parse(key: str, value: Any) -> DatasetSpec | None:
        try:
            return parse_dataset(kind, value)
        except DatasetSpecError as error:
            raise ConfigError.invalid(error.key, error.value, error.allowed) from None

    return parse
