"""The import decision of an incremental run: INCREMENTAL from `interactions-delta/` only within an INCREMENTAL
job's limits (1,000 records at least, 1 GB at most), at each limit and one step past it; FULL from
`interactions/` with the reason otherwise; the handler reads the delta from the run's summary and folder."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

from lambda_src.run_modes.modes import (
    FULL,
    INCREMENTAL,
    INCREMENTAL_MAX_BYTES,
    MIN_IMPORT_RECORDS,
    Delta,
    decide_import_mode,
)
from pipeline_contracts import run_layout
from tests.run_modes.test_handler import DATASET, aws, choose, event, put  # noqa: F401  (aws: the fixture)

ACTIVE = [{"status": "ACTIVE"}]


def decide(delta: Delta | None, *, jobs: list[dict[str, Any]] = ACTIVE, configured: str = INCREMENTAL) -> dict:
    return decide_import_mode(
        dataset="interactions", configured=configured, import_jobs=jobs, size_bytes=5 * 10**9, records=50_000,
        delta=delta,
    )


@pytest.mark.parametrize(
    "records, size, mode",
    [
        (MIN_IMPORT_RECORDS, 1, INCREMENTAL),
        (MIN_IMPORT_RECORDS - 1, 1, FULL),
        (MIN_IMPORT_RECORDS, INCREMENTAL_MAX_BYTES, INCREMENTAL),
        (MIN_IMPORT_RECORDS, INCREMENTAL_MAX_BYTES + 1, FULL),
    ],
)
def test_the_delta_goes_incremental_only_within_one_jobs_limits(records: int, size: int, mode: str) -> None:
    decision = decide(Delta(records=records, size_bytes=size))
    assert decision["mode"] == mode
    expected = run_layout.INTERACTIONS_DELTA if mode == INCREMENTAL else run_layout.INTERACTIONS
    assert decision["folder"] == expected
    assert f"{records:,}" in decision["reason"] or f"{size:,}" in decision["reason"]


def test_a_delta_below_the_minimum_says_so() -> None:
    reason = decide(Delta(records=999, size_bytes=1))["reason"]
    assert reason.startswith("import_mode is INCREMENTAL, but this run's delta holds 999 new interactions records")
    assert "whole set is imported FULL" in reason


def test_a_rebuild_or_removed_rows_import_the_whole_set_full_whatever_the_delta() -> None:
    decision = decide(Delta(records=5000, size_bytes=1, full_reason="60 interaction(s) of 1 changed ... FULL"))
    assert (decision["mode"], decision["folder"]) == (FULL, run_layout.INTERACTIONS)
    assert decision["reason"].endswith("60 interaction(s) of 1 changed ... FULL")


def test_the_first_import_and_configured_full_stay_full_and_read_the_whole_set() -> None:
    first = decide(Delta(records=5000, size_bytes=1), jobs=[])
    configured = decide(Delta(records=5000, size_bytes=1), configured=FULL)
    assert [(d["mode"], d["folder"]) for d in (first, configured)] == [(FULL, run_layout.INTERACTIONS)] * 2
    assert "no ACTIVE bulk import" in first["reason"]


def test_without_the_incremental_etl_the_decision_has_no_folder() -> None:
    assert "folder" not in decide(None)


@pytest.mark.parametrize("delta_records", [MIN_IMPORT_RECORDS - 1, MIN_IMPORT_RECORDS])
def test_the_handler_reads_the_delta_from_the_summary_and_its_folder(aws: Stubber, delta_records: int) -> None:  # noqa: F811
    section = {"whole_set": {"interactions": 3000}, "delta": {"interactions": delta_records}, "import_full_reason": None}
    put(run_layout.SUMMARY, json.dumps({"counts": {"kept": 12}, "incremental": section}).encode())
    put(run_layout.INTERACTIONS_DELTA + "part-0.csv", b"x" * 70)
    put(run_layout.INTERACTIONS + "part-0.csv", b"x" * 200)
    aws.add_response("list_dataset_import_jobs", {"datasetImportJobs": ACTIVE}, {"datasetArn": DATASET})
    decision = choose(event("INCREMENTAL", "FULL"))["imports"]["interactions"]
    if delta_records < MIN_IMPORT_RECORDS:
        assert (decision["mode"], decision["folder"]) == (FULL, run_layout.INTERACTIONS)
    else:
        assert (decision["mode"], decision["folder"]) == (INCREMENTAL, run_layout.INTERACTIONS_DELTA)
        assert "in 70 bytes" in decision["reason"]  # the delta's folder, not the whole set's


def test_the_whole_set_is_what_the_record_minimum_counts(aws: Stubber) -> None:  # noqa: F811
    section = {"whole_set": {"interactions": 3000}, "delta": None, "import_full_reason": "this run rebuilt"}
    put(run_layout.SUMMARY, json.dumps({"counts": {"kept": 0}, "incremental": section}).encode())
    assert choose(event("FULL", "FULL"))["imports"]["interactions"]["mode"] == FULL  # 0 lines read, 3,000 held


def test_with_the_incremental_etl_a_summary_without_its_section_imports_the_whole_set(aws: Stubber) -> None:  # noqa: F811
    put(run_layout.SUMMARY, json.dumps({"counts": {"kept": 3000}}).encode())
    payload = {**event("FULL", "FULL"), "incremental_etl": True}
    assert choose(payload)["imports"]["interactions"]["folder"] == run_layout.INTERACTIONS
    assert "folder" not in choose(event("FULL", "FULL"))["imports"]["interactions"]
