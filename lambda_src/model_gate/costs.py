"""Run accounting: what a run used, and an estimate of what it cost, one line per item. Pure.

Usage comes from the run itself:
- Personalize training: `trainingHours` of the solution version (`DescribeSolutionVersion`); it is
  what Personalize bills (hours of a 4 vCPU / 8 GiB unit, so it can exceed the wall-clock time).
- Glue: DPU-seconds of the job run (`glue_dpu_seconds`). `GetJobRun` (and the `.sync` task's output)
  reports `DPUSeconds` for Auto Scaling and Flex runs (the executors' run time x the DPU factor of
  the worker type), which can be less than the capacity ceiling; otherwise the run is billed for its
  capacity: `ExecutionTime` (seconds) x `MaxCapacity`, or x `NumberOfWorkers` x DPUs per worker.
- Batch recommendations: the number of answered batch input lines (one recommendation list per
  user, the post-processing's `users_with_recommendations`). Whether Personalize bills one
  "recommendation" per list or per item could not be confirmed from the stored pricing pages;
  check before relying on this line.
- Data ingestion: bytes imported (the interactions CSV), when known.
- Step Functions: state transitions of the execution, when known.

Prices (`PriceTable`) are configuration. A price left at None is "not known": its line shows the
usage with no cost and the estimate is marked incomplete, rather than guessing a figure.

Glue bills Spark jobs per second with a minimum duration per run (one minute for Glue 2.0 and
later, per third-party summaries of the pricing page; not confirmed from AWS's own page here): the
estimate does not add that minimum, as this pipeline's job runs for minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from collections.abc import Mapping

__all__ = [
    "InvalidPriceTable",
    "GlueUsage",
    "glue_dpu_seconds",
    "PriceTable",
    "RunUsage",
    "CostLine",
    "CostEstimate",
    "estimate_run_cost",
    "DPU_PER_WORKER",
]

# DPUs per worker (Glue API reference, JobRun.DPUSeconds and WorkerType; CDK's WorkerType docs).
DPU_PER_WORKER: Mapping[str, float] = {"G.025X": 0.25, "G.1X": 1.0, "G.2X": 2.0, "G.4X": 4.0, "G.8X": 8.0}


class InvalidPriceTable(ValueError):
    """A configured price is not a non-negative number (or null for "unknown")."""


@dataclass(frozen=True)
class GlueUsage:
    dpu_seconds: float
    source: str
    execution_class: str

    def as_dict(self) -> dict[str, Any]:
        return {"dpuSeconds": self.dpu_seconds, "source": self.source, "executionClass": self.execution_class}


def _non_negative(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def glue_dpu_seconds(job_run: Mapping[str, Any]) -> GlueUsage:
    """DPU-seconds of a Glue job run, from `GetJobRun`'s response or its `JobRun` (the `.sync` task's
    output has the same PascalCase fields at the top level). Raises ValueError when the run does not
    say enough to compute them."""
    run = job_run.get("JobRun", job_run)
    execution_class = str(run.get("ExecutionClass") or "STANDARD").upper()
    reported = _non_negative(run.get("DPUSeconds"))
    if reported is not None:
        return GlueUsage(reported, "DPUSeconds", execution_class)
    seconds = _non_negative(run.get("ExecutionTime"))
    if seconds is None:
        raise ValueError("the Glue job run reports neither DPUSeconds nor ExecutionTime")
    capacity = _non_negative(run.get("MaxCapacity"))
    if capacity:
        return GlueUsage(seconds * capacity, "ExecutionTime x MaxCapacity", execution_class)
    workers = _non_negative(run.get("NumberOfWorkers"))
    per_worker = DPU_PER_WORKER.get(str(run.get("WorkerType")))
    if workers and per_worker:
        return GlueUsage(
            seconds * workers * per_worker, "ExecutionTime x NumberOfWorkers x DPU per worker", execution_class
        )
    raise ValueError(
        f"the Glue job run reports no DPUSeconds and no capacity to multiply ExecutionTime by "
        f"(MaxCapacity={run.get('MaxCapacity')!r}, NumberOfWorkers={run.get('NumberOfWorkers')!r}, "
        f"WorkerType={run.get('WorkerType')!r}; known worker types: {', '.join(DPU_PER_WORKER)})"
    )


@dataclass(frozen=True)
class PriceTable:
    """Unit prices in `currency`, for one region (the defaults are US East (N. Virginia) list prices).
    None means "not known": the line is shown unpriced."""

    currency: str = "USD"
    # Not set: the Personalize pricing page (https://aws.amazon.com/personalize/pricing/, read
    # 2026-11-29 in its German edition) bills training per training hour, but the figure could not be
    # read there; set it from the page for your region.
    personalize_training_per_hour: float | None = None
    # Not set: same page; neither the figure nor whether a "recommendation" is a list or an item
    # could be confirmed.
    personalize_batch_per_1000_recommendations: float | None = None
    # Not set: same page (billed per GB uploaded to Personalize); figure not confirmed.
    personalize_ingestion_per_gb: float | None = None
    # 0.44 USD per DPU-hour: AWS Glue pricing page, ETL job example ("the price of 1 DPU-Hour is
    # $0.44"), read 2026-11-29 in a Turkish-language copy of the page; third-party cost guides give
    # the same figure.
    glue_standard_per_dpu_hour: float | None = 0.44
    # Not set: Flex is billed at a lower DPU-hour rate (AWS Big Data Blog, "Introducing AWS Glue Flex
    # jobs", 2022); the figure could not be confirmed from AWS's pricing page on 2026-11-29.
    glue_flex_per_dpu_hour: float | None = None
    # 0.025 USD per 1,000 state transitions (Standard workflows): AWS Step Functions pricing, as
    # checked by the team in /work/shared/README.md (2026-11).
    step_functions_per_1000_transitions: float | None = 0.025

    def __post_init__(self) -> None:
        problems = [
            f"{f.name} {getattr(self, f.name)!r} is not a non-negative number or null"
            for f in fields(self)
            if f.name != "currency"
            and getattr(self, f.name) is not None
            and _non_negative(getattr(self, f.name)) is None
        ]
        if not isinstance(self.currency, str) or len(self.currency) != 3 or not self.currency.isalpha():
            problems.append(f"currency {self.currency!r} is not a 3-letter code")
        if problems:
            raise InvalidPriceTable("invalid price table: " + "; ".join(problems))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> PriceTable:
        """From configuration (snake_case keys as above); absent keys take the defaults."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidPriceTable(
                f"invalid price table: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
            )
        return cls(**data)


