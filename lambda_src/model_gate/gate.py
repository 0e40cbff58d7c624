"""The model quality gate: pure decision on a freshly trained solution version.

Inputs: the candidate's metrics as `GetSolutionMetrics` returns them (`{"metrics": {...}}`), the
last *accepted* version (or none) and the rule. Output: a `GateDecision` saying whether the
candidate is accepted, why (both figures and the rule, in words), and which solution version the
batch inference job must use.

The rule (`GateRule`):
- `metric`: one of the offline metrics Personalize reports for user-personalization recipes
  (`coverage`, `mean_reciprocal_rank_at_25`, `normalized_discounted_cumulative_gain_at_5|10|25`,
  `precision_at_5|10|25`); default `normalized_discounted_cumulative_gain_at_25`.
- `min_value`: absolute floor in [0, 1]; the candidate passes when its value >= the floor.
- `max_relative_drop`: in [0, 1]; the candidate passes when its value >= last accepted value x
  (1 - max_relative_drop). 0 allows no drop at all, 1 allows any drop (floor only).
- `on_fail`: `fail` (the run stops before batch inference) or `use_last_accepted` (batch inference
  runs with the last accepted version, and the run says so).
- `on_missing_metric`: `reject` (default) or `accept`.

Decisions, in order:
1. Missing metric: when `GetSolutionMetrics` returns no `metrics`, or they lack the rule's metric,
   or its value is not a finite number, the candidate is REJECTED with the reason
   "metric <name> missing" (and what was reported), unless `on_missing_metric` is `accept`: then it
   is accepted on trust, with the reason saying so. Rejecting is the default because an unattended
   run cannot tell a broken training from a harmless gap, and the fallback mode keeps
   recommendations flowing from the last accepted version meanwhile.
2. Floor: a value below `min_value` is rejected.
3. First run (no accepted version yet): the floor alone decides.
4. If the last accepted version has no value for the metric (the configured metric changed since),
   the floor alone decides, and the reason says so.
5. Relative drop: a value below last x (1 - max_relative_drop) is rejected.

A rejected candidate then follows `on_fail`: `fail` gives action `fail`; `use_last_accepted` gives
action `use_last_accepted` and the batch job's version is the last accepted one, except on a first
run (nothing accepted yet), where it is `fail` too and the reason says that no version has been
accepted yet.

Figures are compared as the decimals they print as (`Decimal(repr(x))`), not as binary floats, so a
value exactly at the floor or exactly at the largest allowed drop (0.126 against 0.14 with a drop
of 0.1) passes, as a reader of the reason would expect; binary float arithmetic would reject it
(0.14 * (1 - 0.1) = 0.12600000000000003).

Personalize holds out 10% of the users to compute these metrics, and its documentation warns that
versions trained on different data are not strictly comparable: the drop rule is a guard against a
retraining gone wrong (bad or thin data), not a fine model comparison; keep the drop tolerance loose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from collections.abc import Mapping

__all__ = [
    "ModelGateError",
    "InvalidGateRule",
    "InvalidEvent",
    "SolutionVersionNotActive",
    "ModelQualityGateFailed",
    "USER_PERSONALIZATION_METRICS",
    "ON_FAIL_MODES",
    "ON_MISSING_METRIC_MODES",
    "DEFAULT_METRIC",
    "GateRule",
    "AcceptedVersion",
    "GateDecision",
    "decide",
]

# What GetSolutionMetrics reports for the user-personalization recipes (Personalize developer guide,
# "Evaluating a solution version with metrics", and /work/shared/README.md).
USER_PERSONALIZATION_METRICS: tuple[str, ...] = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
)
DEFAULT_METRIC = "normalized_discounted_cumulative_gain_at_25"
# A version whose NDCG@25 is below 1% ranks almost no held-out interaction in its top 25: a floor that
# only catches a degenerate model, and leaves the real judgement to the relative drop.
DEFAULT_MIN_VALUE = 0.01
DEFAULT_MAX_RELATIVE_DROP = 0.10
ON_FAIL_MODES: tuple[str, ...] = ("fail", "use_last_accepted")
ON_MISSING_METRIC_MODES: tuple[str, ...] = ("reject", "accept")

ACTION_USE_CANDIDATE = "use_candidate"
ACTION_USE_LAST_ACCEPTED = "use_last_accepted"
ACTION_FAIL = "fail"


class ModelGateError(Exception):
    """Base of the errors that fail the run on purpose. Step Functions names a Lambda error by the
    exception's class name, so each is its own class."""


