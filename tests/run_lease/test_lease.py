"""The run lease's decisions, pure: the lease an execution asks for, the verdict on the lease found, and the
acquire / release procedures over an in-memory store (every ordering of the store's answers)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from lambda_src.run_lease.lease import (
    ENDED_STATUSES,
    EXPIRY_MARGIN_SECONDS,
    HOLDER_MISSING,
    MAX_ROUNDS,
    InvalidEvent,
    Lease,
    Verdict,
    acquire,
    epoch_seconds,
    judge,
    lease_for,
    release,
    running_elsewhere,
)

MACHINE = "arn:aws:states:eu-west-1:123456789012:execution:pbp-dev-batch-pipeline"
ME, OTHER, THIRD = f"{MACHINE}:me", f"{MACHINE}:other", f"{MACHINE}:third"
START = "2026-01-04T03:00:00.250Z"
START_SECONDS = 1767495600
TIMEOUT = 24 * 3600
# Every status DescribeExecution can report (botocore's ExecutionStatus enum).
RUNNING_STATUSES = ("RUNNING", "PENDING_REDRIVE")


MINE = lease_for(ME, START, TIMEOUT)


def iso(seconds: int) -> str:
    """Epoch seconds as Step Functions writes a time."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def other_lease(expires_at: int = START_SECONDS + 3600, holder: str = OTHER) -> Lease:
    return Lease(holder=holder, expires_at=expires_at, started_at="2026-01-04T02:00:00Z")


# --- the lease asked for -------------------------------------------------------------------------------------


def test_the_lease_lasts_the_execution_timeout_plus_the_margin() -> None:
    assert lease_for(ME, START, TIMEOUT) == Lease(ME, START_SECONDS + TIMEOUT + EXPIRY_MARGIN_SECONDS, START)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2026-01-04T03:00:00Z", START_SECONDS),
        ("2026-01-04T03:00:00.999Z", START_SECONDS),  # whole seconds, rounded down
        ("2026-01-04T04:00:00+01:00", START_SECONDS),
        ("2026-01-04T03:00:01.000Z", START_SECONDS + 1),
        (iso(START_SECONDS + 86_399), START_SECONDS + 86_399),
    ],
)
def test_step_functions_times_are_read_as_epoch_seconds(text: str, seconds: int) -> None:
    assert epoch_seconds(text) == seconds


@pytest.mark.parametrize("text", ["2026-01-04T03:00:00", "yesterday", "", None, 1767495600])
def test_a_time_without_offset_or_not_a_time_is_refused_by_name(text: Any) -> None:
    with pytest.raises(InvalidEvent, match=r"^startTime "):
        lease_for(ME, text, TIMEOUT)


# --- the verdict on the lease found --------------------------------------------------------------------------


def test_no_lease_is_free() -> None:
    assert judge(None, me=MINE, now=START_SECONDS).verdict is Verdict.FREE


@pytest.mark.parametrize("now_offset", [-1, 0, 1], ids=["before-expiry", "at-expiry", "past-expiry"])
def test_a_lease_held_by_this_execution_is_its_own_even_expired(now_offset: int) -> None:
    mine = lease_for(ME, START, TIMEOUT)
    assert judge(mine, me=MINE, now=mine.expires_at + now_offset).verdict is Verdict.HELD_BY_SELF


def test_a_lease_of_an_earlier_execution_of_the_same_name_is_stale() -> None:
    """Step Functions frees a name 90 days after its execution ended: same ARN, another start time."""
    earlier = Lease(holder=ME, expires_at=MINE.expires_at - 91 * 86_400, started_at="2025-10-01T03:00:00.000Z")
    judgement = judge(earlier, me=MINE, now=START_SECONDS, holder_status="RUNNING")
    assert judgement.verdict is Verdict.STALE and "2025-10-01T03:00:00.000Z" in judgement.reason


@pytest.mark.parametrize(
    ("now_offset", "verdict"),
    [(-1, Verdict.ASK_HOLDER), (0, Verdict.STALE), (1, Verdict.STALE)],
    ids=["one-second-before-expiry", "exactly-at-expiry", "one-second-past-expiry"],
)
def test_an_other_lease_expires_exactly_at_its_expiry(now_offset: int, verdict: Verdict) -> None:
    lease = other_lease()
    judgement = judge(lease, me=MINE, now=lease.expires_at + now_offset)
    assert judgement.verdict is verdict
    if verdict is Verdict.STALE:
        assert OTHER in judgement.reason and str(lease.expires_at) in judgement.reason


