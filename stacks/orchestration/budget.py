"""The run's worst case against Step Functions' execution-history limit, checked at synth time.

Two histories count: the run's own (parent) execution, and each batch job's child execution (the Distributed
Map's STANDARD children have 25,000 events each). Every loop is a job stage's poll or busy retry.

Parent: the loops of one chain of stages cannot outlast the execution timeout, whatever they wait for; each
branch that runs beside that chain (an Items / Users import beside the interactions import, every solution's
training but one beside the others) adds at most its own bounded loops (job_max_wait_hours of polls and
busy_retry_max_attempts retries). Straight paths add a fixed number of events per run and per solution, and
each solution's output files one inline Map iteration each.

Child: one batch job, its bounded loops and a few straight states.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from stacks.config import ConfigError, PipelineConfig

# Step Functions Standard workflows fail an execution whose history passes this many events.
HISTORY_EVENT_LIMIT = 25_000
# History events of one poll: Wait (entered, exited) + Describe task (entered, scheduled, started,
# succeeded, exited) + Choice (entered, exited) + counting Pass (entered, exited). A busy retry costs the same.
EVENTS_PER_LOOP = 11
# Events outside the loops and the solutions (guard, naming, parameter check, Glue, choose modes: one task of 5
# events, the imports' straight paths, the run-level post-processing, summary), rounded up.
EVENTS_OUTSIDE_LOOPS = 200
# One solution's straight path in the parent: its wrapper Parallel, ARN read, the training's straight states, the
# gate, planning, the Map Run's own events, listing, the record, its accept iteration; rounded up.
EVENTS_PER_SOLUTION = 80
# One output file's inline Map iteration (iteration started/succeeded, task entered/scheduled/started/succeeded/
# exited), and the files one solution is budgeted for: 100 files hold 500 million users at 5 million per file,
# or 50,000 items at 500 per file (item affinity).
EVENTS_PER_OUTPUT_FILE = 7
OUTPUT_FILES_PER_SOLUTION = 100
# A batch job's child execution outside its loops: Parallel wrapper, place-input Choice and Lambda, the job
# stage's straight states, the done/failed Pass; rounded up.
EVENTS_PER_CHILD_OUTSIDE_LOOPS = 40


@dataclass(frozen=True)
class HistoryBudget:
    """The worst-case history of a run's parent execution and of one batch job's child execution."""

    parent_events: int
    child_events: int

    @classmethod
    def of(cls, config: PipelineConfig) -> HistoryBudget:
        return cls(
            parent_events=parent_worst_case(
                timeout_seconds=config.execution_timeout_hours * 3600,
                poll_seconds=config.status_poll_seconds,
                busy_seconds=config.busy_retry_seconds,
                busy_attempts=config.busy_retry_max_attempts,
                job_max_wait_hours=config.job_max_wait_hours,
                metadata_datasets=len(config.metadata_datasets),
                solutions=len(config.solutions),
            ),
            child_events=child_worst_case(
                poll_seconds=config.status_poll_seconds,
                busy_attempts=config.busy_retry_max_attempts,
                job_max_wait_hours=config.job_max_wait_hours,
            ),
        )


def bounded_loops(*, poll_seconds: int, busy_attempts: int, job_max_wait_hours: int) -> int:
    """The most loops one job stage makes: its polls over job_max_wait_hours and its busy retries."""
    return math.ceil(job_max_wait_hours * 3600 / poll_seconds) + busy_attempts


def parent_worst_case(
    *,
    timeout_seconds: int,
    poll_seconds: int,
    busy_seconds: int,
    busy_attempts: int,
    job_max_wait_hours: int,
    metadata_datasets: int,
    solutions: int,
) -> int:
    """History events of a run that loops until its execution timeout on its longest chain, while every branch
    beside it loops to its bounds."""
    chain = math.ceil(timeout_seconds / min(poll_seconds, busy_seconds))
    beside = (metadata_datasets + solutions - 1) * bounded_loops(
        poll_seconds=poll_seconds, busy_attempts=busy_attempts, job_max_wait_hours=job_max_wait_hours
    )
    straight = EVENTS_OUTSIDE_LOOPS + solutions * (
        EVENTS_PER_SOLUTION + OUTPUT_FILES_PER_SOLUTION * EVENTS_PER_OUTPUT_FILE
    )
    return straight + EVENTS_PER_LOOP * (chain + beside)


def child_worst_case(*, poll_seconds: int, busy_attempts: int, job_max_wait_hours: int) -> int:
    """History events of one batch job's child execution that loops to its bounds."""
    loops = bounded_loops(poll_seconds=poll_seconds, busy_attempts=busy_attempts, job_max_wait_hours=job_max_wait_hours)
    return EVENTS_PER_CHILD_OUTSIDE_LOOPS + EVENTS_PER_LOOP * loops