class InvalidGateRule(ModelGateError, ValueError):
    """The configured rule is not valid (the message names each bad value and what is allowed)."""


class InvalidEvent(ModelGateError, ValueError):
    """The handler's input does not have the documented shape."""


class SolutionVersionNotActive(ModelGateError):
    """The gate was asked about a solution version that is not ACTIVE (it has no metrics yet)."""


class ModelQualityGateFailed(ModelGateError):
    """The candidate was rejected and the run must not publish: `on_fail` is `fail`, or it is
    `use_last_accepted` and no version has been accepted yet. The message carries both figures and
    the rule."""


@dataclass(frozen=True)
class GateRule:
    metric: str = DEFAULT_METRIC
    min_value: float = DEFAULT_MIN_VALUE
    max_relative_drop: float = DEFAULT_MAX_RELATIVE_DROP
    on_fail: str = "fail"
    on_missing_metric: str = "reject"

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.metric not in USER_PERSONALIZATION_METRICS:
            problems.append(f"metric {self.metric!r} is not one of {', '.join(USER_PERSONALIZATION_METRICS)}")
        for name in ("min_value", "max_relative_drop"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                problems.append(f"{name} {value!r} is not a number from 0 to 1")
        if self.on_fail not in ON_FAIL_MODES:
            problems.append(f"on_fail {self.on_fail!r} is not one of {', '.join(ON_FAIL_MODES)}")
        if self.on_missing_metric not in ON_MISSING_METRIC_MODES:
            problems.append(
                f"on_missing_metric {self.on_missing_metric!r} is not one of {', '.join(ON_MISSING_METRIC_MODES)}"
            )
        if problems:
            raise InvalidGateRule("invalid model quality gate rule: " + "; ".join(problems))

    _KEYS = {
        "metric": "metric",
        "minValue": "min_value",
        "maxRelativeDrop": "max_relative_drop",
        "onFail": "on_fail",
        "onMissingMetric": "on_missing_metric",
    }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> GateRule:
        """From the state machine's camelCase `rule` object; absent keys take the defaults."""
        data = data or {}
        if not isinstance(data, Mapping):
            raise InvalidGateRule(f"invalid model quality gate rule: {data!r} is not an object")
        unknown = sorted(set(data) - set(cls._KEYS))
        if unknown:
            raise InvalidGateRule(
                f"invalid model quality gate rule: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(cls._KEYS)}"
            )
        return cls(**{cls._KEYS[key]: value for key, value in data.items()})

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, attr) for key, attr in self._KEYS.items()}

    def describe(self) -> str:
        return (
            f"rule: {self.metric} >= {_figure(self.min_value)} and at most {_percent(self.max_relative_drop)} below "
            f"the last accepted version; on_fail={self.on_fail}"
        )


@dataclass(frozen=True)
class AcceptedVersion:
    """The last accepted solution version, as the store keeps it."""

    solution_version_arn: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    run_id: str = ""
    run_started_at: str = ""
    accepted_at: str = ""
    manifest_uri: str = ""

    def label(self) -> str:
        return f"{self.solution_version_arn}" + (f" (run {self.run_id})" if self.run_id else "")


@dataclass(frozen=True)
class GateDecision:
    accepted: bool
    action: str
    reason: str
    rule: GateRule
    candidate_arn: str
    candidate_metrics: Mapping[str, float]
    candidate_value: float | None
    last_accepted: AcceptedVersion | None
    last_accepted_value: float | None
    relative_change: float | None
    metric_missing: bool

    @property
    def solution_version_arn(self) -> str | None:
        """The version the batch inference job must use (None when the run must fail)."""
        if self.action == ACTION_USE_CANDIDATE:
            return self.candidate_arn
        if self.action == ACTION_USE_LAST_ACCEPTED and self.last_accepted is not None:
            return self.last_accepted.solution_version_arn
        return None

    @property
    def first_run(self) -> bool:
        return self.last_accepted is None

    @property
    def used_fallback(self) -> bool:
        return self.action == ACTION_USE_LAST_ACCEPTED

    def as_dict(self) -> dict[str, Any]:
        """What the state machine, the manifest and the notice read (camelCase, JSON-ready)."""
        return {
            "decision": "ACCEPTED" if self.accepted else "REJECTED",
            "accepted": self.accepted,
            "action": self.action,
            "solutionVersionArn": self.solution_version_arn,
            "candidateVersionArn": self.candidate_arn,
            "lastAcceptedVersionArn": self.last_accepted.solution_version_arn if self.last_accepted else None,
            "lastAcceptedRunId": self.last_accepted.run_id if self.last_accepted else None,
            "metric": self.rule.metric,
            "candidateValue": self.candidate_value,
            "lastAcceptedValue": self.last_accepted_value,
            "relativeChange": self.relative_change,
            "firstRun": self.first_run,
            "usedFallback": self.used_fallback,
            "metricMissing": self.metric_missing,
            "reason": self.reason,
            "rule": self.rule.as_dict(),
            "candidateMetrics": dict(self.candidate_metrics),
        }


