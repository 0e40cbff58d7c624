"""The model quality gate, executed: the real pipeline definitions of the default configuration (one solution,
`solution`; on_fail=fail, missing metric rejected) and of `config/full.json` (four solutions: users, similar,
segments, genre_fans; on_fail=use_last_accepted, missing metric accepted), run in the offline interpreter with the
real handlers (gate, batch planning, post-processing, accounting, acceptance) against moto DynamoDB (the
accepted-version table), S3, SNS and EventBridge, and a scripted Personalize whose GetSolutionMetrics answers per
scenario.

Each solution has its own gate in its branch of "Solutions": a rejected model (on_fail=fail) ends that solution
only, before its batch jobs, with a FAILED record; the run then writes the manifest, accepts nothing for it, and
fails SolutionsFailed naming it and the gate's reason. In `full.json`, the scenarios script the gate of `users`
(the solution under test); the other solutions get the fake's default metrics, which pass on a first run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lambda_src.model_gate.store import AcceptedVersionStore
from stacks.app_factory import PipelineApp
from stacks.model_gate import EVENT_DETAIL_TYPE, EVENT_SOURCE, GATE_FAILED_ERROR, gate_rejected_state
from tests.pipeline.test_executed_pipeline import (
    SOLUTION,
    Run,
    Scenario,
    accepted_versions_table,
    error_for_all,
    executor,
    failure_of,
    REGION,
    functions_of,
)
from pipeline_rehearsal.deployment import SynthesizedOrchestration, app_orchestration
from pipeline_rehearsal import FakePersonalize, OfflineStepFunctions
from pipeline_rehearsal.functions import TemplateFunction
from tests.support.templates import logical_id_of

NDCG = "normalized_discounted_cumulative_gain_at_25"
PRECISION = "precision_at_25"  # config/full.json's gate metric
USERS = {"users.json": ["75", "78"]}
FULL_SOLUTIONS = ["users", "similar", "segments", "genre_fans"]
GATED = {"default": SOLUTION, "full": "users"}  # the solution whose gate a scenario scripts


class Deployment:
    """One configuration's synthesized pipeline, ready to execute; `solution`: the one whose gate is scripted."""

    def __init__(self, app: PipelineApp, templates: dict[str, Any], solution: str) -> None:
        self.app = app
        self.solution = solution
        self.pipeline: SynthesizedOrchestration = app_orchestration(app, templates, region=REGION)
        self.functions: dict[str, TemplateFunction] = functions_of(self.pipeline)
        self.notices_topic_arn = self.pipeline.cloud.arn(logical_id_of(app.pipeline_stack.notices.topic))

    @property
    def solution_arn(self) -> str:
        """The Personalize solution of `solution`, as its SSM parameter holds it."""
        return self.pipeline.solution_arn_of(self.solution)

    def version(self, version_id: str) -> str:
        return f"{self.solution_arn}/{version_id}"


@pytest.fixture(scope="module")
def default_deployment(default_app: PipelineApp, default_templates: dict[str, Any]) -> Deployment:
    return Deployment(default_app, default_templates, GATED["default"])


@pytest.fixture(scope="module")
def full_deployment(synthesized_apps: Callable[[str], Any]) -> Deployment:
    full = synthesized_apps("full")
    deployment = Deployment(full.app, full.templates, GATED["full"])
    assert [spec.name for spec in deployment.pipeline.config.solutions] == FULL_SOLUTIONS
    return deployment


@pytest.fixture
def run_default(default_deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Scenario], Run]]:
    with executor(default_deployment.pipeline, default_deployment.notices_topic_arn, monkeypatch) as execute:
        yield execute


@pytest.fixture
def run_full(full_deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Scenario], Run]]:
    with executor(full_deployment.pipeline, full_deployment.notices_topic_arn, monkeypatch) as execute:
        yield execute


