"""The history budget of a run with several solutions (parent execution) and of one batch job (child execution)."""

from __future__ import annotations

import re

import pytest

from stacks.config import ConfigError, PipelineConfig
from stacks.orchestration.budget import (
    EVENTS_PER_LOOP,
    HISTORY_EVENT_LIMIT,
    HistoryBudget,
    bounded_loops,
    check_history_budget,
)

from .test_solutions import ITEMS_DATASET, MULTI_CONFIG, SOLUTIONS


def with_poll(config: PipelineConfig, seconds: int) -> PipelineConfig:
    """`config` with both intervals at `seconds` (the shortest loop decides the parent's chain)."""
    mapping = {"environment": config.environment, "solutions": SOLUTIONS if len(config.solutions) > 1 else []}
    if config.items_dataset is not None:
        mapping["items_dataset"] = ITEMS_DATASET
    return PipelineConfig.from_mapping({**mapping, "status_poll_seconds": seconds, "busy_retry_seconds": seconds})


def fits(config: PipelineConfig) -> bool:
    try:
        check_history_budget(config)
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("config", [PipelineConfig(environment="one"), MULTI_CONFIG], ids=["one-solution", "four"])
def test_the_edge_passes_one_second_less_fails_and_the_message_names_the_edge(config: PipelineConfig) -> None:
    edge = next(seconds for seconds in range(5, 3601) if fits(with_poll(config, seconds)))
    assert HistoryBudget.of(with_poll(config, edge)).parent_events <= HISTORY_EVENT_LIMIT
    over = with_poll(config, edge - 1)
    assert HistoryBudget.of(over).parent_events > HISTORY_EVENT_LIMIT
    with pytest.raises(ConfigError, match=r"'status_poll_seconds'") as refused:
        check_history_budget(over)
    assert f"at least {edge} (and busy_retry_seconds as well) " in str(refused.value)
    assert f"{len(config.solutions)} solution(s)" in str(refused.value)


def test_every_solution_adds_its_own_bounded_loops() -> None:
    one, four = HistoryBudget.of(with_poll(PipelineConfig(environment="one"), 240)), HistoryBudget.of(MULTI_CONFIG)
    loops = bounded_loops(
        poll_seconds=MULTI_CONFIG.status_poll_seconds,
        busy_attempts=MULTI_CONFIG.busy_retry_max_attempts,
        job_max_wait_hours=MULTI_CONFIG.job_max_wait_hours,
    )
    # Three more solutions and an Items import, each beside the longest chain.
    extra_branches = len(MULTI_CONFIG.solutions) - 1 + len(MULTI_CONFIG.metadata_datasets)
    assert four.parent_events - one.parent_events >= EVENTS_PER_LOOP * loops * extra_branches


def test_a_batch_job_too_long_for_its_child_history_is_refused_naming_job_max_wait_hours() -> None:
    # Polls of 5 s for 48 h: 34,560 polls in one child execution.
    config = PipelineConfig(status_poll_seconds=5, busy_retry_seconds=3600, job_max_wait_hours=48, execution_timeout_hours=72)
    assert HistoryBudget.of(config).child_events > HISTORY_EVENT_LIMIT
    with pytest.raises(ConfigError, match=r"'job_max_wait_hours'") as refused:
        check_history_budget(config)
    (hours,) = re.findall(r"at most (\d+) with", str(refused.value))
    fitting = PipelineConfig(
        status_poll_seconds=5, busy_retry_seconds=3600, job_max_wait_hours=int(hours), execution_timeout_hours=72
    )
    assert HistoryBudget.of(fitting).child_events <= HISTORY_EVENT_LIMIT
    longer = PipelineConfig(
        status_poll_seconds=5, busy_retry_seconds=3600, job_max_wait_hours=int(hours) + 1, execution_timeout_hours=72
    )
    assert HistoryBudget.of(longer).child_events > HISTORY_EVENT_LIMIT


def test_shipped_defaults_fit_both_histories() -> None:
    budget = HistoryBudget.of(PipelineConfig())
    assert budget.parent_events <= HISTORY_EVENT_LIMIT and budget.child_events <= HISTORY_EVENT_LIMIT
