"""The run's worst case against Step Functions' execution-history limit, checked at synth time."""

from __future__ import annotations

import math

from stacks.config import ConfigError, PipelineConfig

# Step Functions Standard workflows fail an execution whose history passes this many events.
HISTORY_EVENT_LIMIT = 25_000
# History events of one poll: Wait (entered, exited) + Describe task (entered, scheduled, started,
# succeeded, exited) + Choice (entered, exited) + counting Pass (entered, exited). A busy retry costs the same.
EVENTS_PER_LOOP = 11
# Events outside the loops (guard, naming, Glue, the three stages' straight paths, summary), rounded up.
EVENTS_OUTSIDE_LOOPS = 150


def check_history_budget(config: PipelineConfig) -> None:
    """Fails synth when a run that loops until its execution timeout could pass the history-event limit.

    Without this, such a run would die with Step Functions' own history-limit error instead of the
    pipeline's bounded, named failures.
    """
    shortest_loop = min(config.status_poll_seconds, config.busy_retry_seconds)
    timeout_seconds = config.execution_timeout_hours * 3600
    # Items / Users imports poll beside the interactions import (a Parallel state): each adds at most its own
    # bounded loops (job_max_wait_hours of polls and busy_retry_max_attempts retries) to the same history.
    parallel_loops = len(config.metadata_datasets) * (
        math.ceil(config.job_max_wait_hours * 3600 / config.status_poll_seconds) + config.busy_retry_max_attempts
    )
    worst = EVENTS_OUTSIDE_LOOPS + EVENTS_PER_LOOP * (math.ceil(timeout_seconds / shortest_loop) + parallel_loops)
    if worst > HISTORY_EVENT_LIMIT:
        branches = len(config.metadata_datasets)
        polled_seconds = timeout_seconds + branches * config.job_max_wait_hours * 3600
        room = HISTORY_EVENT_LIMIT - EVENTS_OUTSIDE_LOOPS - EVENTS_PER_LOOP * branches * config.busy_retry_max_attempts
        needed = math.ceil(EVENTS_PER_LOOP * polled_seconds / max(room, 1))
        key = "status_poll_seconds" if config.status_poll_seconds <= config.busy_retry_seconds else "busy_retry_seconds"
        raise ConfigError.invalid(
            key,
            shortest_loop,
            f"at least {needed} with execution_timeout_hours={config.execution_timeout_hours} (a run polling that "
            f"long would write about {worst} history events, over the Step Functions limit of {HISTORY_EVENT_LIMIT})",
        )