def scenario(
    deployment: Deployment,
    candidate_metrics: dict[str, float] | None,
    accepted: dict[str, float] | None = None,
    **options: Any,
) -> Scenario:
    """USERS as batch input; GetSolutionMetrics answers `candidate_metrics` (None: no metrics at all) for the
    deployment's gated solution (the fake's defaults for any other); with `accepted`, the table already holds
    version `accepted01` of that solution with those metrics, from a run a week earlier."""
    gated = deployment.solution_arn + "/"

    def metrics(version_arn: str) -> dict[str, float] | None:
        return candidate_metrics if version_arn.startswith(gated) else dict(FakePersonalize.DEFAULT_METRICS)

    def script(aws: OfflineStepFunctions) -> None:
        aws.personalize.solution_metrics = metrics
        if accepted is not None:
            store(deployment, aws).record_accepted(
                deployment.version("accepted01"), accepted, "weekly-2025-12-28", "2025-12-28T03:00:00Z"
            )

    return Scenario(batch_input=USERS, script=script, **options)


def store(deployment: Deployment, aws: OfflineStepFunctions) -> AcceptedVersionStore:
    return AcceptedVersionStore(aws.client("dynamodb"), accepted_versions_table(deployment.pipeline))


def head(deployment: Deployment, run: Run) -> Any:
    return store(deployment, run.aws).read_last_accepted(deployment.solution_arn)


def candidate_of(deployment: Deployment, run: Run) -> str:
    """The solution version the run trained for the gated solution."""
    versions = deployment.solution_arn + "/"
    (job,) = [j for j in run.aws.personalize.jobs if j.kind == "train" and j.arn.startswith(versions)]
    return job.arn


def batch_versions(deployment: Deployment, run: Run) -> set[str]:
    """The solution versions the gated solution's batch jobs used."""
    return {call.params["solutionVersionArn"] for call in run.batch_creates(deployment.solution)}


def completion_events(run: Run) -> list[dict[str, Any]]:
    return [entry for call in run.aws.calls_to("events", "PutEvents") for entry in call.params["Entries"]]


