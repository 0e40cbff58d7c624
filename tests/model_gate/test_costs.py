"""Run accounting: Glue DPU-seconds from GetJobRun, the price table, and the cost estimate's lines.

Expected costs are computed here with exact rational arithmetic from the inputs, then rounded to the
estimate's precision (a millionth), so a wrong unit (seconds vs hours, per 1 vs per 1,000) shows."""

from __future__ import annotations

from fractions import Fraction

import pytest

from lambda_src.model_gate.costs import (
    GlueUsage,
    InvalidPriceTable,
    PriceTable,
    RunUsage,
    estimate_run_cost,
    glue_dpu_seconds,
)


def exact(quantity: float, per: int, price: float) -> float:
    value = Fraction(repr(quantity)) / per * Fraction(repr(price))
    return round(float(value), 6)


# ----------------------------------------------------------------------------------------------
# Glue DPU-seconds


def test_reported_dpu_seconds_win_over_the_capacity_ceiling() -> None:
    # Auto Scaling: executors ran less than ExecutionTime x MaxCapacity; DPUSeconds is what ran.
    usage = glue_dpu_seconds({"JobRun": {"DPUSeconds": 754.5, "ExecutionTime": 400, "MaxCapacity": 10.0}})
    assert usage == GlueUsage(754.5, "DPUSeconds", "STANDARD")


def test_without_dpu_seconds_execution_time_times_max_capacity() -> None:
    assert glue_dpu_seconds({"ExecutionTime": 420, "MaxCapacity": 2.0}) == GlueUsage(840.0, "ExecutionTime x MaxCapacity", "STANDARD")


@pytest.mark.parametrize(("worker", "dpu"), [("G.025X", 0.25), ("G.1X", 1), ("G.2X", 2), ("G.4X", 4), ("G.8X", 8)])
def test_without_dpu_seconds_or_capacity_workers_times_dpu_per_worker(worker: str, dpu: float) -> None:
    usage = glue_dpu_seconds({"ExecutionTime": 100, "NumberOfWorkers": 3, "WorkerType": worker})
    assert usage.dpu_seconds == 100 * 3 * dpu
    assert usage.source == "ExecutionTime x NumberOfWorkers x DPU per worker"


def test_flex_execution_class_is_carried() -> None:
    assert glue_dpu_seconds({"DPUSeconds": 60, "ExecutionClass": "FLEX"}).execution_class == "FLEX"


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ({}, "neither DPUSeconds nor ExecutionTime"),
        ({"ExecutionTime": 100}, "no DPUSeconds and no capacity"),
        ({"ExecutionTime": 100, "NumberOfWorkers": 2, "WorkerType": "Z.2X"}, "WorkerType='Z.2X'; known worker types: G.025X"),
        ({"DPUSeconds": -5}, "neither DPUSeconds nor ExecutionTime"),
    ],
)
def test_a_run_without_usable_figures_is_refused(run: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        glue_dpu_seconds(run)


# ----------------------------------------------------------------------------------------------
# Price table


def test_defaults_price_only_what_could_be_confirmed() -> None:
    prices = PriceTable()
    assert (prices.currency, prices.glue_standard_per_dpu_hour, prices.step_functions_per_1000_transitions) == ("USD", 0.44, 0.025)
    assert prices.personalize_training_per_hour is None
    assert prices.personalize_batch_per_1000_recommendations is None
    assert prices.glue_flex_per_dpu_hour is None


def test_price_table_from_configuration() -> None:
    prices = PriceTable.from_mapping({"personalize_training_per_hour": 0.24, "glue_flex_per_dpu_hour": None, "currency": "EUR"})
    assert (prices.personalize_training_per_hour, prices.currency, prices.glue_standard_per_dpu_hour) == (0.24, "EUR", 0.44)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"glue_standard_per_dpu_hour": -0.1}, "glue_standard_per_dpu_hour -0.1 is not a non-negative number or null"),
        ({"personalize_training_per_hour": "0.24"}, "personalize_training_per_hour '0.24' is not"),
        ({"step_functions_per_1000_transitions": True}, "step_functions_per_1000_transitions True is not"),
        ({"currency": "dollars"}, "currency 'dollars' is not a 3-letter code"),
        ({"glue_per_hour": 1}, "unknown key\\(s\\) glue_per_hour; allowed: currency, glue_flex_per_dpu_hour"),
    ],
)
def test_invalid_price_table_names_the_value(data: dict, message: str) -> None:
    with pytest.raises(InvalidPriceTable, match=message):
        PriceTable.from_mapping(data)


