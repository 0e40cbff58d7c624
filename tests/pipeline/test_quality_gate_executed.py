"""The model quality gate, executed: the real pipeline definitions of the default configuration (on_fail=fail,
missing metric rejected) and of `config/full.json` (on_fail=use_last_accepted, missing metric accepted), run in
the offline interpreter with the real handlers (gate, post-processing, accounting, acceptance) against moto
DynamoDB (the accepted-version table), S3, SNS and EventBridge, and a scripted Personalize whose
GetSolutionMetrics answers per scenario.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lambda_src.model_gate.store import AcceptedVersionStore
from stacks.app_factory import PipelineApp
from stacks.model_gate import EVENT_DETAIL_TYPE, EVENT_SOURCE, GATE_FAILED_ERROR, GATE_REJECTED_STATE
from tests.pipeline.test_executed_pipeline import (
    Run,
    Scenario,
    TemplateFunction,
    accepted_versions_table,
    error_for_all,
    executor,
    failure_of,
    functions_of,
    pipeline_of,
)
from tests.support.orchestration_stack import SynthesizedOrchestration
from tests.support.sfn_offline import OfflineStepFunctions
from tests.support.templates import logical_id_of

NDCG = "normalized_discounted_cumulative_gain_at_25"
PRECISION = "precision_at_25"  # config/full.json's gate metric
USERS = {"users.json": ["75", "78"]}


class Deployment:
    """One configuration's synthesized pipeline, ready to execute."""

    def __init__(self, app: PipelineApp, templates: dict[str, Any]) -> None:
        self.app = app
        self.pipeline: SynthesizedOrchestration = pipeline_of(app, templates)
        self.functions: dict[str, TemplateFunction] = functions_of(self.pipeline, app)
        self.alert_topic_arn = self.pipeline.cloud.arn(logical_id_of(app.pipeline_stack.alerts.topic))

    @property
    def solution_arn(self) -> str:
        return self.pipeline.expected("solution_arn")

    def version(self, version_id: str) -> str:
        return f"{self.solution_arn}/{version_id}"


@pytest.fixture(scope="module")
def default_deployment(default_app: PipelineApp, default_templates: dict[str, Any]) -> Deployment:
    return Deployment(default_app, default_templates)


@pytest.fixture(scope="module")
def full_deployment(synthesized_apps: Callable[[str], Any]) -> Deployment:
    full = synthesized_apps("full")
    return Deployment(full.app, full.templates)


@pytest.fixture
def run_default(default_deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Scenario], Run]]:
    with executor(
        default_deployment.pipeline, default_deployment.functions, default_deployment.alert_topic_arn, monkeypatch
    ) as execute:
        yield execute


@pytest.fixture
def run_full(full_deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Scenario], Run]]:
    with executor(full_deployment.pipeline, full_deployment.functions, full_deployment.alert_topic_arn, monkeypatch) as execute:
        yield execute


def scenario(
    deployment: Deployment,
    candidate_metrics: dict[str, float] | None,
    accepted: dict[str, float] | None = None,
    **options: Any,
) -> Scenario:
    """USERS as batch input; GetSolutionMetrics answers `candidate_metrics` (None: no metrics at all); with
    `accepted`, the table already holds version `accepted01` with those metrics, from a run a week earlier."""

    def script(aws: OfflineStepFunctions) -> None:
        aws.personalize.solution_metrics = lambda _arn: candidate_metrics
        if accepted is not None:
            store(deployment, aws).record_accepted(
                deployment.version("accepted01"), accepted, "weekly-2025-12-28", "2025-12-28T03:00:00Z"
            )

    return Scenario(batch_input=USERS, script=script, **options)


def store(deployment: Deployment, aws: OfflineStepFunctions) -> AcceptedVersionStore:
    return AcceptedVersionStore(aws.client("dynamodb"), accepted_versions_table(deployment.functions))


def head(deployment: Deployment, run: Run) -> Any:
    return store(deployment, run.aws).read_last_accepted(deployment.solution_arn)