@dataclass(frozen=True)
class RunUsage:
    training_hours: float | None = None
    glue: GlueUsage | None = None
    # Counts, but given as JSON numbers: an event may carry them as 1000.0.
    batch_recommendations: float | None = None
    ingested_bytes: float | None = None
    state_transitions: float | None = None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class CostLine:
    item: str
    quantity: float
    unit: str
    unit_price: float | None
    price_unit: str
    cost: float | None

    def as_dict(self) -> dict[str, Any]:
        """Fields in camelCase, like the rest of the state machine's data."""
        return {_camel(f.name): getattr(self, f.name) for f in fields(self)}

    def describe(self, currency: str) -> str:
        usage = f"{self.item}: {self.quantity:,.6g} {self.unit}"
        if self.cost is None:
            return f"{usage}, no unit price configured"
        return f"{usage} x {self.unit_price:g} {currency} {self.price_unit} = {self.cost:.4f} {currency}"


@dataclass(frozen=True)
class CostEstimate:
    currency: str
    lines: tuple[CostLine, ...]

    @property
    def total(self) -> float:
        return float(sum((Decimal(repr(line.cost)) for line in self.lines if line.cost is not None), Decimal(0)))

    @property
    def unpriced(self) -> list[str]:
        return [line.item for line in self.lines if line.cost is None]

    @property
    def complete(self) -> bool:
        return not self.unpriced

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "total": self.total,
            "complete": self.complete,
            "unpriced": self.unpriced,
            "lines": [line.as_dict() for line in self.lines],
        }

    def describe(self) -> str:
        """For the notice: one line per item, then the total (saying what it leaves out)."""
        rows = [line.describe(self.currency) for line in self.lines]
        total = f"estimated total: {self.total:.4f} {self.currency}"
        if self.unpriced:
            total += f" (without {', '.join(self.unpriced)}: no unit price configured)"
        return "\n".join([*rows, total])


# Cost figures are rounded to a millionth of the currency unit: below any bill's precision, and it
# keeps binary-float noise out of the manifest.
_COST_QUANTUM = Decimal("0.000001")


def _line(item: str, quantity: float, unit: str, price: float | None, price_unit: str, per: Decimal) -> CostLine:
    cost = None
    if price is not None:
        exact = Decimal(repr(float(quantity))) / per * Decimal(repr(float(price)))
        cost = float(exact.quantize(_COST_QUANTUM, rounding=ROUND_HALF_UP))
    return CostLine(item, float(quantity), unit, price, price_unit, cost)


def estimate_run_cost(usage: RunUsage, prices: PriceTable) -> CostEstimate:
    """One line per item the run reports usage for; items without usage are left out."""
    glue = usage.glue
    flex = glue is not None and glue.execution_class == "FLEX"
    # (item, quantity, unit, unit price, what the price is per, quantity units per priced unit)
    items: list[tuple[str, float | None, str, float | None, str, int]] = [
        (
            "personalize_training",
            usage.training_hours,
            "training hours",
            prices.personalize_training_per_hour,
            "per training hour",
            1,
        ),
        (
            "personalize_batch_recommendations",
            usage.batch_recommendations,
            "recommendation lists",
            prices.personalize_batch_per_1000_recommendations,
            "per 1,000",
            1000,
        ),
        (
            "personalize_ingestion",
            usage.ingested_bytes,
            "bytes",
            prices.personalize_ingestion_per_gb,
            "per GB",
            1024**3,
        ),
        (
            "glue_flex" if flex else "glue_standard",
            glue.dpu_seconds if glue is not None else None,
            "DPU-seconds",
            prices.glue_flex_per_dpu_hour if flex else prices.glue_standard_per_dpu_hour,
            "per DPU-hour",
            3600,
        ),
        (
            "step_functions",
            usage.state_transitions,
            "state transitions",
            prices.step_functions_per_1000_transitions,
            "per 1,000",
            1000,
        ),
    ]
    lines = tuple(
        _line(item, quantity, unit, price, price_unit, Decimal(per))
        for item, quantity, unit, price, price_unit, per in items
        if quantity is not None
    )
    return CostEstimate(prices.currency, lines)