# ----------------------------------------------------------------------------------------------
# Estimate


# Figures for the arithmetic only, not claims about AWS prices.
PRICES = PriceTable(
    personalize_training_per_hour=0.24,
    personalize_batch_per_1000_recommendations=0.067,
    personalize_ingestion_per_gb=0.05,
    glue_standard_per_dpu_hour=0.44,
    glue_flex_per_dpu_hour=0.29,
    step_functions_per_1000_transitions=0.025,
)


def test_one_line_per_item_with_exact_costs_and_their_total() -> None:
    usage = RunUsage(
        training_hours=1.372,
        glue=GlueUsage(754.5, "DPUSeconds", "STANDARD"),
        batch_recommendations=2113,
        ingested_bytes=3 * 1024**3 // 2,
        state_transitions=187,
    )
    estimate = estimate_run_cost(usage, PRICES)
    expected = {
        "personalize_training": exact(1.372, 1, 0.24),
        "personalize_batch_recommendations": exact(2113, 1000, 0.067),
        "personalize_ingestion": exact(3 * 1024**3 // 2, 1024**3, 0.05),
        "glue_standard": exact(754.5, 3600, 0.44),
        "step_functions": exact(187, 1000, 0.025),
    }
    assert {line.item: line.cost for line in estimate.lines} == expected
    assert estimate.total == pytest.approx(sum(expected.values()), abs=1e-12)
    assert estimate.complete and estimate.unpriced == []
    assert [line.unit for line in estimate.lines] == ["training hours", "recommendation lists", "bytes", "DPU-seconds", "state transitions"]


def test_flex_runs_are_priced_at_the_flex_rate() -> None:
    estimate = estimate_run_cost(RunUsage(glue=GlueUsage(7200, "DPUSeconds", "FLEX")), PRICES)
    assert [(line.item, line.cost) for line in estimate.lines] == [("glue_flex", exact(7200, 3600, 0.29))]


def test_items_without_usage_are_left_out() -> None:
    assert estimate_run_cost(RunUsage(), PRICES).lines == ()
    assert [line.item for line in estimate_run_cost(RunUsage(training_hours=0.5), PRICES).lines] == ["personalize_training"]


def test_unpriced_items_are_shown_and_the_total_says_what_it_leaves_out() -> None:
    usage = RunUsage(training_hours=2.0, glue=GlueUsage(3600, "DPUSeconds", "STANDARD"), batch_recommendations=1000)
    estimate = estimate_run_cost(usage, PriceTable())
    assert [(line.item, line.cost) for line in estimate.lines] == [
        ("personalize_training", None),
        ("personalize_batch_recommendations", None),
        ("glue_standard", exact(3600, 3600, 0.44)),
    ]
    assert estimate.total == exact(3600, 3600, 0.44)
    assert not estimate.complete
    text = estimate.describe()
    assert "personalize_training: 2 training hours, no unit price configured" in text
    assert text.endswith(
        "estimated total: 0.4400 USD (without personalize_training, personalize_batch_recommendations: no unit price configured)"
    )


def test_estimate_as_dict_for_the_manifest() -> None:
    out = estimate_run_cost(RunUsage(training_hours=0.5), PRICES).as_dict()
    assert out == {
        "currency": "USD",
        "total": exact(0.5, 1, 0.24),
        "complete": True,
        "unpriced": [],
        "lines": [
            {
                "item": "personalize_training",
                "quantity": 0.5,
                "unit": "training hours",
                "unitPrice": 0.24,
                "priceUnit": "per training hour",
                "cost": exact(0.5, 1, 0.24),
            }
        ],
    }


def test_costs_are_rounded_to_a_millionth_half_up() -> None:
    # 1 DPU-second at 0.44 per DPU-hour is 0.000122(2...) -> 0.000122; 9 give 0.0011 exactly.
    one = estimate_run_cost(RunUsage(glue=GlueUsage(1, "DPUSeconds", "STANDARD")), PRICES).lines[0].cost
    nine = estimate_run_cost(RunUsage(glue=GlueUsage(9, "DPUSeconds", "STANDARD")), PRICES).lines[0].cost
    assert (one, nine) == (0.000122, 0.0011)
