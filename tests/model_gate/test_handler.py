"""The real handlers: Personalize and Glue through botocore Stubber, the store on moto DynamoDB."""

from __future__ import annotations

from typing import Any, Iterator

import boto3
import pytest
from botocore.stub import Stubber

from lambda_src.model_gate import handler as H
from lambda_src.model_gate.costs import InvalidPriceTable
from lambda_src.model_gate.gate import (
    DEFAULT_METRIC,
    InvalidEvent,
    InvalidGateRule,
    ModelQualityGateFailed,
    SolutionVersionNotActive,
)

from .conftest import REGION, SOLUTION, TABLE, version_arn

FALLBACK = {"onFail": "use_last_accepted"}
SUCCEEDED = {"status": "SUCCEEDED", "manifest": "s3://curated/runs/r/_manifest.json"}


@pytest.fixture
def aws(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Stubber]]:
    """Stubbed Personalize and Glue clients and the moto DynamoDB client, in the handler's cache."""
    monkeypatch.setenv(H.TABLE_ENV, TABLE)
    stubs = {}
    H.client.clear()
    H.client.use("dynamodb", dynamodb)
    for service in ("personalize", "glue"):
        client = boto3.client(service, region_name=REGION)
        stubs[service] = Stubber(client)
        stubs[service].activate()
        H.client.use(service, client)
    yield stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()
    H.client.clear()


def script_personalize(stub: Stubber, arn: str, metrics: dict | None, status: str = "ACTIVE", hours: float = 1.25) -> None:
    version = {"solutionVersionArn": arn, "status": status}
    if status == "ACTIVE":
        version["trainingHours"] = hours
    stub.add_response("describe_solution_version", {"solutionVersion": version}, {"solutionVersionArn": arn})
    if status == "ACTIVE":
        response = {"solutionVersionArn": arn, **({"metrics": metrics} if metrics is not None else {})}
        stub.add_response("get_solution_metrics", response, {"solutionVersionArn": arn})


def evaluate(aws: dict, ctx: Any, version: str, ndcg: float | None, rule: dict | None = None, **extra: Any) -> dict:
    arn = version_arn(version)
    script_personalize(aws["personalize"], arn, {DEFAULT_METRIC: ndcg, "coverage": 0.4} if ndcg is not None else None, **extra)
    return H.evaluate({"solutionVersionArn": arn, **({"rule": rule} if rule else {})}, ctx)


def accept(ctx: Any, gate: dict, run_id: str, started: str, output: dict = SUCCEEDED) -> dict:
    return H.accept({"gate": gate, "runId": run_id, "runStartedAt": started, "output": output}, ctx)


def accepted_now(dynamodb: Any) -> str | None:
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": SOLUTION}, "sk": {"S": "LATEST"}}).get("Item")
    return item["solutionVersionArn"]["S"] if item else None


def first_accepted(aws: dict, ctx: Any, ndcg: float = 0.3) -> dict:
    gate = evaluate(aws, ctx, "v1", ndcg)
    accept(ctx, gate, "run-1", "2026-01-04T03:00:00Z")
    return gate


# ----------------------------------------------------------------------------------------------
# evaluate


def test_first_run_is_judged_on_the_floor_only_and_nothing_is_recorded_yet(aws: dict, lambda_context: Any, dynamodb: Any) -> None:
    out = evaluate(aws, lambda_context, "v1", 0.02, {"minValue": 0.01, "maxRelativeDrop": 0})
    assert (out["decision"], out["action"], out["firstRun"]) == ("ACCEPTED", "use_candidate", True)
    assert out["solutionVersionArn"] == version_arn("v1")
    assert out["trainingHours"] == 1.25 and out["solutionArn"] == SOLUTION
    assert out["candidateMetrics"] == {DEFAULT_METRIC: 0.02, "coverage": 0.4}
    assert accepted_now(dynamodb) is None


def test_gate_passes_against_the_last_accepted_version(aws: dict, lambda_context: Any) -> None:
    first_accepted(aws, lambda_context, 0.3)
    out = evaluate(aws, lambda_context, "v2", 0.28)
    assert (out["decision"], out["solutionVersionArn"]) == ("ACCEPTED", version_arn("v2"))
    assert (out["candidateValue"], out["lastAcceptedValue"], out["lastAcceptedRunId"]) == (0.28, 0.3, "run-1")


