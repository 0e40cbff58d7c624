"""The virtual clock every wait, retry and job of a rehearsal reads, and the threading the interpreter runs on.

Part of the offline harness: see the package docstring (`pipeline_rehearsal/__init__.py`).
"""

from __future__ import annotations

import datetime as _datetime
import threading
import types

# First of the third-party imports: it refuses a moto other than the one whose internals are patched here.
import pipeline_rehearsal.moto_pin  # noqa: F401  (imported for its check, see the line above)

# The virtual epoch every rehearsal and offline test starts at (a Sunday, 03:00 UTC).
EPOCH = _datetime.datetime(2026, 1, 4, 3, 0, 0, tzinfo=_datetime.UTC)


class VirtualClock:
    """Simulated wall time. Nothing in the interpreter sleeps: waits move this clock instead.

    Several threads may wait at once (Parallel branches, Map iterations, a Distributed Map's children), so a
    wait is a discrete-event step, not a jump: `sleep_until(t)` blocks the calling thread until the clock
    reaches t, and the clock moves on (to the earliest wake-up time) only when every interpreter thread is
    asleep or waiting for its children. Two branches that each wait 600 s therefore take 600 s together, and
    a job created by one branch at t is seen by the others' calls after t, never before.

    The bookkeeping: `_running` counts the threads doing work (the harness's own thread, plus each thread
    the interpreter starts, see `_TrackedThread`); a thread waiting for its children (`_TrackedEvent`) is not
    running, but while the event it waits for is set it holds the clock (it is about to run again).
    `advance` is an immediate jump, for setting a test up and for the latency of a call.
    """

    def __init__(self, start: _datetime.datetime = EPOCH) -> None:
        self.start = start
        self.seconds = 0.0
        self._condition = threading.Condition()
        self._running = 1  # the thread that drives the harness
        self._sleeping: dict[object, float] = {}  # wake-up time of each sleeping thread (by token)
        self._awaited: list[threading.Event] = []  # events that threads wait for (children's termination)
        self._participants: set[int] = {threading.get_ident()}
        self._closed = False

    def now(self) -> _datetime.datetime:
        return self.start + _datetime.timedelta(seconds=self.seconds)

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            with self._condition:
                self.seconds += seconds

    def advance_to(self, seconds: float) -> None:
        self.advance(seconds - self.seconds)

    def sleep(self, seconds: float) -> None:
        with self._condition:
            moment = self.seconds + max(seconds, 0)
        self.sleep_until(moment)

    def sleep_until(self, moment: float) -> None:
        """Blocks until the clock reads `moment` (at once if it does). A thread the clock does not know (e.g. a
        handler's own thread pool) never moves the clock: its waits return at once."""
        with self._condition:
            if moment <= self.seconds:
                return
            if self._closed or threading.get_ident() not in self._participants:
                return
            token = object()
            self._sleeping[token] = moment
            self._running -= 1
            self._step_when_idle()
            while token in self._sleeping and not self._closed:
                self._condition.wait()

    def close(self) -> None:
        """Releases every sleeping thread (threads left behind by an ended execution) and stops stepping."""
        with self._condition:
            self._closed = True
            self._sleeping.clear()
            self._condition.notify_all()

    # Thread bookkeeping (called by _TrackedThread / _TrackedEvent) -------------------------------------------
    def _thread_starting(self) -> None:
        with self._condition:
            self._running += 1

    def _thread_started(self, ident: int) -> None:
        with self._condition:
            self._participants.add(ident)

    def _thread_ended(self, ident: int) -> None:
        with self._condition:
            self._participants.discard(ident)
            self._running -= 1
            self._step_when_idle()

    def _awaiting(self, event: threading.Event) -> None:
        with self._condition:
            self._running -= 1
            self._awaited.append(event)
            self._step_when_idle()

    def _awaited_done(self, event: threading.Event) -> None:
        with self._condition:
            self._awaited.remove(event)
            self._running += 1

    def _step_when_idle(self) -> None:
        """With the lock held: when no thread can run, move to the earliest wake-up time and wake its sleepers."""
        if self._closed or self._running > 0 or not self._sleeping:
            return
        if any(event.is_set() for event in self._awaited):
            return  # a waiting thread's children ended: it runs next, at the present time
        self.seconds = max(self.seconds, min(self._sleeping.values()))
        for token, moment in list(self._sleeping.items()):
            if moment <= self.seconds:
                del self._sleeping[token]
                self._running += 1
        self._condition.notify_all()

    @staticmethod
    def iso(moment: _datetime.datetime) -> str:
        """AWS's format for context-object timestamps, e.g. 2026-01-04T03:00:00.000Z."""
        return moment.astimezone(_datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_ACTIVE_CLOCK: VirtualClock | None = None  # the clock of the harness in use (one at a time per process)


def activate(clock: VirtualClock) -> None:
    """Make `clock` the one the interpreter's threads report to; refuses a second harness in the process."""
    global _ACTIVE_CLOCK
    if _ACTIVE_CLOCK is not None:
        raise RuntimeError("one OfflineStepFunctions at a time: another one is in use in this process")
    _ACTIVE_CLOCK = clock


def release(clock: VirtualClock) -> None:
    """Close `clock` and let another harness activate its own."""
    global _ACTIVE_CLOCK
    clock.close()
    _ACTIVE_CLOCK = None


class _TrackedThread(threading.Thread):
    """A thread of the interpreter (a state's evaluation, a Parallel branch, a Map worker) that the virtual
    clock counts as running from its start to its end."""

    def start(self) -> None:
        clock = self._clock = _ACTIVE_CLOCK
        if clock is not None:
            clock._thread_starting()
        try:
            super().start()
        except BaseException:
            if clock is not None:
                clock._thread_ended(-1)
            raise

    def run(self) -> None:
        clock = getattr(self, "_clock", None)
        if clock is not None:
            clock._thread_started(threading.get_ident())
        try:
            super().run()
        finally:
            if clock is not None:
                clock._thread_ended(threading.get_ident())


class _TrackedEvent(threading.Event):
    """The event a thread waits on for its children to end: while it waits, the thread is not running."""

    def wait(self, timeout: float | None = None) -> bool:
        clock = _ACTIVE_CLOCK
        if clock is None or self.is_set():
            return super().wait(timeout)
        clock._awaiting(self)
        try:
            return super().wait(timeout)
        finally:
            clock._awaited_done(self)


_TRACKED_THREADING = types.SimpleNamespace(
    **{k: getattr(threading, k) for k in dir(threading) if not k.startswith("__")}
)
_TRACKED_THREADING.Thread = _TrackedThread
_TRACKED_THREADING.Event = _TrackedEvent


def clock_datetime(clock: VirtualClock) -> type[_datetime.datetime]:
    """A `datetime` class whose `now()` reads the virtual clock (for a module that imports the class, e.g. the
    post-processing handler's `datetime`)."""

    class ClockDatetime(_datetime.datetime):
        @classmethod
        def now(cls, tz: _datetime.tzinfo | None = None) -> _datetime.datetime:  # type: ignore[override]
            moment = clock.now()
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

    return ClockDatetime


def _datetime_module_on(clock: VirtualClock) -> types.SimpleNamespace:
    """A stand-in for the `datetime` module whose `datetime.now()` reads the virtual clock."""
    namespace = types.SimpleNamespace(**{k: getattr(_datetime, k) for k in dir(_datetime) if not k.startswith("__")})
    namespace.datetime = clock_datetime(clock)
    return namespace


def _time_module_on(clock: VirtualClock) -> types.SimpleNamespace:
    """A stand-in for the `time` module whose `sleep` waits on the virtual clock instead of sleeping."""
    import time as _time

    namespace = types.SimpleNamespace(**{k: getattr(_time, k) for k in dir(_time) if not k.startswith("__")})
    namespace.sleep = clock.sleep
    return namespace