def check_history_budget(config: PipelineConfig) -> None:
    """Fails synth when a run (or one of its batch jobs) that loops to its bounds could pass the history-event
    limit, naming the key to change and the value that fits.

    Without this, such a run would die with Step Functions' own history-limit error instead of the
    pipeline's bounded, named failures.
    """
    budget = HistoryBudget.of(config)
    if budget.child_events > HISTORY_EVENT_LIMIT:
        longest = _largest(
            lambda hours: child_worst_case(
                poll_seconds=config.status_poll_seconds,
                busy_attempts=config.busy_retry_max_attempts,
                job_max_wait_hours=hours,
            ),
            config.job_max_wait_hours,
        )
        raise ConfigError.invalid(
            "job_max_wait_hours",
            config.job_max_wait_hours,
            f"at most {longest} with status_poll_seconds={config.status_poll_seconds} and busy_retry_max_attempts="
            f"{config.busy_retry_max_attempts} (a batch job polling that long would write about "
            f"{budget.child_events} history events in its child execution, over the Step Functions limit of "
            f"{HISTORY_EVENT_LIMIT})",
        )
    if budget.parent_events <= HISTORY_EVENT_LIMIT:
        return
    key = "status_poll_seconds" if config.status_poll_seconds <= config.busy_retry_seconds else "busy_retry_seconds"
    other = "busy_retry_seconds" if key == "status_poll_seconds" else "status_poll_seconds"
    shortest = getattr(config, key)

    def worst_with(seconds: int) -> int:
        """The worst case with every interval shorter than `seconds` raised to it."""
        return parent_worst_case(
            timeout_seconds=config.execution_timeout_hours * 3600,
            poll_seconds=max(config.status_poll_seconds, seconds),
            busy_seconds=max(config.busy_retry_seconds, seconds),
            busy_attempts=config.busy_retry_max_attempts,
            job_max_wait_hours=config.job_max_wait_hours,
            metadata_datasets=len(config.metadata_datasets),
            solutions=len(config.solutions),
        )

    longer = range(shortest + 1, 3601)
    needed = next((seconds for seconds in longer if worst_with(seconds) <= HISTORY_EVENT_LIMIT), None)
    if needed is None:
        fix = (
            "a longer interval is not enough: lower busy_retry_max_attempts, job_max_wait_hours or "
            "execution_timeout_hours, or configure fewer solutions"
        )
    else:
        fix = f"at least {needed}" + (f" (and {other} as well)" if getattr(config, other) < needed else "")
    raise ConfigError.invalid(
        key,
        shortest,
        f"{fix} with execution_timeout_hours={config.execution_timeout_hours}, job_max_wait_hours="
        f"{config.job_max_wait_hours}, busy_retry_max_attempts={config.busy_retry_max_attempts}, "
        f"{len(config.solutions)} solution(s) and {len(config.metadata_datasets)} metadata dataset(s) (a run polling "
        f"that long would write about {budget.parent_events} history events, over the Step Functions limit of "
        f"{HISTORY_EVENT_LIMIT})",
    )


def _largest(events_of: Callable[[int], int], start: int) -> int:
    """The largest value below `start` (at least 0) whose events fit the limit."""
    value = start
    while value > 0 and events_of(value) > HISTORY_EVENT_LIMIT:
        value -= 1
    return value