def batch_version(run: Run) -> str:
    (call,) = run.aws.calls_to("personalize", "CreateBatchInferenceJob")
    return call.params["solutionVersionArn"]


def completion_events(run: Run) -> list[dict[str, Any]]:
    return [entry for call in run.aws.calls_to("events", "PutEvents") for entry in call.params["Entries"]]


# ----------------------------------------------------------------------------------------------------------------
# on_fail=fail (the default configuration)
# ----------------------------------------------------------------------------------------------------------------


def test_gate_passes_within_the_allowed_drop_and_the_version_becomes_accepted_after_the_output(
    run_default: Callable[[Scenario], Run], default_deployment: Deployment
) -> None:
    # 0.19 against 0.2: 5% below, within the default 10%.
    run = run_default(scenario(default_deployment, {NDCG: 0.19}, accepted={NDCG: 0.2}))
    assert run.result.status == "SUCCEEDED", failure_of(run)
    candidate = run.aws.personalize.job("train").arn
    assert batch_version(run) == candidate
    model = run.manifest()["model"]
    assert (model["decision"], model["used_fallback"], model["candidate_value"], model["last_accepted_value"]) == (
        "ACCEPTED",
        False,
        0.19,
        0.2,
    )
    assert "5.0% below the last accepted 0.2" in model["reason"]
    # Recorded only now, after _SUCCESS: the head moved to the candidate, the history keeps both.
    assert head(default_deployment, run).solution_version_arn == candidate
    history = store(default_deployment, run.aws).history(default_deployment.solution_arn)
    assert [v.solution_version_arn for v in history] == [candidate, default_deployment.version("accepted01")]
    (event,) = completion_events(run)
    assert (event["Source"], event["DetailType"]) == (EVENT_SOURCE, EVENT_DETAIL_TYPE)
    detail = json.loads(event["Detail"])
    assert detail["runId"] == run.run_id
    assert detail["manifestUri"] == f"s3://{run.curated}/{run.prefix}_manifest.json"
    assert detail["recommendationsPrefix"] == f"s3://{run.curated}/{run.prefix}recommendations/"
    assert detail["modelDecision"]["decision"] == "ACCEPTED"
    assert detail["modelDecision"]["usedFallback"] is False


def test_gate_fails_the_run_before_batch_inference_with_both_figures_and_the_rule(
    run_default: Callable[[Scenario], Run], default_deployment: Deployment
) -> None:
    run = run_default(scenario(default_deployment, {NDCG: 0.15}, accepted={NDCG: 0.2}))
    assert (run.result.status, run.result.error) == ("FAILED", GATE_FAILED_ERROR), failure_of(run)
    cause = run.result.cause
    candidate = run.aws.personalize.job("train").arn
    assert cause.startswith(f"Run {run.run_id}: the model quality gate rejected solution version {candidate}: ")
    for part in (f"{NDCG} = 0.15", "25.0% below the last accepted 0.2", "rule:", "at most 10% below", "on_fail=fail"):
        assert part in cause, part
    assert run.result.states_entered[-1] == GATE_REJECTED_STATE
    # Nothing after the gate: no batch job, no output, no notice, no event; the accepted version stays.
    assert not run.aws.calls_to("personalize", "CreateBatchInferenceJob")
    assert run.keys() == []
    assert not run.aws.calls_to("sns") and not run.aws.calls_to("events")
    assert head(default_deployment, run).solution_version_arn == default_deployment.version("accepted01")


def test_first_run_is_judged_by_the_floor_only(
    run_default: Callable[[Scenario], Run], default_deployment: Deployment
) -> None:
    run = run_default(scenario(default_deployment, {NDCG: 0.005}))
    assert (run.result.status, run.result.error) == ("FAILED", GATE_FAILED_ERROR), failure_of(run)
    assert "is below the floor 0.01" in run.result.cause
    assert head(default_deployment, run) is None


def test_missing_metrics_reject_the_candidate_by_default(
    run_default: Callable[[Scenario], Run], default_deployment: Deployment
) -> None:
    run = run_default(scenario(default_deployment, None, accepted={NDCG: 0.2}))
    assert (run.result.status, run.result.error) == ("FAILED", GATE_FAILED_ERROR), failure_of(run)
    assert f"metric {NDCG} missing (GetSolutionMetrics reported no metrics at all)" in run.result.cause
    assert not run.aws.calls_to("personalize", "CreateBatchInferenceJob")