def test_gate_failure_in_fail_mode_raises_a_named_error_with_both_figures_and_the_rule(aws: dict, lambda_context: Any) -> None:
    first_accepted(aws, lambda_context, 0.3)
    with pytest.raises(ModelQualityGateFailed) as info:
        evaluate(aws, lambda_context, "v2", 0.2, {"maxRelativeDrop": 0.1})
    assert type(info.value).__name__ == "ModelQualityGateFailed"  # the state machine's error name
    cause = str(info.value)
    assert f"{DEFAULT_METRIC} = 0.2 is 33.3% below the last accepted 0.3 of {version_arn('v1')} (run run-1)" in cause
    assert f"rule: {DEFAULT_METRIC} >= 0.01 and at most 10% below the last accepted version; on_fail=fail" in cause


def test_gate_failure_in_fallback_mode_returns_the_accepted_version_for_the_batch_job(aws: dict, lambda_context: Any) -> None:
    first_accepted(aws, lambda_context, 0.3)
    out = evaluate(aws, lambda_context, "v2", 0.2, FALLBACK)
    assert (out["decision"], out["action"], out["usedFallback"]) == ("REJECTED", "use_last_accepted", True)
    assert out["solutionVersionArn"] == version_arn("v1")
    assert out["candidateVersionArn"] == version_arn("v2")
    assert f"batch inference uses the last accepted version {version_arn('v1')} (run run-1) instead" in out["reason"]


def test_fallback_mode_without_an_accepted_version_fails(aws: dict, lambda_context: Any) -> None:
    with pytest.raises(ModelQualityGateFailed, match="no version has been accepted yet, so the run fails"):
        evaluate(aws, lambda_context, "v1", 0.001, FALLBACK)


def test_missing_metrics_fail_the_run_by_default(aws: dict, lambda_context: Any) -> None:
    first_accepted(aws, lambda_context)
    with pytest.raises(ModelQualityGateFailed, match=f"metric {DEFAULT_METRIC} missing \\(GetSolutionMetrics reported no metrics at all\\)"):
        evaluate(aws, lambda_context, "v2", None)


def test_missing_metrics_in_fallback_mode_keep_the_accepted_version(aws: dict, lambda_context: Any) -> None:
    first_accepted(aws, lambda_context)
    out = evaluate(aws, lambda_context, "v2", None, FALLBACK)
    assert out["metricMissing"] and out["solutionVersionArn"] == version_arn("v1")


def test_a_version_that_is_not_active_is_refused(aws: dict, lambda_context: Any) -> None:
    with pytest.raises(SolutionVersionNotActive, match="'CREATE IN_PROGRESS', not ACTIVE"):
        evaluate(aws, lambda_context, "v1", 0.3, status="CREATE IN_PROGRESS")


def test_an_invalid_rule_fails_before_any_call(aws: dict, lambda_context: Any) -> None:
    with pytest.raises(InvalidGateRule, match="max_relative_drop 5 is not a number from 0 to 1"):
        H.evaluate({"solutionVersionArn": version_arn("v1"), "rule": {"maxRelativeDrop": 5}}, lambda_context)


@pytest.mark.parametrize("event", [{}, {"solutionVersionArn": ""}, {"solutionVersionArn": SOLUTION}])
def test_evaluate_refuses_a_malformed_event(aws: dict, lambda_context: Any, event: dict) -> None:
    with pytest.raises(InvalidEvent):
        H.evaluate(event, lambda_context)


