"""Which execution may run: the lease item, judged against this execution and the holder's status (pure).

Why a lease and not ListExecutions: ListExecutions is eventually consistent. A just-started execution may not
list itself (and then compares itself with the wrong "oldest"), and two executions started in the same second
may each see only itself. A conditional put (`attribute_not_exists(pk)`) is decided by DynamoDB atomically:
of two executions that try at once, exactly one writes the lease.

The lease: one item (`pk` = `LEASE_ID`) naming its holder (the execution ARN) and when it expires: the holder's
start + the state machine's execution timeout + `EXPIRY_MARGIN_SECONDS`. Step Functions stops an execution at its
timeout, so an expired lease cannot belong to a run still working under its first start; the margin covers the
seconds between the execution's start and the lease being written. Times are Step Functions' own
(`$$.Execution.StartTime`, `$$.State.EnteredTime`), so the holder's expiry and the newcomer's "now" come from one
clock.

A lease found when acquiring is judged in this order:
1. none (released in between)                 -> FREE: try the conditional put again;
2. its holder is this execution (same ARN and  -> HELD_BY_SELF: proceed (a Lambda retry of a put that did land, or
   start time)                                   a redrive of a run whose guard failed after writing);
   the same ARN with another start time        -> STALE: an earlier execution of the same name (Step Functions
                                                 frees a name 90 days after its execution ended);
3. expired (now >= expires_at)                -> STALE;
4. the holder's status, from DescribeExecution:
   ended (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) or the execution does not exist -> STALE;
   RUNNING, PENDING_REDRIVE, or a status this code does not know                   -> HELD: skip this run.
A STALE lease is taken over with a put conditioned on the old holder and expiry still being there; a lost race
(another execution took it first) starts the round again, which then finds that execution RUNNING.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "ENDED_STATUSES",
    "EXPIRY_MARGIN_SECONDS",
    "HOLDER_MISSING",
    "LEASE_ID",
    "MAX_ROUNDS",
    "InvalidEvent",
    "Judgement",
    "Lease",
    "LeaseStore",
    "Verdict",
    "acquire",
    "epoch_seconds",
    "judge",
    "lease_for",
    "release",
    "running_elsewhere",
]

LEASE_ID = "run"
# Between the execution's start (the expiry's base) and the lease's put: the guard is the first state, so seconds;
# 15 minutes leaves room for Lambda retries and clock differences without keeping a dead lease much longer.
EXPIRY_MARGIN_SECONDS = 900
# Execution statuses of a holder that will not work again under this lease (DescribeExecution's ExecutionStatus
# minus RUNNING and PENDING_REDRIVE: a redrive is about to run the holder again).
ENDED_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
HOLDER_MISSING = "DOES_NOT_EXIST"
"""The holder status for an execution DescribeExecution does not know (ExecutionDoesNotExist)."""
# Rounds of put / read / judge / take over: each lost round means another execution changed the lease meanwhile.
MAX_ROUNDS = 3


class InvalidEvent(ValueError):
    """The event lacks a field or has one of the wrong form; the message names it and what is allowed."""


def epoch_seconds(timestamp: str, name: str = "timestamp") -> int:
    """Whole epoch seconds of an ISO 8601 time with an offset or `Z` (Step Functions' `2026-01-04T03:00:00.123Z`)."""
    try:
        moment = datetime.fromisoformat(timestamp)
    except (TypeError, ValueError):
        raise InvalidEvent(f"{name} {timestamp!r} is not an ISO 8601 time (e.g. 2026-01-04T03:00:00.000Z)") from None
    if moment.tzinfo is None:
        raise InvalidEvent(f"{name} {timestamp!r} has no UTC offset (Step Functions times end in Z)")
    return int(moment.timestamp())


@dataclass(frozen=True)
class Lease:
    holder: str  # the execution ARN
    expires_at: int  # epoch seconds; the table's TTL attribute
    started_at: str  # the holder's start time, as Step Functions gives it

    def expired(self, now: int) -> bool:
        return now >= self.expires_at


def lease_for(execution_arn: str, start_time: str, timeout_seconds: int) -> Lease:
    """The lease an execution asks for: held until its timeout has passed, plus the margin."""
    return Lease(
        holder=execution_arn,
        expires_at=epoch_seconds(start_time, "startTime") + timeout_seconds + EXPIRY_MARGIN_SECONDS,
        started_at=start_time,
    )


def running_elsewhere(holder: str) -> str:
    """The skip reason (the run's output, the CLI's `skipped by the overlap guard: ...`)."""
    return f"Another execution of this state machine is still running: {holder}"


class Verdict(StrEnum):
    FREE = "FREE"
    HELD_BY_SELF = "HELD_BY_SELF"
    STALE = "STALE"
    HELD = "HELD"
    ASK_HOLDER = "ASK_HOLDER"  # not decidable without the holder's status


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str


def judge(current: Lease | None, *, me: Lease, now: int, holder_status: str | None = None) -> Judgement:
    """The verdict on the lease found, for the execution asking for lease `me` (see the module docstring);
    ASK_HOLDER when it needs `holder_status`."""
    if current is None:
        return Judgement(Verdict.FREE, "no lease is held")
    if current.holder == me.holder and current.started_at == me.started_at:
        return Judgement(Verdict.HELD_BY_SELF, "this execution already holds the lease")
    if current.holder == me.holder:
        return Judgement(
            Verdict.STALE, f"the lease is held by an earlier execution of this name, started {current.started_at}"
        )
    if current.expired(now):
        return Judgement(
            Verdict.STALE, f"the lease of {current.holder} expired at {current.expires_at} (now {now})"
        )
    if holder_status is None:
        return Judgement(Verdict.ASK_HOLDER, f"the lease is held by {current.holder} until {current.expires_at}")
    if holder_status == HOLDER_MISSING:
        return Judgement(Verdict.STALE, f"the lease holder {current.holder} does not exist")
    if holder_status in ENDED_STATUSES:
        return Judgement(Verdict.STALE, f"the lease holder {current.holder} ended {holder_status}")
    return Judgement(Verdict.HELD, running_elsewhere(current.holder))


class LeaseStore(Protocol):
    def put_if_absent(self, lease: Lease, now: str) -> bool: ...
    def replace(self, old: Lease, new: Lease, now: str) -> bool: ...
    def read(self) -> Lease | None: ...
    def delete_if_held_by(self, holder: str) -> bool: ...


def _outcome(acquired: bool, outcome: str, lease: Lease, reason: str, previous: str | None = None) -> dict[str, Any]:
    return {
        "acquired": acquired,
        "outcome": outcome,
        "holder": lease.holder,
        "expiresAt": lease.expires_at,
        "previousHolder": previous,
        "reason": reason,
    }


def acquire(
    store: LeaseStore, holder_status: Callable[[str], str], wanted: Lease, *, now: str
) -> dict[str, Any]:
    """Takes the lease for `wanted.holder`, or says why not. `holder_status(arn)`: DescribeExecution's status, or
    HOLDER_MISSING. Returns `acquired` (proceed or not), `outcome` (ACQUIRED, ALREADY_HELD, TAKEN_OVER, SKIPPED),
    `holder` and `expiresAt` (the lease this run holds, or the one that made it skip), `previousHolder` (a
    stale lease taken over) and `reason`."""
    now_seconds = epoch_seconds(now, "now")
    for _ in range(MAX_ROUNDS):
        if store.put_if_absent(wanted, now):
            return _outcome(True, "ACQUIRED", wanted, "no other execution held the lease")
        current = store.read()
        if current is None:
            continue  # released between the put and the read: try the put again
        judgement = judge(current, me=wanted, now=now_seconds)
        if judgement.verdict is Verdict.ASK_HOLDER:
            judgement = judge(current, me=wanted, now=now_seconds, holder_status=holder_status(current.holder))
        if judgement.verdict is Verdict.HELD_BY_SELF:
            return _outcome(True, "ALREADY_HELD", current, judgement.reason)
        if judgement.verdict is Verdict.HELD:
            return _outcome(False, "SKIPPED", current, judgement.reason)
        if store.replace(current, wanted, now):
            return _outcome(True, "TAKEN_OVER", wanted, f"took over a stale lease: {judgement.reason}", current.holder)
    return _outcome(
        False,
        "SKIPPED",
        wanted,
        f"The run lease changed hands {MAX_ROUNDS} times while this execution tried to take it: other executions of "
        "this state machine are starting at the same time",
    )


def release(store: LeaseStore, holder: str) -> dict[str, Any]:
    """Deletes the lease if `holder` holds it; never another execution's lease."""
    if store.delete_if_held_by(holder):
        return {"released": True, "reason": "the lease of this execution was deleted"}
    return {
        "released": False,
        "reason": "this execution does not hold the lease (released already, or taken over after it was found stale)",
    }
