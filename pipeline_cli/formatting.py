"""Text for humans and JSON for scripts (pure functions, no rich, no AWS).

Runs last from seconds (a skipped run) to many hours (training), so durations use the two most
significant units; times are shown in UTC because schedules and CloudWatch default to UTC and
operators in different time zones compare notes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["format_duration", "format_time", "iso", "OutputSummary", "summarize_output", "RunAccounting"]


def format_duration(seconds: float | None) -> str:
    """`45s`, `3m 07s`, `2h 05m`, `1d 03h`; `-` when unknown. Truncates, never rounds up."""
    if seconds is None or math.isnan(seconds):
        return "-"
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_time(value: datetime | None) -> str:
    """`2026-11-23 01:26:33 UTC`; `-` when unknown. Naive datetimes are taken as UTC."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC for JSON output (None stays None)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class OutputSummary:
    """The parts of a run's output an operator copies: resource ARNs and S3 locations."""

    arns: tuple[tuple[str, str], ...] = ()
    locations: tuple[tuple[str, str], ...] = ()
    """`s3://` URIs and values of keys ending in `prefix`/`Prefix`, with their JSON paths."""

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"arns": dict(self.arns), "locations": dict(self.locations)}


def _string_leaves(value: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(JSON path, key, text) of every string inside `value`; the key is "" for a list element."""
    if isinstance(value, dict):
        children = [(f"{path}.{key}" if path else str(key), str(key), item) for key, item in value.items()]
    elif isinstance(value, list):
        children = [(f"{path}[{index}]", "", item) for index, item in enumerate(value)]
    else:
        return
    for child, key, item in children:
        if isinstance(item, str):
            yield child, key, item
        else:
            yield from _string_leaves(item, child)


def summarize_output(output: str | None, limit: int = 20) -> OutputSummary:
    """Pick ARNs and S3 locations out of an execution's JSON output, keyed by their JSON path.

    The output's shape belongs to the state machine and will change; searching by value shape
    (`arn:`, `s3://`, `*prefix`) keeps the summary useful without a schema.
    """
    try:
        data = json.loads(output) if output else None
    except ValueError:
        return OutputSummary()
    arns: list[tuple[str, str]] = []
    locations: list[tuple[str, str]] = []
    for path, key, text in _string_leaves(data):
        if text.startswith("arn:"):
            arns.append((path, text))
        elif text.startswith("s3://") or key.lower().endswith("prefix"):
            locations.append((path, text))
    return OutputSummary(tuple(arns[:limit]), tuple(locations[:limit]))


# The error of a run the model quality gate stopped (stacks/model_gate.py GATE_FAILED_ERROR).
GATE_FAILED_ERROR = "ModelQualityGateFailed"


@dataclass(frozen=True)
class SolutionOutcome:
    """One solution of a run, from the execution output's `solutions` list ({name, status, gate}): whether it
    succeeded and what its quality gate decided (FALLBACK: rejected, the last accepted version served)."""

    name: str
    status: str
    decision: str | None = None
    used_fallback: bool = False
    reason: str | None = None

    @classmethod
    def of(cls, entry: Any) -> SolutionOutcome | None:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            return None
        gate_value = entry.get("gate")
        gate: dict[str, Any] = gate_value if isinstance(gate_value, dict) else {}
        return cls(
            name=entry["name"],
            status=str(entry.get("status") or "-"),
            decision=gate.get("decision"),
            used_fallback=gate.get("usedFallback") is True,
            reason=gate.get("reason"),
        )

    @property
    def model_short(self) -> str:
        """`ACCEPTED`, `REJECTED`, `FALLBACK`, `REUSED` (a cadence reused the last accepted version: nothing trained);
        `FAILED` for a solution that failed before or without a decision."""
        if self.used_fallback:
            return "FALLBACK"
        if self.status not in ("SUCCEEDED", "-") and not self.decision:
            return self.status
        return self.decision or "-"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "modelDecision": self.decision,
            "usedFallback": self.used_fallback,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RunAccounting:
    """What a run's output (or its failure) says about the model and the cost: the quality gate's decision and
    reason, whether the last accepted version stood in, training hours, Glue DPU-seconds, the cost estimate; for a
    run of several solutions, each solution's status and decision (`solutions`)."""

    decision: str | None = None
    reason: str | None = None
    used_fallback: bool = False
    training_hours: float | None = None
    glue_dpu_seconds: float | None = None
    cost: dict[str, Any] | None = None
    solutions: tuple[SolutionOutcome, ...] = ()
    # The import and training modes the run chose, each with its reason (pipeline_contracts/run_modes).
    modes: dict[str, Any] | None = None

    @classmethod
    def of(cls, output: Any, error: str | None = None, cause: str | None = None) -> RunAccounting:
        """From an execution's output (JSON text or object); a run failed by the gate is REJECTED with its cause."""
        if error == GATE_FAILED_ERROR:
            return cls(decision="REJECTED", reason=cause)
        if isinstance(output, str):
            try:
                output = json.loads(output)
            except ValueError:
                output = None
        if not isinstance(output, dict):
            return cls()
        # The summary of several solutions keeps the run's accounting under `accounting`; older ones at the top.
        nested = output.get("accounting")
        figures: dict[str, Any] = nested if isinstance(nested, dict) else output
        cost = figures.get("estimatedCost", output.get("estimatedCost"))
        listed = output.get("solutions")
        entries: list[Any] = listed if isinstance(listed, list) else []
        solutions = tuple(o for o in (SolutionOutcome.of(entry) for entry in entries) if o is not None)
        return cls(
            decision=output.get("modelDecision"),
            reason=output.get("modelDecisionReason"),
            used_fallback=output.get("usedFallback") is True or any(o.used_fallback for o in solutions),
            training_hours=_hours(figures.get("trainingHours", output.get("trainingHours"))),
            glue_dpu_seconds=_number(figures.get("glueDpuSeconds", output.get("glueDpuSeconds"))),
            cost=cost if isinstance(cost, dict) else None,
            solutions=solutions,
            modes=output.get("modes") if isinstance(output.get("modes"), dict) else None,
        )

    @property
    def model(self) -> str:
        """`ACCEPTED`, `REJECTED (fallback: last accepted version)`, or `-`."""
        if not self.decision:
            return "-"
        return self.decision + (" (fallback: last accepted version)" if self.used_fallback else "")

    @property
    def model_short(self) -> str:
        """For a table column: `ACCEPTED`, `REJECTED`, `FALLBACK` (rejected, the last accepted version served);
        with several solutions, one `name DECISION` per solution (`users ACCEPTED, segments FALLBACK`)."""
        if self.solutions:
            return ", ".join(f"{o.name} {o.model_short}" for o in self.solutions)
        return "FALLBACK" if self.used_fallback else (self.decision or "-")

    @property
    def estimated_cost(self) -> str:
        """`0.1467 USD`; `>= 0.1467 USD` when some usage has no configured price (the total leaves it out);
        `-` when unknown."""
        if not self.cost or _number(self.cost.get("total")) is None:
            return "-"
        text = f"{self.cost['total']:.4f} {self.cost.get('currency', '')}".strip()
        return text if self.cost.get("complete", True) else ">= " + text

    def to_json(self) -> dict[str, Any]:
        return {
            "modelDecision": self.decision,
            "reason": self.reason,
            "usedFallback": self.used_fallback,
            "trainingHours": self.training_hours,
            "glueDpuSeconds": self.glue_dpu_seconds,
            "estimatedCost": self.cost,
            "solutions": [o.to_json() for o in self.solutions],
            "modes": self.modes,
        }


def _hours(value: Any) -> float | None:
    """Training hours: a number, or one per solution (a list; nulls skipped, as the account function does)."""
    if isinstance(value, list):
        numbers = [n for n in (_number(v) for v in value) if n is not None]
        return sum(numbers) if numbers else None
    return _number(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