def _figure(value: float) -> str:
    return repr(float(value))


def _percent(fraction: float) -> str:
    return f"{float(fraction) * 100:.4g}%"


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _numeric_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {name: number for name, value in metrics.items() if (number := _number(value)) is not None}


def decide(
    candidate_arn: str,
    solution_metrics: Mapping[str, Any] | None,
    last_accepted: AcceptedVersion | None,
    rule: GateRule,
) -> GateDecision:
    """The gate's decision on `candidate_arn` (see the module docstring for the order of checks)."""
    raw = (solution_metrics or {}).get("metrics") or {}
    candidate_metrics = _numeric_metrics(raw) if isinstance(raw, Mapping) else {}
    metric = rule.metric
    value = candidate_metrics.get(metric)
    last_value = _number(last_accepted.metrics.get(metric)) if last_accepted is not None else None
    relative_change = (value - last_value) / last_value if value is not None and last_value else None

    accepted, reason = _judge(metric, value, raw, last_accepted, last_value, rule)
    if accepted:
        action = ACTION_USE_CANDIDATE
    elif rule.on_fail == "use_last_accepted" and last_accepted is not None:
        action = ACTION_USE_LAST_ACCEPTED
        reason += f"; batch inference uses the last accepted version {last_accepted.label()} instead"
    elif rule.on_fail == "use_last_accepted":
        action = ACTION_FAIL
        reason += "; on_fail=use_last_accepted, but no version has been accepted yet, so the run fails"
    else:
        action = ACTION_FAIL
        reason += "; on_fail=fail, so the run stops before batch inference"
    return GateDecision(
        accepted=accepted,
        action=action,
        reason=f"{'Accepted' if accepted else 'Rejected'} {candidate_arn}: {reason} ({rule.describe()})",
        rule=rule,
        candidate_arn=candidate_arn,
        candidate_metrics=candidate_metrics,
        candidate_value=value,
        last_accepted=last_accepted,
        last_accepted_value=last_value,
        relative_change=relative_change,
        metric_missing=value is None,
    )


def _judge(
    metric: str,
    value: float | None,
    raw: Any,
    last_accepted: AcceptedVersion | None,
    last_value: float | None,
    rule: GateRule,
) -> tuple[bool, str]:
    if value is None:
        reported = ", ".join(sorted(raw)) if isinstance(raw, Mapping) and raw else "no metrics at all"
        missing = f"metric {metric} missing (GetSolutionMetrics reported {reported})"
        if rule.on_missing_metric == "accept":
            return True, f"{missing}; accepted without a check because on_missing_metric=accept"
        return False, missing
    shown = f"{metric} = {_figure(value)}"
    versus = (
        f"the last accepted {_figure(last_value)} of {last_accepted.label()}"
        if last_accepted and last_value is not None
        else ""
    )
    if _decimal(value) < _decimal(rule.min_value):
        return False, f"{shown} is below the floor {_figure(rule.min_value)}" + (f" ({versus})" if versus else "")
    if last_accepted is None:
        return True, f"first run (no accepted version yet): {shown} meets the floor {_figure(rule.min_value)}"
    if last_value is None:
        return True, (
            f"{shown} meets the floor {_figure(rule.min_value)}; the last accepted version "
            f"{last_accepted.label()} has no {metric}, so only the floor applies"
        )
    lowest = _decimal(last_value) * (1 - _decimal(rule.max_relative_drop))
    change = _change(value, last_value)
    if _decimal(value) < lowest:
        return False, (
            f"{shown} is {change} {versus}, more than the allowed {_percent(rule.max_relative_drop)} drop "
            f"(lowest allowed {lowest.normalize():f})"
        )
    return True, f"{shown} is {change} {versus}, within the allowed {_percent(rule.max_relative_drop)} drop"


def _change(value: float, last_value: float) -> str:
    if last_value == 0:
        return "not below" if value >= 0 else "below"
    relative = (value - last_value) / last_value
    if relative == 0:
        return "equal to"
    return f"{abs(relative) * 100:.1f}% {'below' if relative < 0 else 'above'}"
