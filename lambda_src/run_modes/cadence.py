"""Per-solution cadence: whether a run trains a solution FULL, UPDATE, or REUSEs its last accepted version.

Without a cadence (`retrain` absent or both periods 0) every run trains, as `modes.decide_training_mode` says.
With one (`retrain: {full_every_days: N, update_every_days: M}`), from the solution's accepted versions (the
accepted-versions table, newest run first, each with the start of the run that trained it and its training mode):

1. no accepted version trained FULL                                    -> FULL
2. N > 0 and the last accepted FULL version's run started more than N days before this run's start -> FULL
3. M > 0 and the last accepted version (FULL or UPDATE) is more than M days older            -> UPDATE
   (M > 0 only for a solution training UPDATE: User-Personalization; the config refuses it elsewhere)
4. otherwise                                                           -> REUSE the last accepted version

"More than": a version exactly N days old is reused, one second older is not. Times are run start times
(`$$.Execution.StartTime`), so a schedule's period equal to the cadence lands on either side by the scheduler's
jitter: pick a cadence below a multiple of the schedule (docs/run.md "Cadences"). A training the quality gate rejected
is not accepted, so the next run trains again. `retrain_now` in the execution input trains every solution by
the day-two rules (`decide_training_mode`: the configured mode where Personalize accepts it).

Each decision is `{"mode", "reason"}`; a REUSE also names the version (`solutionVersionArn`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline_contracts.run_modes import REUSE, REUSED_VERSION

from .modes import FULL, UPDATE, decide_training_mode


@dataclass(frozen=True)
class Cadence:
    """`retrain` of one solution: days between FULL trainings and between trainings (0: no such period)."""

    full_every_days: int = 0
    update_every_days: int = 0

    @property
    def on(self) -> bool:
        return self.full_every_days > 0 or self.update_every_days > 0

    @classmethod
    def from_mapping(cls, value: Mapping[str, Any] | None, where: str) -> Cadence:
        """From the event's `retrain` object (absent or null: no cadence); ValueError names the bad key."""
        if value is None:
            return cls()
        periods = {}
        for key in ("full_every_days", "update_every_days"):
            days = value.get(key, 0)
            if isinstance(days, bool) or not isinstance(days, int) or days < 0:
                raise ValueError(f"{where}.{key} has value {days!r}; allowed: a whole number of days, 0 or more")
            periods[key] = days
        unknown = sorted(set(value) - set(periods))
        if unknown:
            raise ValueError(f"{where}.{unknown[0]} is not a cadence key; allowed: full_every_days, update_every_days")
        return cls(**periods)


@dataclass(frozen=True)
class Acceptance:
    """One accepted version of the solution: its ARN, when its training run started, how it was trained."""

    solution_version_arn: str
    run_started_at: datetime
    training_mode: str | None


def acceptances(items: Iterable[Mapping[str, Any]], modes: Mapping[str, str | None]) -> list[Acceptance]:
    """Acceptances from the table's history items (`solutionVersionArn`, `runStartedAt`), newest first, each
    with its training mode from `modes` (version ARN -> the trainingMode Personalize lists; None unknown)."""
    found = [
        Acceptance(
            solution_version_arn=str(item["solutionVersionArn"]),
            run_started_at=datetime.fromisoformat(str(item["runStartedAt"]).replace("Z", "+00:00")),
            training_mode=modes.get(str(item["solutionVersionArn"])),
        )
        for item in items
    ]
    return sorted(found, key=lambda a: a.run_started_at, reverse=True)


def _age(now: datetime, then: datetime) -> str:
    return f"{(now - then).total_seconds() / 86400:.2f} days"


def decide_cadence_mode(
    *,
    solution: str,
    solution_arn: str,
    configured: str,
    versions: Iterable[Mapping[str, Any]],
    cadence: Cadence,
    accepted: Sequence[Acceptance],
    now: datetime,
    retrain_now: bool = False,
) -> dict[str, str]:
    """FULL, UPDATE or REUSE for `solution` in the run that started at `now` (see the module docstring).
    `versions`: the solution's versions (as for `decide_training_mode`); `accepted`: newest first."""
    listed = list(versions)
    trained = decide_training_mode(solution=solution, solution_arn=solution_arn, configured=configured,
                                   versions=listed)  # fmt: skip
    if not cadence.on:
        return trained
    if retrain_now:
        return {**trained, "reason": f"retrain_now is set: {trained['reason']}"}
    last_full = next((a for a in accepted if a.training_mode == FULL), None)
    if last_full is None:
        return {"mode": FULL, "reason": f"solution {solution_arn} has no accepted version trained FULL yet"}
    full_period = timedelta(days=cadence.full_every_days)
    if cadence.full_every_days and now - last_full.run_started_at > full_period:
        return {
            "mode": FULL,
            "reason": f"the last accepted FULL version {last_full.solution_version_arn} is "
            f"{_age(now, last_full.run_started_at)} old, more than full_every_days {cadence.full_every_days}",
        }
    last = accepted[0]
    if cadence.update_every_days and now - last.run_started_at > timedelta(days=cadence.update_every_days):
        update = decide_training_mode(solution=solution, solution_arn=solution_arn, configured=UPDATE,
                                      versions=listed)  # fmt: skip
        return {
            "mode": update["mode"],
            "reason": f"the last accepted version {last.solution_version_arn} is {_age(now, last.run_started_at)} "
            f"old, more than update_every_days {cadence.update_every_days}: {update['reason']}",
        }
    periods = [f"full_every_days {cadence.full_every_days}" if cadence.full_every_days else "",
               f"update_every_days {cadence.update_every_days}" if cadence.update_every_days else ""]  # fmt: skip
    return {
        "mode": REUSE,
        "reason": f"the last accepted version {last.solution_version_arn} ({last.training_mode or 'mode unknown'}, "
        f"{_age(now, last.run_started_at)} old; last FULL {_age(now, last_full.run_started_at)} old) is within "
        + " and ".join(p for p in periods if p),
        REUSED_VERSION: last.solution_version_arn,
    }