def test_a_failed_output_accepts_nothing(run_default: Callable[[Scenario], Run], default_deployment: Deployment) -> None:
    # The gate accepts the candidate (first run), but every output line is an error: post-processing fails.
    run = run_default(scenario(default_deployment, {NDCG: 0.2}, recommend=error_for_all))
    assert (run.result.status, run.result.error) == ("FAILED", "PostProcessFailed"), failure_of(run)
    assert "Post-process: accept the model version" not in run.result.states_entered
    assert head(default_deployment, run) is None
    assert not run.aws.calls_to("events")


# ----------------------------------------------------------------------------------------------------------------
# on_fail=use_last_accepted, on_missing_metric=accept (config/full.json)
# ----------------------------------------------------------------------------------------------------------------


def test_fallback_runs_batch_inference_with_the_last_accepted_version_and_says_so(
    run_full: Callable[[Scenario], Run], full_deployment: Deployment
) -> None:
    accepted = full_deployment.version("accepted01")
    # 0.01 is below full.json's floor of 0.02.
    run = run_full(scenario(full_deployment, {PRECISION: 0.01}, accepted={PRECISION: 0.05}))
    assert run.result.status == "SUCCEEDED", failure_of(run)
    candidate = run.aws.personalize.job("train").arn
    assert batch_version(run) == accepted
    manifest = run.manifest()
    model = manifest["model"]
    assert (model["decision"], model["action"], model["used_fallback"]) == ("REJECTED", "use_last_accepted", True)
    assert (model["candidate_version_arn"], model["batch_solution_version_arn"]) == (candidate, accepted)
    assert "is below the floor 0.02" in model["reason"]
    # Said everywhere: the notice, the event, the execution's output (what the CLI shows).
    (notice,) = run.notices()
    assert notice["Subject"] == "Personalize pipeline run succeeded with the last accepted model (candidate rejected)"
    assert f"Model: candidate {candidate} REJECTED; FALLBACK: these recommendations come from the last accepted " \
        f"version {accepted}." in notice["Message"]
    (event,) = completion_events(run)
    decision = json.loads(event["Detail"])["modelDecision"]
    assert (decision["decision"], decision["usedFallback"], decision["solutionVersionArn"]) == ("REJECTED", True, accepted)
    output = run.result.output
    assert (output["modelDecision"], output["usedFallback"], output["batchSolutionVersionArn"]) == (
        "REJECTED",
        True,
        accepted,
    )
    # A rejected candidate never becomes accepted, even though the run's output succeeded.
    assert output["acceptance"]["recorded"] is False
    assert head(full_deployment, run).solution_version_arn == accepted


def test_fallback_mode_fails_a_first_run_that_misses_the_floor(
    run_full: Callable[[Scenario], Run], full_deployment: Deployment
) -> None:
    run = run_full(scenario(full_deployment, {PRECISION: 0.01}))
    assert (run.result.status, run.result.error) == ("FAILED", GATE_FAILED_ERROR), failure_of(run)
    assert "no version has been accepted yet, so the run fails" in run.result.cause
    assert not run.aws.calls_to("personalize", "CreateBatchInferenceJob")


def test_missing_metrics_are_accepted_on_trust_when_configured(
    run_full: Callable[[Scenario], Run], full_deployment: Deployment
) -> None:
    run = run_full(scenario(full_deployment, {"coverage": 0.3}, accepted={PRECISION: 0.05}))
    assert run.result.status == "SUCCEEDED", failure_of(run)
    candidate = run.aws.personalize.job("train").arn
    assert batch_version(run) == candidate
    model = run.manifest()["model"]
    assert (model["decision"], model["metric_missing"]) == ("ACCEPTED", True)
    assert "accepted without a check because on_missing_metric=accept" in model["reason"]
    assert head(full_deployment, run).solution_version_arn == candidate