def solution_entry(entries: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The entry of solution `name` in a list of {name, status, gate} (the event's, the execution output's)."""
    (entry,) = [e for e in entries if e["name"] == name]
    return entry


def assert_rejected_before_batch_jobs(deployment: Deployment, run: Run) -> str:
    """The gate rejected the gated solution's model: that solution FAILED (ModelQualityGateFailed) in its
    gate, before its batch jobs, and the run ended SolutionsFailed naming it with the gate's reason. Returns the
    run's cause."""
    name = deployment.solution
    assert (run.result.status, run.result.error) == ("FAILED", "SolutionsFailed"), failure_of(run)
    cause = run.result.cause
    candidate = candidate_of(deployment, run)
    count = len(deployment.pipeline.config.solutions)
    assert f" FAILED: 1 of {count} solution(s) failed: {name}: Run {run.run_id}: the model quality gate rejected " \
        f"solution version {candidate} of solution {name}: " in cause, cause
    assert f"({GATE_FAILED_ERROR})" in cause
    # The gate's reason alone: not the Lambda error's JSON with its stack trace.
    assert "stackTrace" not in cause and "errorMessage" not in cause and "errorType" not in cause
    assert gate_rejected_state(name) in run.result.all_states_entered
    assert f"{name}: failed" in run.result.all_states_entered
    assert run.result.states_entered[-1] == "Solutions failed"
    section = run.section(name)
    assert (section["status"], section["failure"]["error"]) == ("FAILED", GATE_FAILED_ERROR)
    assert run.manifest()["failed_solutions"] == [name]
    # Nothing of that solution after its gate: no batch job, no output; no _SUCCESS, no notice, no event.
    assert run.batch_creates(name) == []
    assert run.keys(f"batch-output/{name}/") == []
    assert section["existing_objects"]["count"] == 0
    assert f"{run.prefix}_SUCCESS" not in run.keys()
    assert not run.aws.calls_to("sns") and not run.aws.calls_to("events")
    return cause


# ----------------------------------------------------------------------------------------------------------------
# on_fail=fail (the default configuration)
# ----------------------------------------------------------------------------------------------------------------


def test_gate_passes_within_the_allowed_drop_and_the_version_becomes_accepted_after_the_output(
    run_default: Callable[[Scenario], Run], default_deployment: Deployment
) -> None:
    # 0.19 against 0.2: 5% below, within the default 10%.
    run = run_default(scenario(default_deployment, {NDCG: 0.19}, accepted={NDCG: 0.2}))
    assert run.result.status == "SUCCEEDED", failure_of(run)
    candidate = candidate_of(default_deployment, run)
    assert batch_versions(default_deployment, run) == {candidate}
    model = run.section()["model"]
    assert (model["decision"], model["used_fallback"], model["candidate_value"], model["last_accepted_value"]) == (
        "ACCEPTED",
        False,
        0.19,
        0.2,
    )
    assert "5.0% below the last accepted 0.2" in model["reason"]
    # Recorded only now, after the manifest and _SUCCESS: the head moved to the candidate, the history keeps both.
    assert head(default_deployment, run).solution_version_arn == candidate
    history = store(default_deployment, run.aws).history(default_deployment.solution_arn)
    assert [v.solution_version_arn for v in history] == [candidate, default_deployment.version("accepted01")]
    calls = run.aws.calls
    success_put = next(
        i for i, c in enumerate(calls) if c.operation == "PutObject" and c.params["Key"] == f"{run.prefix}_SUCCESS"
    )
    (recorded,) = [i for i, c in enumerate(calls) if c.service == "dynamodb" and c.operation == "TransactWriteItems"]
    assert success_put < recorded
    (event,) = completion_events(run)
    assert (event["Source"], event["DetailType"]) == (EVENT_SOURCE, EVENT_DETAIL_TYPE)
    detail = json.loads(event["Detail"])
    assert detail["runId"] == run.run_id
    assert detail["manifestUri"] == f"s3://{run.curated}/{run.prefix}_manifest.json"
    assert detail["outputsPrefix"] == f"s3://{run.curated}/{run.prefix}"
    entry = solution_entry(detail["solutions"], SOLUTION)
    assert entry["status"] == "SUCCEEDED"
    assert (entry["gate"]["decision"], entry["gate"]["usedFallback"], entry["gate"]["solutionVersionArn"]) == (
        "ACCEPTED",
        False,
        candidate,
    )
    (acceptance,) = run.result.output["acceptance"]
    assert (acceptance["recorded"], acceptance["acceptedVersionArn"]) == (True, candidate)


def test_gate_fails_the_run_before_batch_inference_with_both_figures_and_the_rule(
    run_default: Callable[[Scenario], Run], default_deployment: Deployment
) -> None:
    run = run_default(scenario(default_deployment, {NDCG: 0.15}, accepted={NDCG: 0.2}))
    cause = assert_rejected_before_batch_jobs(default_deployment, run)
    for part in (f"{NDCG} = 0.15", "25.0% below the last accepted 0.2", "rule:", "at most 10% below", "on_fail=fail"):
        assert part in cause, part
    # The solution's section holds the same reason (the manifest is written for a failed run too).
    assert "25.0% below the last accepted 0.2" in run.section()["failure"]["cause"]
    # Nothing accepted: the accepted version stays.
    assert not run.aws.calls_to("dynamodb", "TransactWriteItems")
    assert head(default_deployment, run).solution_version_arn == default_deployment.version("accepted01")


def test_first_run_is_judged_by_the_floor_only(
    run_default: Callable[[Scenario], Run], default_deployment: Deployment
) -> None:
    run = run_default(scenario(default_deployment, {NDCG: 0.005}))
    cause = assert_rejected_before_batch_jobs(default_deployment, run)
    assert "is below the floor 0.01" in cause
    assert head(default_deployment, run) is None


def test_missing_metrics_reject_the_candidate_by_default(
    run_default: Callable[[Scenario], Run], default_deployment: Deployment
) -> None:
    run = run_default(scenario(default_deployment, None, accepted={NDCG: 0.2}))
    cause = assert_rejected_before_batch_jobs(default_deployment, run)
    assert f"metric {NDCG} missing (GetSolutionMetrics reported no metrics at all)" in cause
    assert head(default_deployment, run).solution_version_arn == default_deployment.version("accepted01")


def test_a_failed_output_accepts_nothing(
    run_default: Callable[[Scenario], Run], default_deployment: Deployment
) -> None:
    # The gate accepts the candidate (first run), but every output line is an error: the solution's output fails.
    run = run_default(scenario(default_deployment, {NDCG: 0.2}, recommend=error_for_all))
    assert (run.result.status, run.result.error) == ("FAILED", "SolutionsFailed"), failure_of(run)
    assert "(AllLinesErrored)" in run.result.cause
    section = run.section()
    assert (section["status"], section["model"]["decision"]) == ("FAILED", "ACCEPTED")
    # The acceptance step ran for the solution and recorded nothing: its output did not succeed.
    (accept_event,) = run.invocations(default_deployment.functions["accept"])
    assert accept_event["output"]["status"] == "FAILED"
    assert accept_event["gate"]["decision"] == "ACCEPTED"
    assert not run.aws.calls_to("dynamodb", "TransactWriteItems")
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
    candidate = candidate_of(full_deployment, run)
    assert batch_versions(full_deployment, run) == {accepted}
    manifest = run.manifest()
    statuses = {name: section["status"] for name, section in manifest["solutions"].items()}
    assert statuses == dict.fromkeys(FULL_SOLUTIONS, "SUCCEEDED")
    model = manifest["solutions"]["users"]["model"]
    assert (model["decision"], model["action"], model["used_fallback"]) == ("REJECTED", "use_last_accepted", True)
    assert (model["candidate_version_arn"], model["batch_solution_version_arn"]) == (candidate, accepted)
    assert "is below the floor 0.02" in model["reason"]
    # The others' gates accepted their own candidates (first runs above the floor).
    for name in FULL_SOLUTIONS[1:]:
        other = manifest["solutions"][name]["model"]
        assert (other["decision"], other["used_fallback"]) == ("ACCEPTED", False), name
    # Said everywhere: the notice, the event, the execution's output (what the CLI shows).
    (notice,) = run.notices()
    assert notice["Subject"] == "Personalize pipeline run succeeded with the last accepted model (candidate rejected)"
    assert "\n- users (user_recommendations): " in notice["Message"]
    assert "; model REJECTED (FALLBACK to the last accepted version)\n" in notice["Message"]
    (event,) = completion_events(run)
    decision = solution_entry(json.loads(event["Detail"])["solutions"], "users")["gate"]
    assert (decision["decision"], decision["usedFallback"], decision["solutionVersionArn"]) == (
        "REJECTED",
        True,
        accepted,
    )
    output = run.result.output
    gate = solution_entry(output["solutions"], "users")["gate"]
    assert (gate["decision"], gate["usedFallback"], gate["solutionVersionArn"], gate["candidateVersionArn"]) == (
        "REJECTED",
        True,
        accepted,
        candidate,
    )
    # A rejected candidate never becomes accepted, even though the run's output succeeded (the acceptance list is
    # in config order: users first).
    assert output["acceptance"][0]["recorded"] is False
    assert output["acceptance"][0]["acceptedVersionArn"] == accepted
    assert [a["recorded"] for a in output["acceptance"][1:]] == [True, True, True]
    assert head(full_deployment, run).solution_version_arn == accepted


def test_fallback_mode_fails_a_first_run_that_misses_the_floor(
    run_full: Callable[[Scenario], Run], full_deployment: Deployment
) -> None:
    run = run_full(scenario(full_deployment, {PRECISION: 0.01}))
    cause = assert_rejected_before_batch_jobs(full_deployment, run)
    assert "no version has been accepted yet, so the run fails" in cause
    # The other solutions went on: their outputs are written and their sections succeeded.
    sections = run.manifest()["solutions"]
    others = FULL_SOLUTIONS[1:]
    assert {name: sections[name]["status"] for name in others} == dict.fromkeys(others, "SUCCEEDED")
    assert all(run.batch_creates(name) for name in others)
    assert head(full_deployment, run) is None


def test_missing_metrics_are_accepted_on_trust_when_configured(
    run_full: Callable[[Scenario], Run], full_deployment: Deployment
) -> None:
    run = run_full(scenario(full_deployment, {"coverage": 0.3}, accepted={PRECISION: 0.05}))
    assert run.result.status == "SUCCEEDED", failure_of(run)
    candidate = candidate_of(full_deployment, run)
    assert batch_versions(full_deployment, run) == {candidate}
    model = run.section("users")["model"]
    assert (model["decision"], model["metric_missing"]) == ("ACCEPTED", True)
    assert "accepted without a check because on_missing_metric=accept" in model["reason"]
    assert head(full_deployment, run).solution_version_arn == candidate
