"""The real pipeline stack of a config with three solutions of different kinds, executed end to end offline.

    users     aws-user-personalization  batch inference  users  -> recommendations/users/
    similar   aws-similar-items         batch inference  items  -> related-items/similar/
    segments  aws-item-affinity         batch segment    items  -> segments/segments/

The definition is the pipeline stack's (resolved with the data stack's outputs) and every Lambda function it
invokes is the REAL handler (run names, model gate, batch planning, post-processing), in-process against moto S3,
DynamoDB and SNS. Glue and Personalize are scripted: Glue writes the run's inputs (30 users in one file, 600 items
in two files of 300), Personalize's batch jobs write their `.out` files when first seen ACTIVE.

The items are 600 in two files: the item-affinity solution's planner gives a job at most 500 items, so its input
is split into two jobs (the cheapest real split: the limit is the planner's own, reached through the real event
the state machine sends). The related-items solution reads the same two files in one job.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Callable, Iterator

import pytest

from lambda_src.model_gate import handler as model_gate_handler
from lambda_src.postprocess import handler as postprocess_handler
from pipeline_contracts.job_names import numbered_job_name
from stacks.app_factory import PipelineApp
from tests.support.cdk_app import synth, templates_of
from pipeline_rehearsal.deployment import create_accepted_versions_table
from pipeline_rehearsal.deployment import SynthesizedOrchestration, app_orchestration
from pipeline_rehearsal import (
    BatchOutputWriter,
    ExecutionResult,
    FakeJob,
    JobScript,
    OfflineStepFunctions,
    clock_datetime,
)
from pipeline_rehearsal.functions import shared_environment
from tests.support.lambda_context import apply_environment
from tests.support.templates import logical_id_of

REGION = "us-east-1"
EXECUTION = "weekly-2026-01-04"
SOLUTIONS = [
    {"name": "users", "recipe": "aws-user-personalization"},
    {"name": "similar", "recipe": "aws-similar-items", "training_mode": "FULL"},
    {"name": "segments", "recipe": "aws-item-affinity", "training_mode": "FULL"},
]
ITEMS_DATASET = {
    "fields": [{"name": "GENRES", "type": "categorical"}],
    "sources": [{"prefix": "items/", "id_column": "movieId", "columns": {"GENRES": "genres"}, "separator": "|"}],
}
USERS = [str(100 + n) for n in range(30)]
ITEM_FILES = {f"part-{f:05d}.json": [str(1000 + f * 300 + n) for n in range(300)] for f in range(2)}
FOLDERS = {"users": "recommendations/users/", "similar": "related-items/similar/", "segments": "segments/segments/"}
RESULTS_PER_LINE = 3  # what the fake jobs answer per input line (keeps the CSVs small)


# ----------------------------------------------------------------------------------------------------------------
# The app, synthesized once for the module
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> PipelineApp:
    return synth(
        tmp_path_factory.mktemp("three-solutions-app"),
        solutions=json.dumps(SOLUTIONS),
        items_dataset=json.dumps(ITEMS_DATASET),
        # Bounds a 3-solution run's history fits (check_history_budget), with few loop iterations.
        status_poll_seconds=600,
        busy_retry_seconds=600,
        busy_retry_max_attempts=10,
    )


@pytest.fixture(scope="module")
def pipeline(app: PipelineApp) -> SynthesizedOrchestration:
    return app_orchestration(app, templates_of(app), region=REGION)


# ----------------------------------------------------------------------------------------------------------------
# One run
# ----------------------------------------------------------------------------------------------------------------


def few_results(job: FakeJob, request: dict[str, Any]) -> dict[str, Any]:
    key = request.get("userId") or request.get("itemId")
    ids = [f"{key}-{rank}" for rank in range(1, RESULTS_PER_LINE + 1)]
    if job.kind == "segment":
        return {"output": {"recommendedUsers": ids}, "error": None}
    return {"output": {"recommendedItems": ids, "scores": [0.9, 0.8, 0.7]}, "error": None}


class Run:
    def __init__(self, aws: OfflineStepFunctions, result: ExecutionResult, s3: Any, pipeline: SynthesizedOrchestration):
        self.aws, self.result, self.s3, self.pipeline = aws, result, s3, pipeline
        self.curated = pipeline.expected("curated_bucket")
        self.transformed = pipeline.expected("transformed_bucket")

    @property
    def run_id(self) -> str:
        return self.aws.glue.runs[0]["params"]["Arguments"]["--run_id"]

    @property
    def prefix(self) -> str:
        return f"runs/{self.run_id}/"

    def keys(self, under: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.curated, Prefix=self.prefix + under).get("Contents", [])
        return sorted(obj["Key"][len(self.prefix) :] for obj in listed)

    def manifest(self) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=self.curated, Key=self.prefix + "_manifest.json")["Body"].read()
        return json.loads(body)

    def creates(self, operation: str, solution: str) -> list[Any]:
        base = self.pipeline.config.resource_name(f"batch-{solution}")
        return [c for c in self.aws.calls_to("personalize", operation) if c.params["jobName"].startswith(base + "-")]

    def failure(self) -> str:
        return f"{self.result.status} {self.result.error}: {self.result.cause}"


@contextlib.contextmanager
def executor(
    pipeline: SynthesizedOrchestration, app: PipelineApp, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Run]]:
    apply_environment(shared_environment(pipeline.functions, REGION), monkeypatch)
    with pipeline.offline() as (aws, arn):
        monkeypatch.setattr(postprocess_handler, "datetime", clock_datetime(aws.clock))
        s3 = aws.client("s3")
        table = next(
            f.environment[model_gate_handler.TABLE_ENV]
            for f in pipeline.functions.values()
            if model_gate_handler.TABLE_ENV in f.environment
        )
        create_accepted_versions_table(aws.client("dynamodb"), table)
        topic = pipeline.cloud.arn(logical_id_of(app.pipeline_stack.notices.topic))
        aws.client("sns").create_topic(Name=topic.rsplit(":", 1)[-1])
        transformed = pipeline.expected("transformed_bucket")

        def write_inputs(params: dict[str, Any]) -> None:
            """What the Glue job writes: interactions, the users' and the items' batch input."""
            prefix = f"runs/{params['Arguments']['--run_id']}/"
            interactions = "USER_ID,ITEM_ID,TIMESTAMP\n" + "".join(f"{u},{u}0,1162160236\n" for u in USERS)
            s3.put_object(Bucket=transformed, Key=f"{prefix}interactions/part-00000.csv", Body=interactions.encode())
            users = "".join(json.dumps({"userId": u}) + "\n" for u in USERS)
            s3.put_object(Bucket=transformed, Key=f"{prefix}batch-input/part-00000.json", Body=users.encode())
            for name, items in ITEM_FILES.items():
                body = "".join(json.dumps({"itemId": i}) + "\n" for i in items)
                s3.put_object(Bucket=transformed, Key=f"{prefix}batch-input-items/{name}", Body=body.encode())

        aws.glue.on_start = write_inputs
        aws.personalize.on_active = BatchOutputWriter(s3, answer=few_results)
        aws.personalize.default_script = JobScript(duration=1200)

        def run(script: Callable[[OfflineStepFunctions], None] | None = None) -> Run:
            if script is not None:
                script(aws)
            return Run(aws, aws.run(arn, name=EXECUTION), s3, pipeline)

        yield run


@pytest.fixture
def execute(
    pipeline: SynthesizedOrchestration, app: PipelineApp, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Run]]:
    with executor(pipeline, app, monkeypatch) as run:
        yield run


# ----------------------------------------------------------------------------------------------------------------
# (a) three solutions succeed, (d) the item-affinity input split across two jobs
# ----------------------------------------------------------------------------------------------------------------


def test_three_solutions_succeed_with_a_manifest_section_each(execute: Callable[..., Run]) -> None:
    run = execute()

    assert run.result.status == "SUCCEEDED", run.failure()
    manifest = run.manifest()
    assert list(manifest["solutions"]) == ["users", "similar", "segments"]
    assert {name: section["status"] for name, section in manifest["solutions"].items()} == dict.fromkeys(
        ["users", "similar", "segments"], "SUCCEEDED"
    )
    assert "_SUCCESS" in run.keys()
    # Each solution's CSVs in its own kind folder, one per .out file of each of its jobs.
    for name, folder in FOLDERS.items():
        csvs = [k for k in run.keys(folder) if k.endswith(".csv")]
        assert csvs, f"no CSV under {folder}: {run.keys()}"
    # (d) 600 items, at most 500 per item-affinity job: two segment jobs, numbered from the run's base name.
    segment_creates = run.creates("CreateBatchSegmentJob", "segments")
    names = sorted({c.params["jobName"] for c in segment_creates})
    assert len(names) == 2
    base = names[0].rsplit("-", 1)[0]
    assert names == [numbered_job_name(base, 1), numbered_job_name(base, 2)]
    assert sorted(k.split("/")[2] for k in run.keys(FOLDERS["segments"]) if k.endswith(".csv")) == [
        "part-0001",
        "part-0002",
    ]
    # The related-items solution read both item files in one job; users one job of one file.
    assert len({c.params["jobName"] for c in run.creates("CreateBatchInferenceJob", "similar")}) == 1
    assert len({c.params["jobName"] for c in run.creates("CreateBatchInferenceJob", "users")}) == 1
    # Every item got a segment line: 600 lines over the two jobs' CSVs (header + RESULTS_PER_LINE rows each).
    segment_rows = sum(
        len(run.s3.get_object(Bucket=run.curated, Key=run.prefix + k)["Body"].read().decode().splitlines()) - 1
        for k in run.keys(FOLDERS["segments"])
        if k.endswith(".csv")
    )
    assert segment_rows == 600 * RESULTS_PER_LINE


# ----------------------------------------------------------------------------------------------------------------
# (b) one solution's training fails
# ----------------------------------------------------------------------------------------------------------------


def test_a_failed_training_fails_the_run_naming_the_solution_and_keeps_the_others_outputs(
    execute: Callable[..., Run], pipeline: SynthesizedOrchestration
) -> None:
    reason = "Insufficient data: the items dataset has 12 items with interactions; at least 25 are required."

    def fail_similar_training(aws: OfflineStepFunctions) -> None:
        prefix = pipeline.config.resource_name("train-similar")
        aws.personalize.script(
            "train", JobScript(duration=900, status="CREATE FAILED", failure_reason=reason), name_prefix=prefix
        )

    run = execute(fail_similar_training)

    assert (run.result.status, run.result.error) == ("FAILED", "SolutionsFailed"), run.failure()
    # The manifest's message: the failed solution first, with Personalize's reason, then a line per solution.
    assert "1 of 3 solution(s) failed: similar: " in run.result.cause, run.result.cause
    assert f"ended CREATE FAILED: {reason} (TrainingFailed)" in run.result.cause
    assert "- similar (related_items): FAILED, TrainingFailed" in run.result.cause
    manifest = run.manifest()
    sections = manifest["solutions"]
    assert sections["similar"]["status"] == "FAILED"
    assert reason in json.dumps(sections["similar"])
    assert sections["users"]["status"] == sections["segments"]["status"] == "SUCCEEDED"
    assert "_SUCCESS" not in run.keys()
    # The others' outputs were written and the manifest says so; the failed one wrote none.
    for name in ("users", "segments"):
        assert [k for k in run.keys(FOLDERS[name]) if k.endswith(".csv")]
        assert json.dumps(sections[name]).count(".csv") >= 1
    assert not run.keys(FOLDERS["similar"])
    assert not run.creates("CreateBatchInferenceJob", "similar")


# ----------------------------------------------------------------------------------------------------------------
# (c) LimitExceededException on the sixth concurrent job, absorbed by the busy loop
# ----------------------------------------------------------------------------------------------------------------


def test_the_sixth_concurrent_segment_job_waits_in_the_busy_loop(
    execute: Callable[..., Run], pipeline: SynthesizedOrchestration
) -> None:
    """When the first of the run's two segment jobs is created, another team starts four of theirs: the second
    is the sixth in progress, Personalize answers LimitExceededException, and the child retries until theirs end."""
    others_end_after = 700  # before the run's first job ends (1200 s): the slot is theirs to free

    def crowd_the_quota(aws: OfflineStepFunctions) -> None:
        aws.personalize.enforce_quotas(segment=5)
        fake, original = aws.personalize, aws.personalize.handle
        started: list[bool] = []

        def handle(operation: str, params: dict[str, Any]) -> dict[str, Any]:
            response = original(operation, params)
            if operation == "CreateBatchSegmentJob" and not started:
                started.append(True)
                for n in range(4):
                    original(
                        operation,
                        {
                            "jobName": f"other-team-{n}",
                            "solutionVersionArn": "x",
                            "jobInput": {},
                            "jobOutput": {},
                            "roleArn": "r",
                        },
                    )
                    fake.jobs[-1].script = JobScript(duration=others_end_after)
            return response

        fake.handle = handle  # type: ignore[method-assign]

    run = execute(crowd_the_quota)

    assert run.result.status == "SUCCEEDED", run.failure()
    creates = run.creates("CreateBatchSegmentJob", "segments")
    refused = [c for c in creates if c.error == "LimitExceededException"]
    accepted = [c for c in creates if c.error is None]
    assert len(accepted) == 2 and refused
    assert {c.params["jobName"] for c in refused} == {accepted[-1].params["jobName"]}  # the second job, every time
    first_created = accepted[0].at
    # Both children call at the same virtual moment; each faked call adds its latency to the shared clock, so
    # which of the two is recorded first may differ by that much.
    slack = 2 * run.aws.call_latency
    assert all(first_created - slack <= c.at < first_created + others_end_after for c in refused)
    assert accepted[-1].at >= first_created + others_end_after  # created once the others had ended
    busy = pipeline.config.busy_retry_seconds
    assert len(refused) == -(-others_end_after // busy)  # one refusal per busy retry until then
    assert run.aws.personalize.most_in_progress("segment") == 5
    assert run.manifest()["solutions"]["segments"]["status"] == "SUCCEEDED"


def test_every_training_failing_fails_the_run_with_solutions_failed(execute: Callable[..., Run]) -> None:
    def fail_every_training(aws: OfflineStepFunctions) -> None:
        aws.personalize.script("train", *[JobScript(duration=900, status="CREATE FAILED", failure_reason="no data")] * 3)

    run = execute(fail_every_training)

    assert (run.result.status, run.result.error) == ("FAILED", "SolutionsFailed"), run.failure()
    assert "3 of 3 solution(s) failed" in run.result.cause
    assert {s["status"] for s in run.manifest()["solutions"].values()} == {"FAILED"}