@pytest.mark.parametrize("now_offset", [0, 1], ids=["exactly-at-expiry", "one-second-past-expiry"])
def test_an_expired_lease_is_stale_even_if_its_holder_still_runs(now_offset: int) -> None:
    lease = other_lease()
    judgement = judge(lease, me=MINE, now=lease.expires_at + now_offset, holder_status="RUNNING")
    assert judgement.verdict is Verdict.STALE


@pytest.mark.parametrize("status", RUNNING_STATUSES)
def test_a_live_lease_of_a_running_other_is_held_and_the_reason_names_it(status: str) -> None:
    lease = other_lease()
    judgement = judge(lease, me=MINE, now=lease.expires_at - 1, holder_status=status)
    assert judgement == judge(lease, me=MINE, now=lease.expires_at - 1, holder_status=status)
    assert (judgement.verdict, judgement.reason) == (Verdict.HELD, running_elsewhere(OTHER))
    assert judgement.reason == f"Another execution of this state machine is still running: {OTHER}"


@pytest.mark.parametrize("status", sorted(ENDED_STATUSES) + [HOLDER_MISSING])
def test_a_live_lease_of_a_finished_or_missing_other_is_stale(status: str) -> None:
    lease = other_lease()
    judgement = judge(lease, me=MINE, now=lease.expires_at - 1, holder_status=status)
    assert judgement.verdict is Verdict.STALE and OTHER in judgement.reason


def test_every_execution_status_is_either_running_or_ended() -> None:
    import botocore.session

    statuses = botocore.session.get_session().get_service_model("stepfunctions").shape_for("ExecutionStatus").enum
    assert set(statuses) == set(RUNNING_STATUSES) | ENDED_STATUSES


def test_a_status_this_code_does_not_know_keeps_the_lease_held() -> None:
    """A status added to the API later is not taken as "ended": skipping one run is cheaper than two overlapping."""
    assert judge(other_lease(), me=MINE, now=START_SECONDS, holder_status="PAUSED").verdict is Verdict.HELD


# --- acquire and release over a store ------------------------------------------------------------------------


class MemoryStore:
    """The DynamoDB store's semantics in memory; `before` runs a callback before the named operation, once (an
    execution that gets in between)."""

    def __init__(self, lease: Lease | None = None) -> None:
        self.lease = lease
        self.before: dict[str, list[Callable[[], None]]] = {}
        self.operations: list[str] = []

    def _step(self, operation: str) -> None:
        self.operations.append(operation)
        for callback in self.before.pop(operation, []):
            callback()

    def put_if_absent(self, lease: Lease, now: str) -> bool:
        self._step("put_if_absent")
        if self.lease is not None:
            return False
        self.lease = lease
        return True

    def replace(self, old: Lease, new: Lease, now: str) -> bool:
        self._step("replace")
        if self.lease != old:
            return False
        self.lease = new
        return True

    def read(self) -> Lease | None:
        self._step("read")
        return self.lease

    def delete_if_held_by(self, holder: str) -> bool:
        self._step("delete")
        if self.lease is None or self.lease.holder != holder:
            return False
        self.lease = None
        return True


def statuses(**by_name: str) -> Callable[[str], str]:
    """A DescribeExecution stand-in: the status of each named execution of MACHINE, missing otherwise."""
    asked: list[str] = []

    def status(arn: str) -> str:
        asked.append(arn)
        return by_name.get(arn.rsplit(":", 1)[1], HOLDER_MISSING)

    status.asked = asked  # type: ignore[attr-defined]
    return status


def take(store: MemoryStore, holder_status: Callable[[str], str], me: str = ME, now: str = START) -> dict[str, Any]:
    return acquire(store, holder_status, lease_for(me, START, TIMEOUT), now=now)


def test_a_free_lease_is_taken_with_one_put() -> None:
    store = MemoryStore()
    outcome = take(store, statuses())
    assert (outcome["acquired"], outcome["outcome"], outcome["holder"]) == (True, "ACQUIRED", ME)
    assert outcome["expiresAt"] == START_SECONDS + TIMEOUT + EXPIRY_MARGIN_SECONDS
    assert store.operations == ["put_if_absent"] and store.lease == lease_for(ME, START, TIMEOUT)


