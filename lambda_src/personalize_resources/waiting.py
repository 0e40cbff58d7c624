"""A bounded wait inside one Lambda run: poll until done, or stop with a message saying what to do.

Personalize has no events for its control-plane resources, so every wait is a poll. The bound is shorter than the
function's timeout, so an expired wait ends in our own message (naming the resource, its status and the way out)
instead of a Lambda timeout that CloudFormation would only report as "no response".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .requests import attempt, unless_gone

# At most 12 minutes of waiting in one run (the function times out at 14): long enough for a dataset to turn
# ACTIVE or a stopped training to wind down, short enough to fail with our message.
MAX_WAIT_SECONDS = 12 * 60
POLL_SECONDS = 15
# Kept free of the function's remaining time for the last calls and the response to CloudFormation.
RESPONSE_MARGIN_SECONDS = 60


class WaitExpired(RuntimeError):
    """The bound was reached while the resource was still busy; the message says what to do."""


@dataclass
class Deadline:
    """`seconds` from now on `clock`; `pause` sleeps at most until the deadline."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _end: float = field(init=False)

    def __post_init__(self) -> None:
        self._end = self.clock() + self.seconds

    @classmethod
    def for_remaining_time(cls, remaining_milliseconds: int) -> Deadline:
        """The wait bound of one invocation: MAX_WAIT_SECONDS, or less when the function has less time left."""
        return cls(min(MAX_WAIT_SECONDS, remaining_milliseconds / 1000 - RESPONSE_MARGIN_SECONDS))

    def expired(self) -> bool:
        return self.clock() >= self._end

    def pause(self) -> None:
        self.sleep(max(0.0, min(POLL_SECONDS, self._end - self.clock())))


def wait_until(deadline: Deadline, pending: Callable[[], str | None], way_out: Callable[[str], str]) -> None:
    """Calls `pending` until it returns None (done); it returns what is still pending (e.g. "dataset X is CREATE
    PENDING") and raises on a failure. When the deadline passes first, raises WaitExpired(way_out(<pending>))."""
    while True:
        still = pending()
        if still is None:
            return
        if deadline.expired():
            raise WaitExpired(way_out(still))
        deadline.pause()


def delete_and_wait(
    deadline: Deadline,
    *,
    what: str,
    delete: Callable[[], object],
    describe: Callable[[], Mapping[str, Any]],
    way_out: Callable[[str], str],
) -> None:
    """Asks for the deletion of `what` (again while Personalize refuses it as in use) and waits until `describe`
    says it is gone; gone already is fine. `way_out` is `wait_until`'s message when the deadline passes first."""
    asked = False

    def pending() -> str | None:
        nonlocal asked
        if not asked:
            outcome = attempt(delete, what)
            if outcome != "":
                return outcome  # None: gone already; otherwise in use
            asked = True
        found = unless_gone(describe)
        return None if found is None else f"{what} is {found.get('status')}"

    wait_until(deadline, pending, way_out)
