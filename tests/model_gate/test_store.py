"""The accepted-version store on moto DynamoDB: head, history, and the race of overlapping runs."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_src.model_gate.store import AcceptedVersionStore, normalize_timestamp, solution_arn_of

from .conftest import SOLUTION, TABLE, version_arn

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def record(store: Any, version: str, run_id: str, started: str, value: float = 0.2, **kwargs: Any) -> Any:
    return store.record_accepted(
        version_arn(version), {"normalized_discounted_cumulative_gain_at_25": value}, run_id, started, now=NOW, **kwargs
    )


def items(dynamodb: Any) -> list[dict]:
    return sorted(dynamodb.scan(TableName=TABLE)["Items"], key=lambda item: item["sk"]["S"])


def test_nothing_accepted_yet(store: Any) -> None:
    assert store.read_last_accepted(SOLUTION) is None
    assert store.history(SOLUTION) == []


def test_recorded_version_is_read_back_with_its_metrics_and_run(store: Any) -> None:
    result = record(store, "v1", "run-1", "2026-01-04T03:00:00.123Z", 0.2105, manifest_uri="s3://c/runs/run-1/_manifest.json")
    assert result.recorded and result.current.solution_version_arn == version_arn("v1")
    last = store.read_last_accepted(SOLUTION)
    assert last == result.current
    assert last.metrics == {"normalized_discounted_cumulative_gain_at_25": 0.2105}
    assert (last.run_id, last.run_started_at, last.accepted_at) == ("run-1", "2026-01-04T03:00:00.123000Z", "2026-03-01T12:00:00.000000Z")
    assert last.manifest_uri == "s3://c/runs/run-1/_manifest.json"
    assert result.as_dict() == {
        "recorded": True,
        "reason": f"{version_arn('v1')} (run run-1) is now the last accepted version",
        "acceptedVersionArn": version_arn("v1"),
        "acceptedRunId": "run-1",
    }


def test_history_keeps_one_item_per_acceptance_newest_run_first(store: Any, dynamodb: Any) -> None:
    record(store, "v1", "run-1", "2026-01-04T03:00:00Z", 0.20)
    record(store, "v2", "run-2", "2026-01-11T03:00:00Z", 0.21)
    record(store, "v3", "run-3", "2026-01-18T03:00:00Z", 0.22)
    assert [v.run_id for v in store.history(SOLUTION)] == ["run-3", "run-2", "run-1"]
    assert [v.metrics["normalized_discounted_cumulative_gain_at_25"] for v in store.history(SOLUTION, limit=2)] == [0.22, 0.21]
    assert store.read_last_accepted(SOLUTION).solution_version_arn == version_arn("v3")
    assert [item["sk"]["S"] for item in items(dynamodb)] == [
        "ACCEPTED#2026-01-04T03:00:00.000000Z#run-1",
        "ACCEPTED#2026-01-11T03:00:00.000000Z#run-2",
        "ACCEPTED#2026-01-18T03:00:00.000000Z#run-3",
        "LATEST",
    ]


def test_older_run_finishing_last_does_not_replace_a_newer_acceptance(store: Any, dynamodb: Any) -> None:
    # Run A starts first, run B a week later; B's output succeeds first, then A (slow, or redriven) finishes.
    newer = record(store, "v-b", "run-b", "2026-01-11T03:00:00Z", 0.21)
    older = record(store, "v-a", "run-a", "2026-01-04T03:00:00Z", 0.30)
    assert newer.recorded and not older.recorded
    assert older.current.solution_version_arn == version_arn("v-b")
    assert "already accepted and is newer than run run-a (started 2026-01-04T03:00:00.000000Z)" in older.reason
    assert f"{version_arn('v-a')} stays out of the accepted history" in older.reason
    assert store.read_last_accepted(SOLUTION).run_id == "run-b"
    assert [v.run_id for v in store.history(SOLUTION)] == ["run-b"]
    assert len(items(dynamodb)) == 2


def test_runs_finishing_in_start_order_both_enter_the_history(store: Any) -> None:
    assert record(store, "v-a", "run-a", "2026-01-04T03:00:00Z").recorded
    assert record(store, "v-b", "run-b", "2026-01-11T03:00:00Z").recorded
    assert store.read_last_accepted(SOLUTION).run_id == "run-b"


def test_a_retried_acceptance_of_the_same_run_succeeds_and_adds_nothing(store: Any, dynamodb: Any) -> None:
    assert record(store, "v1", "run-1", "2026-01-04T03:00:00Z").recorded
    assert record(store, "v1", "run-1", "2026-01-04T03:00:00+00:00").recorded
    assert len(items(dynamodb)) == 2


def test_same_run_cannot_swap_its_version(store: Any) -> None:
    record(store, "v1", "run-1", "2026-01-04T03:00:00Z")
    assert not record(store, "v-other", "run-1", "2026-01-04T03:00:00Z").recorded
    assert store.read_last_accepted(SOLUTION).solution_version_arn == version_arn("v1")


def test_equal_start_times_are_ordered_by_run_id(store: Any) -> None:
    assert record(store, "v-y", "run-y", "2026-01-04T03:00:00Z").recorded
    assert not record(store, "v-x", "run-x", "2026-01-04T03:00:00Z").recorded
    assert record(store, "v-z", "run-z", "2026-01-04T03:00:00Z").recorded


def test_start_times_compare_as_instants_whatever_their_offset(store: Any) -> None:
    record(store, "v1", "run-1", "2026-01-04T05:00:00+02:00")  # 03:00 UTC
    assert record(store, "v2", "run-2", "2026-01-04T03:00:01Z").recorded


def test_solutions_are_kept_apart(store: Any) -> None:
    other = "arn:aws:personalize:us-east-1:123456789012:solution/other"
    record(store, "v1", "run-1", "2026-01-04T03:00:00Z")
    store.record_accepted(f"{other}/v9", {}, "run-0", "2025-01-01T00:00:00Z", now=NOW)
    assert store.read_last_accepted(other).solution_version_arn == f"{other}/v9"
    assert store.read_last_accepted(SOLUTION).solution_version_arn == version_arn("v1")


def test_other_dynamodb_errors_are_not_swallowed(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as info:
        AcceptedVersionStore(dynamodb, "no-such-table").record_accepted(version_arn("v1"), {}, "r", "2026-01-01T00:00:00Z")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("arn", "solution"),
    [
        (f"{SOLUTION}/abc123", SOLUTION),
        ("arn:aws-cn:personalize:cn-north-1:1:solution/s/v", "arn:aws-cn:personalize:cn-north-1:1:solution/s"),
    ],
)
def test_solution_arn_of_a_version(arn: str, solution: str) -> None:
    assert solution_arn_of(arn) == solution


@pytest.mark.parametrize("arn", [SOLUTION, "arn:aws:s3:::bucket/a/b", f"{SOLUTION}/v/extra", "solution/s/v"])
def test_solution_arn_of_refuses_what_is_not_a_solution_version(arn: str) -> None:
    with pytest.raises(ValueError, match="is not a Personalize solution version ARN"):
        solution_arn_of(arn)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-04T03:00:00Z", "2026-01-04T03:00:00.000000Z"),
        ("2026-01-04T03:00:00.5Z", "2026-01-04T03:00:00.500000Z"),
        ("2026-01-04T04:30:00+01:30", "2026-01-04T03:00:00.000000Z"),
        (datetime(2026, 1, 4, 3, tzinfo=timezone.utc), "2026-01-04T03:00:00.000000Z"),
    ],
)
def test_normalize_timestamp(value: Any, expected: str) -> None:
    assert normalize_timestamp(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2026-01-04T03:00:00"])
def test_normalize_timestamp_refuses_ambiguous_input(value: str) -> None:
    with pytest.raises(ValueError):
        normalize_timestamp(value)


def test_record_refuses_an_empty_run_id(store: Any) -> None:
    with pytest.raises(ValueError, match="run_id"):
        record(store, "v1", "", "2026-01-04T03:00:00Z")