def test_the_table_must_be_configured(aws: dict, lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(H.TABLE_ENV)
    aws["personalize"].add_response("describe_solution_version", {"solutionVersion": {"status": "ACTIVE"}})
    aws["personalize"].add_response("get_solution_metrics", {"metrics": {}})
    with pytest.raises(InvalidEvent, match=H.TABLE_ENV):
        H.evaluate({"solutionVersionArn": version_arn("v1")}, lambda_context)


# ----------------------------------------------------------------------------------------------
# accept


def test_acceptance_is_recorded_only_through_accept_after_a_succeeded_output(aws: dict, lambda_context: Any, dynamodb: Any) -> None:
    gate = evaluate(aws, lambda_context, "v1", 0.3)
    assert accepted_now(dynamodb) is None
    out = accept(lambda_context, gate, "run-1", "2026-01-04T03:00:00Z")
    assert out == {
        "recorded": True,
        "reason": f"{version_arn('v1')} (run run-1) is now the last accepted version",
        "acceptedVersionArn": version_arn("v1"),
        "acceptedRunId": "run-1",
    }
    assert accepted_now(dynamodb) == version_arn("v1")
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": SOLUTION}, "sk": {"S": "LATEST"}})["Item"]
    assert item["manifestUri"]["S"] == SUCCEEDED["manifest"]
    assert item["metrics"]["M"][DEFAULT_METRIC]["N"] == "0.3"


@pytest.mark.parametrize("output", [{"status": "FAILED"}, {}, {"status": "RUNNING", "manifest": "s3://c/m"}])
def test_a_failed_output_accepts_nothing_without_an_error(aws: dict, lambda_context: Any, dynamodb: Any, output: dict) -> None:
    gate = evaluate(aws, lambda_context, "v1", 0.3)
    out = accept(lambda_context, gate, "run-1", "2026-01-04T03:00:00Z", output)
    assert out["recorded"] is False
    assert f"run run-1: the output's status is {output.get('status')!r}, not 'SUCCEEDED'; nothing is accepted" == out["reason"]
    assert accepted_now(dynamodb) is None


@pytest.mark.parametrize("output", [SUCCEEDED, {"status": "FAILED"}])
@pytest.mark.parametrize("without_gate", [{"gate": None}, {}])
def test_a_solution_without_a_gate_decision_accepts_nothing(
    aws: dict, lambda_context: Any, dynamodb: Any, output: dict, without_gate: dict
) -> None:
    event = {"runId": "run-1", "runStartedAt": "2026-01-04T03:00:00Z", "output": output, **without_gate}
    out = H.accept(event, lambda_context)
    assert out["recorded"] is False and out["acceptedVersionArn"] is None
    assert ("no quality gate decision" in out["reason"]) is (output is SUCCEEDED)
    assert accepted_now(dynamodb) is None


def test_a_fallback_run_does_not_accept_its_rejected_candidate(aws: dict, lambda_context: Any, dynamodb: Any) -> None:
    first_accepted(aws, lambda_context, 0.3)
    gate = evaluate(aws, lambda_context, "v2", 0.1, FALLBACK)
    out = accept(lambda_context, gate, "run-2", "2026-01-11T03:00:00Z")
    assert out["recorded"] is False and out["acceptedVersionArn"] == version_arn("v1")
    assert f"the last accepted version stays {version_arn('v1')}" in out["reason"]
    assert accepted_now(dynamodb) == version_arn("v1")


def test_a_run_that_reused_the_accepted_version_records_nothing(aws: dict, lambda_context: Any, dynamodb: Any) -> None:
    """A cadence's REUSE (the state machine's gate record, no training): the acceptance, and so the time the next
    cadence decision measures from, stays the training run's."""
    first_accepted(aws, lambda_context, 0.3)
    reused = {"decision": "REUSED", "action": "reuse_last_accepted", "solutionVersionArn": version_arn("v1"),
              "lastAcceptedVersionArn": version_arn("v1"), "trainingHours": 0}  # fmt: skip
    out = accept(lambda_context, reused, "run-2", "2026-01-11T03:00:00Z")
    assert out["recorded"] is False and out["acceptedVersionArn"] == version_arn("v1")
    assert out["reason"] == f"run run-2 reused the last accepted version {version_arn('v1')} (cadence): nothing new to accept"
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": SOLUTION}, "sk": {"S": "LATEST"}})["Item"]
    assert item["runId"]["S"] == "run-1"


def test_an_older_run_accepting_late_loses_to_the_newer_one(aws: dict, lambda_context: Any, dynamodb: Any) -> None:
    gate_a = evaluate(aws, lambda_context, "va", 0.3)
    gate_b = evaluate(aws, lambda_context, "vb", 0.31)
    assert accept(lambda_context, gate_b, "run-b", "2026-01-11T03:00:00Z")["recorded"]
    late = accept(lambda_context, gate_a, "run-a", "2026-01-04T03:00:00Z")
    assert late["recorded"] is False and late["acceptedRunId"] == "run-b"
    assert accepted_now(dynamodb) == version_arn("vb")


def test_weekly_sequence_accept_fallback_then_recover(aws: dict, lambda_context: Any, dynamodb: Any) -> None:
    first_accepted(aws, lambda_context, 0.3)
    bad = evaluate(aws, lambda_context, "v2", 0.15, FALLBACK)
    accept(lambda_context, bad, "run-2", "2026-01-11T03:00:00Z")
    good = evaluate(aws, lambda_context, "v3", 0.29, FALLBACK)
    assert good["lastAcceptedVersionArn"] == version_arn("v1") and good["decision"] == "ACCEPTED"
    accept(lambda_context, good, "run-3", "2026-01-18T03:00:00Z")
    assert accepted_now(dynamodb) == version_arn("v3")


@pytest.mark.parametrize(
    "event",
    [
        {"gate": "ACCEPTED", "output": SUCCEEDED, "runId": "r", "runStartedAt": "2026-01-01T00:00:00Z"},
        {"gate": None, "runId": "r", "runStartedAt": "2026-01-01T00:00:00Z"},
        {"gate": {"action": "use_candidate"}, "output": SUCCEEDED, "runId": "r", "runStartedAt": "2026-01-01T00:00:00Z"},
        {"gate": {"action": "use_candidate", "candidateVersionArn": version_arn("v")}, "output": SUCCEEDED, "runId": "r", "runStartedAt": "soon"},
        {"gate": {"action": "use_candidate", "candidateVersionArn": "arn:x"}, "output": SUCCEEDED, "runId": "r", "runStartedAt": "2026-01-01T00:00:00Z"},
        {"gate": {"action": "use_candidate"}, "output": SUCCEEDED, "runStartedAt": "2026-01-01T00:00:00Z"},
    ],
)
def test_accept_refuses_a_malformed_event(aws: dict, lambda_context: Any, dynamodb: Any, event: dict) -> None:
    with pytest.raises(InvalidEvent):
        H.accept(event, lambda_context)
    assert accepted_now(dynamodb) is None


# ----------------------------------------------------------------------------------------------
# account


def test_account_from_the_glue_sync_output(aws: dict, lambda_context: Any) -> None:
    sync_output = {"Id": "jr_1", "JobName": "etl", "DPUSeconds": 1800.0, "ExecutionTime": 600, "MaxCapacity": 10.0}
    out = H.account({"glueJobRun": sync_output, "trainingHours": 1.25, "batchRecommendations": 2100}, lambda_context)
    assert out["glue"] == {"dpuSeconds": 1800.0, "source": "DPUSeconds", "executionClass": "STANDARD"}
    assert out["trainingHours"] == 1.25
    glue_line = next(line for line in out["cost"]["lines"] if line["item"] == "glue_standard")
    assert glue_line["cost"] == 0.22  # 1800 DPU-s = 0.5 DPU-hour at the default 0.44
    assert out["cost"]["complete"] is False
    assert out["cost"]["unpriced"] == ["personalize_training", "personalize_batch_recommendations"]
    assert "glue_standard: 1,800 DPU-seconds x 0.44 USD per DPU-hour = 0.2200 USD" in out["costSummary"]


def test_account_reads_the_job_run_when_given_only_its_id(aws: dict, lambda_context: Any) -> None:
    aws["glue"].add_response(
        "get_job_run",
        {"JobRun": {"Id": "jr_2", "JobName": "etl", "ExecutionTime": 300, "NumberOfWorkers": 2, "WorkerType": "G.2X", "ExecutionClass": "FLEX"}},
        {"JobName": "etl", "RunId": "jr_2"},
    )
    prices = {"glue_flex_per_dpu_hour": 0.3, "personalize_training_per_hour": 0.5}
    out = H.account({"glueJobRun": {"JobName": "etl", "Id": "jr_2"}, "trainingHours": 2, "prices": prices}, lambda_context)
    assert out["glue"]["dpuSeconds"] == 300 * 2 * 2 and out["glue"]["executionClass"] == "FLEX"
    assert out["cost"]["complete"] is True
    assert out["cost"]["total"] == pytest.approx(1200 / 3600 * 0.3 + 2 * 0.5)


def test_account_adds_up_the_per_file_counts_of_the_map(aws: dict, lambda_context: Any) -> None:
    # The state machine passes $.processedFiles[*].users_with_recommendations: one count per output file.
    prices = {"personalize_batch_per_1000_recommendations": 2.0}
    event = {"glueJobRun": {"DPUSeconds": 10}, "batchRecommendations": [1500, 600], "prices": prices}
    out = H.account(event, lambda_context)
    batch = next(line for line in out["cost"]["lines"] if line["item"] == "personalize_batch_recommendations")
    assert (batch["quantity"], batch["cost"]) == (2100.0, 4.2)


@pytest.mark.parametrize(
    ("hours", "expected"),
    [([0.5, None, 1.25], 1.75), ([None, None], None), ([], None), ([2], 2), (None, None), (0.75, 0.75)],
)
def test_account_adds_up_the_training_hours_of_every_solution(aws: dict, lambda_context: Any, hours: Any, expected: Any) -> None:
    prices = {"personalize_training_per_hour": 2.0}
    out = H.account({"glueJobRun": {"DPUSeconds": 10}, "trainingHours": hours, "prices": prices}, lambda_context)
    assert out["trainingHours"] == expected
    training = [line["cost"] for line in out["cost"]["lines"] if line["item"] == "personalize_training"]
    assert training == ([] if expected is None else [expected * 2.0])  # no usage, no line (not a 0 h line)


def test_account_adds_up_the_solution_records_of_the_state_machine(aws: dict, lambda_context: Any) -> None:
    """$.solutions as the state machine passes it: a failed solution has no gate and no processed files."""
    records = [
        {"name": "users", "status": "SUCCEEDED", "gate": {"trainingHours": 0.5},
         "processedFiles": [{"users_with_recommendations": 1500}, {"users_with_recommendations": 600}]},
        {"name": "similar", "status": "FAILED", "error": {"Error": "TrainingFailed", "Cause": "x"}},
        {"name": "segments", "status": "SUCCEEDED", "gate": {"trainingHours": 1.25},
         "processedFiles": [{"users_with_recommendations": 400}]},
    ]
    prices = {"personalize_training_per_hour": 2.0, "personalize_batch_per_1000_recommendations": 2.0}
    out = H.account({"glueJobRun": {"DPUSeconds": 10}, "solutions": records, "prices": prices}, lambda_context)
    lines = {line["item"]: line for line in out["cost"]["lines"]}
    assert out["trainingHours"] == 1.75 and lines["personalize_training"]["cost"] == 3.5
    assert lines["personalize_batch_recommendations"]["quantity"] == 2500.0
    every_failed = [{"name": "users", "status": "FAILED", "error": {}}]
    out = H.account({"glueJobRun": {"DPUSeconds": 10}, "solutions": every_failed}, lambda_context)
    assert out["trainingHours"] is None


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"glueJobRun": {"DPUSeconds": 10}, "trainingHours": [1, -2]},
        {"glueJobRun": {"DPUSeconds": 10}, "solutions": {"users": {}}},
        {"glueJobRun": {"DPUSeconds": 10}, "solutions": [{"name": "u", "processedFiles": [7]}]},
        {"glueJobRun": {"DPUSeconds": 10}, "trainingHours": [1, "x"]},
        {"glueJobRun": {"JobName": "etl"}},
        {"glueJobRun": {"DPUSeconds": 10}, "batchRecommendations": [1, -2]},
        {"glueJobRun": {"DPUSeconds": 10}, "batchRecommendations": [1, "x"]},
        {"glueJobRun": {"ExecutionTime": 10}},
        {"glueJobRun": {"DPUSeconds": 10}, "trainingHours": -1},
        {"glueJobRun": {"DPUSeconds": 10}, "batchRecommendations": "many"},
    ],
)
def test_account_refuses_a_malformed_event(aws: dict, lambda_context: Any, event: dict) -> None:
    with pytest.raises(InvalidEvent):
        H.account(event, lambda_context)


def test_account_refuses_a_bad_price_table_by_name(aws: dict, lambda_context: Any) -> None:
    with pytest.raises(InvalidPriceTable, match="glue_standard_per_dpu_hour -1 is not a non-negative number or null"):
        H.account({"glueJobRun": {"DPUSeconds": 10}, "prices": {"glue_standard_per_dpu_hour": -1}}, lambda_context)
