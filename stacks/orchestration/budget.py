"""The run's worst case against Step Functions' execution-history limit, checked at synth time.

Every long wait of a run polls in an execution history of its own (`own_history.py`), so four histories count,
each against the 25,000-event limit of a Standard execution:

- the run's own (parent) execution: no polling loop at all, only straight paths: a fixed number of events per
  run, per import and per solution (the hand-over of each child, its Map Run's events, the post-processing's
  accept iteration). It does not grow with the poll interval or the execution timeout.
- each import's child execution (interactions, Items, Users): one job stage's bounded loops (job_max_wait_hours
  of polls and busy_retry_max_attempts busy retries) and a few straight states;
- each solution's child execution: its training's bounded loops, its straight path (ARN read, gate, planning,
  the batch jobs' Map Run, the record) and its output files, one inline Map iteration each;
- each batch job's child execution: one job stage's bounded loops and a few straight states.

So the shortest poll interval that fits no longer depends on how many solutions and datasets a configuration
has: only on the poll interval, the busy retries and job_max_wait_hours (a solution's child, the largest, decides).
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
# The parent's events outside the imports and the solutions (guard, naming, parameter check, Glue, choose modes,
# the run-level post-processing, summary), rounded up.
EVENTS_OUTSIDE_LOOPS = 200
# One child in the parent: its hand-over Pass, the Distributed Map (entered, Map Run started/succeeded, exited)
# and what the parent does with the result (the import's failed? Choice and result Pass, a solution's accept
# iteration in the post-processing); rounded up.
EVENTS_PER_CHILD_IN_PARENT = 30
# One solution's child outside its training loops: the wrapper Parallel, ARN read, the training's straight
# states, the gate, planning, the batch jobs' Map Run, listing, the record; rounded up.
EVENTS_PER_SOLUTION = 80
# One output file's inline Map iteration (iteration started/succeeded, task entered/scheduled/started/succeeded/
# exited), and the files one solution is budgeted for: 100 files hold 500 million users at 5 million per file,
# or 50,000 items at 500 per file (item affinity).
EVENTS_PER_OUTPUT_FILE = 7
OUTPUT_FILES_PER_SOLUTION = 100
# A job stage's child execution (an import, a batch job) outside its loops: Parallel wrapper, the batch job's
# place-input Choice and Lambda, the job stage's straight states, the done/failed Pass; rounded up.
EVENTS_PER_CHILD_OUTSIDE_LOOPS = 40


@dataclass(frozen=True)
class HistoryBudget:
    """The worst-case history of a run's parent execution and of each kind of child execution."""

    parent_events: int
    solution_events: int
    job_events: int
    """One job stage's child: an import's or a batch job's (the same bounded loops and straight states)."""

    @classmethod
    def of(cls, config: PipelineConfig) -> HistoryBudget:
        loops = bounded_loops(
            poll_seconds=config.status_poll_seconds,
            busy_attempts=config.busy_retry_max_attempts,
            job_max_wait_hours=config.job_max_wait_hours,
        )
        return cls(
            parent_events=parent_worst_case(
                imports=1 + len(config.metadata_datasets), solutions=len(config.solutions)
            ),
            solution_events=solution_worst_case(loops),
            job_events=job_worst_case(loops),
        )

    @property
    def largest(self) -> int:
        return max(self.parent_events, self.solution_events, self.job_events)


def bounded_loops(*, poll_seconds: int, busy_attempts: int, job_max_wait_hours: int) -> int:
    """The most loops one job stage makes: its polls over job_max_wait_hours and its busy retries."""
    return math.ceil(job_max_wait_hours * 3600 / poll_seconds) + busy_attempts


def parent_worst_case(*, imports: int, solutions: int) -> int:
    """History events of a run's own execution: straight paths only (every loop is in a child)."""
    return EVENTS_OUTSIDE_LOOPS + (imports + solutions) * EVENTS_PER_CHILD_IN_PARENT


def solution_worst_case(loops: int) -> int:
    """History events of one solution's child execution whose training loops to its bounds."""
    straight = EVENTS_PER_SOLUTION + OUTPUT_FILES_PER_SOLUTION * EVENTS_PER_OUTPUT_FILE
    return straight + EVENTS_PER_LOOP * loops


def job_worst_case(loops: int) -> int:
    """History events of one import's or batch job's child execution that loops to its bounds."""
    return EVENTS_PER_CHILD_OUTSIDE_LOOPS + EVENTS_PER_LOOP * loops


def check_history_budget(config: PipelineConfig) -> None:
    """Fails synth when a run, or one of its child executions, that loops to its bounds could pass the
    history-event limit, naming the key to change and the value that fits.

    Without this, such a run would die with Step Functions' own history-limit error instead of the
    pipeline's bounded, named failures.
    """
    budget = HistoryBudget.of(config)
    # The run's own history needs no check: config.py allows at most 20 solutions and there are at most 3 imports,
    # 890 events at most (tests/orchestration/test_budget.py).
    if budget.solution_events <= HISTORY_EVENT_LIMIT:
        return

    def solution_events_with(*, poll_seconds: int, hours: int) -> int:
        return solution_worst_case(
            bounded_loops(poll_seconds=poll_seconds, busy_attempts=config.busy_retry_max_attempts,
                          job_max_wait_hours=hours)
        )

    # busy_retry_max_attempts is at most 1,000 (config.py): with polls of an hour, a child stays far below the
    # limit, so a long enough interval always exists.
    needed = next(
        seconds
        for seconds in range(config.status_poll_seconds + 1, 3601)
        if solution_events_with(poll_seconds=seconds, hours=config.job_max_wait_hours) <= HISTORY_EVENT_LIMIT
    )
    longest = _largest(
        lambda hours: solution_events_with(poll_seconds=config.status_poll_seconds, hours=hours),
        config.job_max_wait_hours,
    )
    raise ConfigError.invalid(
        "status_poll_seconds",
        config.status_poll_seconds,
        f"at least {needed} with job_max_wait_hours={config.job_max_wait_hours} and busy_retry_max_attempts="
        f"{config.busy_retry_max_attempts}, or job_max_wait_hours at most {longest} (a training polling that long "
        f"would write about {budget.solution_events} history events in its solution's child execution, over the "
        f"Step Functions limit of {HISTORY_EVENT_LIMIT})",
    )


def _largest(events_of: Callable[[int], int], start: int) -> int:
    """The largest value below `start` (at least 0) whose events fit the limit."""
    value = start
    while value > 0 and events_of(value) > HISTORY_EVENT_LIMIT:
        value -= 1
    return value