def test_a_lease_this_execution_already_holds_lets_it_proceed_without_asking_anyone() -> None:
    store, status = MemoryStore(lease_for(ME, START, TIMEOUT)), statuses()
    outcome = take(store, status)
    assert (outcome["acquired"], outcome["outcome"]) == (True, "ALREADY_HELD")
    assert status.asked == []  # type: ignore[attr-defined]


def test_a_running_holder_makes_the_run_skip_naming_it() -> None:
    store = MemoryStore(other_lease())
    outcome = take(store, statuses(other="RUNNING"))
    assert (outcome["acquired"], outcome["outcome"], outcome["holder"]) == (False, "SKIPPED", OTHER)
    assert outcome["reason"] == running_elsewhere(OTHER)
    assert store.lease == other_lease()


@pytest.mark.parametrize("status", sorted(ENDED_STATUSES) + [HOLDER_MISSING])
def test_the_lease_of_a_finished_or_missing_holder_is_taken_over(status: str) -> None:
    store = MemoryStore(other_lease())
    outcome = take(store, statuses(other=status))
    assert (outcome["acquired"], outcome["outcome"], outcome["previousHolder"]) == (True, "TAKEN_OVER", OTHER)
    assert store.lease == lease_for(ME, START, TIMEOUT)


@pytest.mark.parametrize(("now_offset", "taken"), [(-1, False), (0, True), (1, True)])
def test_an_expired_lease_is_taken_over_even_from_a_running_holder(now_offset: int, taken: bool) -> None:
    lease = other_lease()
    now = iso(lease.expires_at + now_offset)
    outcome = take(MemoryStore(lease), statuses(other="RUNNING"), now=now)
    assert (outcome["acquired"], outcome["outcome"]) == ((True, "TAKEN_OVER") if taken else (False, "SKIPPED"))


def test_two_executions_at_once_only_one_proceeds() -> None:
    """The other execution's put lands between this one's start and its put: this one finds it running."""
    store = MemoryStore()
    theirs: list[dict[str, Any]] = []
    store.before["put_if_absent"] = [lambda: theirs.append(take(store, statuses(me="RUNNING"), me=OTHER))]
    mine = take(store, statuses(other="RUNNING"))
    assert [o["acquired"] for o in (*theirs, mine)] == [True, False]
    assert mine["reason"] == running_elsewhere(OTHER) and store.lease is not None and store.lease.holder == OTHER


def test_losing_the_take_over_race_skips_naming_the_winner() -> None:
    """Two executions find the same stale lease; the other one replaces it first."""
    store = MemoryStore(other_lease(holder=THIRD))
    finished = statuses(third="FAILED", other="RUNNING")
    store.before["replace"] = [lambda: take(store, finished, me=OTHER)]
    outcome = take(store, finished)
    assert (outcome["acquired"], outcome["reason"]) == (False, running_elsewhere(OTHER))
    assert store.lease is not None and store.lease.holder == OTHER


def test_a_lease_released_between_put_and_read_is_taken_on_the_next_round() -> None:
    store = MemoryStore(other_lease())
    store.before["read"] = [lambda: setattr(store, "lease", None)]
    outcome = take(store, statuses())
    assert (outcome["acquired"], outcome["outcome"]) == (True, "ACQUIRED")
    assert store.operations == ["put_if_absent", "read", "put_if_absent"]


def test_a_lease_that_keeps_changing_hands_skips_after_the_last_round() -> None:
    store = MemoryStore(other_lease())

    def someone_else_takes_it() -> None:
        assert store.lease is not None
        store.lease = other_lease(holder=f"{store.lease.holder}x")
        store.before["replace"] = [someone_else_takes_it]

    store.before["replace"] = [someone_else_takes_it]
    outcome = take(store, statuses())  # every holder is missing: stale each time
    assert (outcome["acquired"], outcome["outcome"]) == (False, "SKIPPED")
    assert store.operations.count("replace") == MAX_ROUNDS
    assert f"changed hands {MAX_ROUNDS} times" in outcome["reason"]


def test_release_deletes_only_this_executions_lease() -> None:
    mine, theirs = MemoryStore(lease_for(ME, START, TIMEOUT)), MemoryStore(other_lease())
    assert release(mine, ME)["released"] is True and mine.lease is None
    assert release(theirs, ME)["released"] is False and theirs.lease == other_lease()
    assert release(MemoryStore(), ME)["released"] is False
