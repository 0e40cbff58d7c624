"""The mode decisions, pure: every rule exactly at its bound and one step past it."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_src.run_modes.modes import (
    INCREMENTAL_MAX_BYTES,
    MIN_IMPORT_RECORDS,
    ImportNotPossible,
    decide_import_mode,
    decide_training_mode,
    versions_to_describe,
)

SOLUTION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/pbp-dev-users-0123abcd"
ACTIVE_IMPORT = {"jobName": "pbp-dev-import-1", "status": "ACTIVE", "importMode": "FULL"}
FAILED_IMPORT = {"jobName": "pbp-dev-import-0", "status": "CREATE FAILED", "importMode": "FULL"}


def imports(**overrides: Any) -> dict[str, str]:
    arguments: dict[str, Any] = {
        "dataset": "interactions", "configured": "INCREMENTAL", "import_jobs": [ACTIVE_IMPORT],
        "size_bytes": 1000, "records": MIN_IMPORT_RECORDS,
    }  # fmt: skip
    return decide_import_mode(**{**arguments, **overrides})


def version(mode: str | None, status: str = "ACTIVE", name: str = "v1") -> dict[str, Any]:
    summary = {"solutionVersionArn": f"{SOLUTION_ARN}/{name}", "status": status}
    return {**summary, "trainingMode": mode} if mode else summary


def training(versions: list[dict[str, Any]], configured: str = "UPDATE") -> dict[str, str]:
    return decide_training_mode(solution="users", solution_arn=SOLUTION_ARN, configured=configured, versions=versions)


# Imports ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "jobs, expected",
    [
        ([], "FULL"),  # a new dataset: no import at all
        ([FAILED_IMPORT, {**FAILED_IMPORT, "status": "CREATE STOPPED"}], "FULL"),  # only failed ones
        ([{**ACTIVE_IMPORT, "status": "CREATE IN_PROGRESS"}], "FULL"),  # one that has not succeeded yet
        ([FAILED_IMPORT, ACTIVE_IMPORT], "INCREMENTAL"),  # one ACTIVE is enough
        ([{**ACTIVE_IMPORT, "importMode": "INCREMENTAL"}], "INCREMENTAL"),
    ],
    ids=["no-import", "only-failed", "only-in-progress", "one-active", "active-incremental"],
)
def test_incremental_needs_an_active_bulk_import(jobs: list[dict[str, Any]], expected: str) -> None:
    decision = imports(import_jobs=jobs)
    assert decision["mode"] == expected
    if expected == "FULL":
        assert "no ACTIVE bulk import yet" in decision["reason"] and "only FULL" in decision["reason"]


def test_the_reason_counts_the_import_jobs_by_status() -> None:
    reason = imports(import_jobs=[FAILED_IMPORT, FAILED_IMPORT])["reason"]
    assert "2 x CREATE FAILED" in reason
    assert "(its import jobs: none)" in imports(import_jobs=[])["reason"]


@pytest.mark.parametrize("size, expected", [(INCREMENTAL_MAX_BYTES, "INCREMENTAL"), (INCREMENTAL_MAX_BYTES + 1, "FULL")])
def test_incremental_takes_at_most_one_gigabyte(size: int, expected: str) -> None:
    decision = imports(size_bytes=size)
    assert decision["mode"] == expected
    assert f"{size:,} bytes" in decision["reason"]


@pytest.mark.parametrize("dataset", ["items", "users"])
def test_the_size_rule_applies_to_the_metadata_datasets_too(dataset: str) -> None:
    assert imports(dataset=dataset, size_bytes=INCREMENTAL_MAX_BYTES + 1, records=None)["mode"] == "FULL"
    assert imports(dataset=dataset, size_bytes=INCREMENTAL_MAX_BYTES, records=None)["mode"] == "INCREMENTAL"
    assert imports(dataset=dataset, import_jobs=[], records=None)["mode"] == "FULL"


@pytest.mark.parametrize("configured", ["FULL", "INCREMENTAL"])
def test_every_import_needs_a_thousand_records_in_either_mode(configured: str) -> None:
    assert imports(configured=configured, records=MIN_IMPORT_RECORDS)["mode"] == configured
    with pytest.raises(ImportNotPossible, match=r"999 interactions records.*at least 1,000"):
        imports(configured=configured, records=MIN_IMPORT_RECORDS - 1)


def test_without_a_record_count_the_minimum_is_not_checked() -> None:
    assert imports(records=None)["mode"] == "INCREMENTAL"


def test_configured_full_is_kept_whatever_the_state() -> None:
    assert imports(configured="FULL", import_jobs=[], size_bytes=INCREMENTAL_MAX_BYTES + 1) == {
        "mode": "FULL",
        "reason": "import_mode is FULL",
    }


def test_an_unknown_configured_mode_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"import_mode has value 'APPEND'; allowed: FULL, INCREMENTAL"):
        imports(configured="APPEND")


# Training ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "versions, expected",
    [
        ([], "FULL"),  # a new solution (first run, or replaced by a settings change)
        ([version("UPDATE"), version("UPDATE", name="v2")], "FULL"),  # only UPDATE versions
        ([version("FULL", status="CREATE FAILED")], "FULL"),  # a FULL one that failed
        ([version("FULL", status="CREATE IN_PROGRESS")], "FULL"),  # a FULL one not ACTIVE yet
        ([version("AUTOTRAIN")], "FULL"),  # automatic training: not FULL by the API's words
        ([version("UPDATE"), version("FULL", name="v0")], "UPDATE"),  # an ACTIVE FULL one, anywhere in the list
    ],
    ids=["no-version", "only-update", "failed-full", "full-in-progress", "autotrain", "active-full"],
)
def test_update_needs_an_active_version_trained_full(versions: list[dict[str, Any]], expected: str) -> None:
    decision = training(versions)
    assert decision["mode"] == expected
    if expected == "UPDATE":
        assert f"{SOLUTION_ARN}/v0" in decision["reason"]
    else:
        assert f"solution {SOLUTION_ARN} has no ACTIVE version trained FULL" in decision["reason"]


def test_configured_full_training_is_kept() -> None:
    assert training([], configured="FULL") == {"mode": "FULL", "reason": "training_mode is FULL"}
    with pytest.raises(ValueError, match=r"solutions.users.training_mode has value 'PARTIAL'"):
        training([], configured="PARTIAL")


def test_only_active_versions_without_a_mode_are_described() -> None:
    listed = [version(None, name="a"), version(None, status="CREATE FAILED", name="b"), version("FULL", name="c")]
    assert versions_to_describe(listed) == [f"{SOLUTION_ARN}/a"]
