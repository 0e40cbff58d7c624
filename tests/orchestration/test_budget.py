"""The history budget: the run's own execution, each solution's child, each import's and batch job's child.

Every long wait polls in a child execution of its own (stacks/orchestration/own_history.py), so the budget no
longer depends on how many solutions and datasets a configuration has."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from stacks.config import ConfigError, PipelineConfig
from stacks.orchestration.budget import (
    EVENTS_PER_LOOP,
    HISTORY_EVENT_LIMIT,
    HistoryBudget,
    bounded_loops,
    check_history_budget,
    job_worst_case,
    solution_worst_case,
)

from .test_solutions import ITEMS_DATASET, SOLUTIONS

ROOT = Path(__file__).resolve().parents[2]
# Keys of config/full.json that change the run's structure: how many solutions and imports it has.
STRUCTURAL = ("solutions", "items_dataset", "users_dataset")


def fits(config: PipelineConfig) -> bool:
    try:
        check_history_budget(config)
    except ConfigError:
        return False
    return True


def with_poll(seconds: int, **mapping: Any) -> PipelineConfig:
    return PipelineConfig.from_mapping({"environment": "budget", **mapping, "status_poll_seconds": seconds})


def test_the_edge_passes_one_second_less_fails_and_the_message_names_the_edge() -> None:
    edge = next(seconds for seconds in range(5, 3601) if fits(with_poll(seconds)))
    assert HistoryBudget.of(with_poll(edge)).solution_events <= HISTORY_EVENT_LIMIT
    over = with_poll(edge - 1)
    assert HistoryBudget.of(over).solution_events > HISTORY_EVENT_LIMIT
    with pytest.raises(ConfigError, match=r"'status_poll_seconds'") as refused:
        check_history_budget(over)
    assert f"at least {edge} with job_max_wait_hours=12 and busy_retry_max_attempts=60" in str(refused.value)
    # The hours the message offers instead fit, one more does not.
    (hours,) = map(int, re.findall(r"job_max_wait_hours at most (\d+)", str(refused.value)))
    assert fits(PipelineConfig.from_mapping({"status_poll_seconds": edge - 1, "job_max_wait_hours": hours}))
    assert not fits(PipelineConfig.from_mapping({"status_poll_seconds": edge - 1, "job_max_wait_hours": hours + 1}))


def test_the_edge_is_the_same_for_one_solution_and_for_four_with_items() -> None:
    """Detection lag independent of the number of solutions and datasets: the shortest interval that fits."""
    one = next(seconds for seconds in range(5, 3601) if fits(with_poll(seconds)))
    four = next(
        seconds for seconds in range(5, 3601)
        if fits(with_poll(seconds, solutions=SOLUTIONS, items_dataset=ITEMS_DATASET))
    )
    assert one == four == 21


def test_a_solution_child_holds_its_training_loops_and_output_files() -> None:
    config = PipelineConfig()
    loops = bounded_loops(poll_seconds=45, busy_attempts=60, job_max_wait_hours=12)
    assert loops == 960 + 60
    budget = HistoryBudget.of(config)
    assert budget.solution_events == solution_worst_case(loops) == 80 + 100 * 7 + EVENTS_PER_LOOP * loops
    assert budget.job_events == job_worst_case(loops) == 40 + EVENTS_PER_LOOP * loops
    assert budget.largest == budget.solution_events


def test_the_parent_has_only_straight_paths() -> None:
    one = HistoryBudget.of(PipelineConfig())
    four = HistoryBudget.of(PipelineConfig.from_mapping({"solutions": SOLUTIONS, "items_dataset": ITEMS_DATASET}))
    # Three more solutions and one more import: each one hand-over in the parent, whatever the poll interval.
    assert four.parent_events - one.parent_events == 4 * 30
    assert HistoryBudget.of(with_poll(3600, solutions=SOLUTIONS, items_dataset=ITEMS_DATASET)).parent_events == (
        four.parent_events
    )


def test_shipped_defaults_fit_every_history() -> None:
    budget = HistoryBudget.of(PipelineConfig())
    assert budget.largest <= HISTORY_EVENT_LIMIT


# The keys full.json's solutions read besides themselves: their filters and the event settings of their event types
# and value thresholds.
SOLUTION_COMPANIONS = ("filters", "default_event_type", "raw_event_value_column", "keep_event_types")


def full_configuration() -> dict[str, Any]:
    return json.loads((ROOT / "config" / "full.json").read_text())


@pytest.mark.parametrize(
    "keys",
    # full.json's solutions need the items dataset (segment recipes) and, through their filters, the users dataset
    # (synth refuses them without): they come with both.
    [
        combo
        for size in range(len(STRUCTURAL) + 1)
        for combo in itertools.combinations(STRUCTURAL, size)
        if "solutions" not in combo or {"items_dataset", "users_dataset"} <= set(combo)
    ],
    ids=lambda keys: "+".join(keys) or "defaults",
)
def test_every_combination_of_optional_capabilities_fits_with_the_default_polling(keys: tuple[str, ...]) -> None:
    """The class of the issue's report: adding the documented items_dataset to the defaults made synth refuse the
    default poll settings. Every combination of the capabilities that add solutions or imports (config/full.json's
    values) keeps the default status_poll_seconds / busy_retry_seconds valid."""
    full = full_configuration()
    companions = SOLUTION_COMPANIONS if "solutions" in keys else ()
    config = PipelineConfig.from_mapping({key: full[key] for key in (*keys, *companions)})
    assert (config.status_poll_seconds, config.busy_retry_seconds) == (45, 60)
    check_history_budget(config)


def test_the_full_configuration_polls_at_most_every_60_seconds() -> None:
    full = full_configuration()
    config = PipelineConfig.from_mapping(full)
    assert config.status_poll_seconds <= 60 and config.busy_retry_seconds <= 60
    assert len(config.solutions) == 4 and len(config.metadata_datasets) == 2
    check_history_budget(config)



def test_the_parent_of_the_largest_allowed_configuration_is_far_below_the_limit() -> None:
    """The run's own history grows by one hand-over per solution and import; config.py allows 20 solutions (one
    more is refused) and there are at most 3 imports, so synth needs no check of it."""
    solutions = [{"name": f"s{index}", "recipe": "aws-user-personalization"} for index in range(21)]
    with pytest.raises(ConfigError, match=r"at most 20 solutions"):
        PipelineConfig.from_mapping({"solutions": solutions})
    full = full_configuration()
    largest = PipelineConfig.from_mapping(
        {"solutions": solutions[:20], "items_dataset": full["items_dataset"], "users_dataset": full["users_dataset"]}
    )
    assert HistoryBudget.of(largest).parent_events == 200 + 23 * 30 < HISTORY_EVENT_LIMIT
