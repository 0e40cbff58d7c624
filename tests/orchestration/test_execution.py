"""The synthesized definition executed in moto's interpreter, with Personalize, Glue and Lambda scripted."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_src.run_names.naming import run_names
from pipeline_contracts.job_names import numbered_job_name
from stacks.orchestration.solutions import solution_job_name_prefixes
from pipeline_rehearsal.deployment import SynthesizedOrchestration
from pipeline_rehearsal import EPOCH, GlueScript, JobScript, OfflineStepFunctions, VirtualClock

from .conftest import HOOK_STATE

Offline = tuple[OfflineStepFunctions, str]
STAGES = [
    # kind, label, error prefix, Create operation, Describe operation (the config's one solution is "solution")
    ("import", "Import", "Import", "CreateDatasetImportJob", "DescribeDatasetImportJob"),
    ("train", "solution training", "Training", "CreateSolutionVersion", "DescribeSolutionVersion"),
    ("batch", "solution batch job", "BatchJob", "CreateBatchInferenceJob", "DescribeBatchInferenceJob"),
]


def expected_names(orchestration: SynthesizedOrchestration, execution_name: str) -> dict[str, str]:
    execution_arn = (
        f"arn:aws:states:{orchestration.region}:123456789012:execution:"
        f"{orchestration.state_machine_name}:{execution_name}"
    )
    prefixes = {"importJobName": orchestration.config.resource_name("import"), **solution_job_name_prefixes(orchestration.config)}
    names = run_names(execution_name, execution_arn, VirtualClock.iso(EPOCH), prefixes)
    # The one solution's training, and its one batch job (the input fits one job: part 1).
    return {**names, "solutionVersionName": names["train_solution"], "batchJobName": numbered_job_name(names["batch_solution"], 1)}


def solution_record(result: Any) -> dict[str, Any]:
    """The run's one solution record (`$.solutions[0]`, in the execution's output)."""
    (record,) = result.output["solutions"]
    return record


def operations(aws: OfflineStepFunctions) -> list[str]:
    return [call.operation for call in aws.calls if call.service in ("personalize", "glue")]


def test_happy_path(orchestration: SynthesizedOrchestration, offline: Offline) -> None:
    aws, arn = offline
    result = aws.run(arn, name="weekly-2026-01-04")

    assert result.status == "SUCCEEDED", result.cause
    names = expected_names(orchestration, "weekly-2026-01-04")
    run_id = names["runId"]
    assert [(c.service, c.operation) for c in aws.calls[:5]] == [
        ("lambda", "Invoke"),  # the overlap guard takes the run lease...
        ("dynamodb", "PutItem"),  # ...with one conditional put (tests/orchestration/test_overlap_guard.py)
        ("lambda", "Invoke"),
        ("ssm", "GetParameters"),  # every solution's parameter exists
        ("glue", "StartJobRun"),
    ]
    assert aws.calls[3].params == {"Names": [orchestration.expected("solution_arn_parameter")]}
    (start_job_run,) = aws.calls_to("glue", "StartJobRun")
    assert start_job_run.params == {"JobName": orchestration.expected("glue_job_name"), "Arguments": {"--run_id": run_id}}
    transformed = f"s3://{orchestration.expected('transformed_bucket')}/runs/{run_id}"
    output_prefix = f"s3://{orchestration.expected('curated_bucket')}/runs/{run_id}/batch-output/"
    job_output = f"{output_prefix}solution/part-0001/"
    key, role, config = orchestration.expected("data_key_arn"), orchestration.expected("personalize_role_arn"), orchestration.config
    import_job, version, batch_job = (aws.personalize.job(kind).arn for kind in ("import", "train", "batch"))
    # The configured INCREMENTAL / UPDATE on a dataset and a solution that have nothing ACTIVE yet: the modes
    # function lists both (every page) and chooses FULL for each.
    assert [(c.operation, c.params) for c in aws.calls_to("personalize")] == [
        ("ListDatasetImportJobs", {"datasetArn": orchestration.expected("dataset_arn")}),
        ("ListSolutionVersions", {"solutionArn": orchestration.expected("solution_arn")}),
        (
            "CreateDatasetImportJob",
            {
                "jobName": names["importJobName"],
                "datasetArn": orchestration.expected("dataset_arn"),
                "dataSource": {"dataLocation": f"{transformed}/interactions/"},
                "roleArn": role,
                "importMode": "FULL",
            },
        ),
        ("DescribeDatasetImportJob", {"datasetImportJobArn": import_job}),
        (
            "CreateSolutionVersion",
            {"name": names["solutionVersionName"], "solutionArn": orchestration.expected("solution_arn"), "trainingMode": "FULL"},
        ),
        ("DescribeSolutionVersion", {"solutionVersionArn": version}),
        (
            "CreateBatchInferenceJob",
            {
                "jobName": names["batchJobName"],
                "solutionVersionArn": version,
                "numResults": config.num_results,
                # One job reads the whole batch input in place; its output goes to its part folder.
                "jobInput": {"s3DataSource": {"path": f"{transformed}/batch-input/", "kmsKeyArn": key}},
                "jobOutput": {"s3DataDestination": {"path": job_output, "kmsKeyArn": key}},
                "roleArn": role,
                "filterArn": config.filter_arn,
                "batchInferenceJobConfig": {
                    "itemExplorationConfig": {"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"}
                },
            },
        ),
        ("DescribeBatchInferenceJob", {"batchInferenceJobArn": batch_job}),
    ]
    record = solution_record(result)
    assert {k: v for k, v in result.output.items() if k != "solutions"} == {
        "status": "SUCCEEDED",
        "runId": run_id,
        "glueJobRunId": aws.glue.runs[0]["Id"],
        "datasetImportJobArn": import_job,
        "outputPrefix": output_prefix,
        "modes": {
            "imports": {"interactions": {"mode": "FULL", "reason": result.output["modes"]["imports"]["interactions"]["reason"]}},
            "training": {"solution": {"mode": "FULL", "reason": result.output["modes"]["training"]["solution"]["reason"]}},
        },
    }
    assert "no ACTIVE bulk import yet" in result.output["modes"]["imports"]["interactions"]["reason"]
    assert "no ACTIVE version trained FULL" in result.output["modes"]["training"]["solution"]["reason"]
    assert {k: record[k] for k in ("name", "kind", "jobType", "status", "train", "batchJobs")} == {
        "name": "solution",
        "kind": "user_recommendations",
        "jobType": "batch_inference",
        "status": "SUCCEEDED",
        "train": {"Arn": version},
        "batchJobs": [{"part": 1, "jobName": names["batchJobName"], "arn": batch_job, "status": "ACTIVE"}],
    }
    assert (record["plan"]["jobs_count"], record["plan"]["max_concurrency"]) == (1, 1)
    # Each job was polled only after one full status_poll_seconds wait.
    for job in aws.personalize.jobs:
        assert job.detected_at == pytest.approx(job.created_at + config.status_poll_seconds, abs=1)


@pytest.mark.parametrize("kind, label, _prefix, create, describe", STAGES[1:], ids=["training", "batch"])
def test_busy_three_times_then_success(
    offline: Offline, orchestration: SynthesizedOrchestration, kind: str, label: str, _prefix: str, create: str, describe: str
) -> None:
    aws, arn = offline
    aws.personalize.refuse(create, "ResourceInUseException", times=3)
    result = aws.run(arn)

    assert result.status == "SUCCEEDED", result.cause
    creates = aws.calls_to("personalize", create)
    assert [c.error for c in creates] == ["ResourceInUseException"] * 3 + [None]
    assert len({str(c.params) for c in creates}) == 1  # the same request (and job name) every time
    gaps = [round(b.at - a.at) for a, b in zip(creates, creates[1:])]
    assert gaps == [orchestration.config.busy_retry_seconds] * 3
    # A batch job's loop runs in its Distributed Map child: its states are in the child's history.
    entered = result.states_entered + aws.child_states_entered()
    assert entered.count(f"{label}: wait while busy") == 3
    assert len(aws.calls_to("personalize", describe)) == 1


def test_limit_exceeded_is_busy_too(offline: Offline) -> None:
    aws, arn = offline
    aws.personalize.refuse("CreateDatasetImportJob", "LimitExceededException", times=1)
    result = aws.run(arn)
    assert result.status == "SUCCEEDED", result.cause
    assert [c.error for c in aws.calls_to("personalize", "CreateDatasetImportJob")] == ["LimitExceededException", None]


def test_busy_bound_exceeded(offline: Offline, orchestration: SynthesizedOrchestration) -> None:
    aws, arn = offline
    attempts = orchestration.config.busy_retry_max_attempts
    aws.personalize.refuse("CreateSolutionVersion", "ResourceInUseException", times=attempts)
    result = aws.run(arn)

    # The solution failed (its record says why); without post-processing nothing fails the run (see below).
    error = solution_record(result)["error"]
    assert solution_record(result)["status"] == "FAILED"
    assert error["Error"] == "TrainingBlocked"
    assert error["Cause"].startswith(
        f"Solution solution: CreateSolutionVersion was refused as busy {attempts} times in a row over 3 min of "
        "retries, so the run gave up."
    )
    assert "Scripted refusal of CreateSolutionVersion" in error["Cause"]
    assert len(aws.calls_to("personalize", "CreateSolutionVersion")) == attempts
    assert not aws.calls_to("personalize", "CreateBatchInferenceJob")


@pytest.mark.parametrize("kind, label, prefix, create, describe", STAGES, ids=["import", "training", "batch"])
def test_create_failed_ends_with_the_reason(
    offline: Offline, kind: str, label: str, prefix: str, create: str, describe: str
) -> None:
    """An import that fails fails the run; a training that fails fails its solution; a batch job that fails is a
    FAILED job record of its solution (its post-processing, absent here, fails the solution on it)."""
    aws, arn = offline
    reason = f"{kind}: Input data has 12 users; at least 25 are required."
    aws.personalize.script(kind, JobScript(duration=900, status="CREATE FAILED", failure_reason=reason))
    result = aws.run(arn)

    job = aws.personalize.job(kind)
    later = [op for _, _, _, op, _ in STAGES[[s[0] for s in STAGES].index(kind) + 1 :]]
    assert not aws.calls_to("personalize", *later) if later else True
    if kind == "import":
        assert (result.status, result.error) == ("FAILED", "ImportFailed")
        assert result.cause.endswith(f"{job.arn} ended CREATE FAILED: {reason}")
        # The import polls in its own child execution; the run fails with the child's error and cause.
        assert result.states_entered[-1] == "Import: failed in its child"
        assert f"{label}: job failed" in result.all_states_entered
        return
    record = solution_record(result)
    if kind == "train":
        assert record["status"] == "FAILED" and record["error"]["Error"] == "TrainingFailed"
        assert record["error"]["Cause"].endswith(f"{job.arn} ended CREATE FAILED: {reason}")
        assert "solution training: job failed" in result.all_states_entered
    else:
        (failed_job,) = record["batchJobs"]
        assert (failed_job["status"], failed_job["error"]) == ("FAILED", "BatchJobFailed")
        assert failed_job["cause"].endswith(f"{job.arn} ended CREATE FAILED: {reason}")
        assert failed_job["jobName"] == job.name
        assert "solution batch job: job failed" in aws.child_states_entered()


def test_stopped_without_reason(offline: Offline) -> None:
    aws, arn = offline
    aws.personalize.script("train", JobScript(duration=900, status="CREATE STOPPED"))
    result = aws.run(arn)
    error = solution_record(result)["error"]
    assert error["Error"] == "TrainingFailed"
    assert error["Cause"].endswith("ended CREATE STOPPED without a failure reason")


def test_wait_loop_bound(offline: Offline, orchestration: SynthesizedOrchestration) -> None:
    aws, arn = offline
    config = orchestration.config
    polls = config.job_max_wait_hours * 3600 // config.status_poll_seconds
    aws.personalize.script("import", JobScript(duration=2 * config.job_max_wait_hours * 3600))
    result = aws.run(arn)

    assert (result.status, result.error) == ("FAILED", "ImportTimedOut")
    job = aws.personalize.job("import")
    assert result.cause == (
        f"Dataset import job {job.arn} was still CREATE IN_PROGRESS after {polls} polls over "
        f"{config.job_max_wait_hours} h (job_max_wait_hours is {config.job_max_wait_hours})"
    )
    assert len(aws.calls_to("personalize", "DescribeDatasetImportJob")) == polls
    assert not aws.calls_to("personalize", "CreateSolutionVersion")


@pytest.mark.parametrize("state", ["FAILED", "TIMEOUT"])
def test_glue_failure(offline: Offline, state: str) -> None:
    aws, arn = offline
    message = "AnalysisException: Path does not exist: s3://raw/ratings/"
    aws.glue.script(GlueScript(duration=120, state=state, error_message=message))
    result = aws.run(arn)

    assert (result.status, result.error) == ("FAILED", "TransformFailed")
    assert message in result.cause and aws.glue.runs[0]["Id"] in result.cause
    assert not aws.calls_to("personalize")


def test_glue_stopped(offline: Offline) -> None:
    """moto's .sync returns a STOPPED run as a result (AWS may raise instead): the run fails either way."""
    aws, arn = offline
    aws.glue.script(GlueScript(duration=120, state="STOPPED", error_message="Job run stopped by user"))
    result = aws.run(arn)

    assert (result.status, result.error) == ("FAILED", "TransformFailed")
    assert result.cause.startswith(f"Glue job run {aws.glue.runs[0]['Id']} ended STOPPED: ")
    assert "Job run stopped by user" in result.cause
    assert not aws.calls_to("personalize")


def test_awkward_execution_name(orchestration: SynthesizedOrchestration, offline: Offline) -> None:
    """80 characters with dots and symbols: FakePersonalize rejects names Personalize would reject."""
    aws, arn = offline
    name = ("manual.re-run(after).schema=fix+v2!'" + "x" * 80)[:80]
    result = aws.run(arn, name=name)

    assert result.status == "SUCCEEDED", result.cause
    names = expected_names(orchestration, name)
    created = [c.params.get("jobName") or c.params.get("name") for c in aws.calls_to("personalize") if c.operation.startswith("Create")]
    assert created == [names["importJobName"], names["solutionVersionName"], names["batchJobName"]]
    # The slug is cut so that the longest name (the batch job's, with its part number) fits 63 characters.
    assert all(len(n) <= 63 for n in created) and all("-manual-re-run-after" in n for n in created)
    assert aws.calls_to("glue", "StartJobRun")[0].params["Arguments"]["--run_id"] == names["runId"]


def test_execution_timeout_on_the_virtual_clock(orchestration: SynthesizedOrchestration, offline: Offline) -> None:
    aws, arn = offline
    timeout = orchestration.config.execution_timeout_hours * 3600
    aws.glue.script(GlueScript(duration=timeout - 1800))
    aws.personalize.script("import", JobScript(duration=3000))
    result = aws.run(arn)

    assert result.status == "TIMED_OUT"
    assert aws.clock.seconds == pytest.approx(timeout)
    assert not aws.calls_to("personalize", "CreateSolutionVersion")


def test_post_process_hook_runs_before_the_summary(hooked: SynthesizedOrchestration) -> None:
    with hooked.offline() as (aws, arn):
        aws.personalize.default_script = JobScript(duration=100)
        result = aws.run(arn)
    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered[-4:] == [HOOK_STATE, "Summarize run", "Release run lease", "Run succeeded"]
    assert result.states_entered[-5] == "solution: own history"
    assert "solution: succeeded" in result.all_states_entered


# ----------------------------------------------------------------------------------------------------------------
# The solution ARN, read at run time from the data stack's SSM parameter
# ----------------------------------------------------------------------------------------------------------------


def test_a_replaced_solution_is_used_without_redeploying_the_pipeline(
    orchestration: SynthesizedOrchestration, offline: Offline
) -> None:
    """The data stack replaced the solution (new settings hash) and updated the parameter; the pipeline stack
    was not redeployed: the next run trains the new solution."""
    aws, arn = offline
    assert aws.run(arn, name="before").status == "SUCCEEDED"
    replacement = f"{orchestration.expected('solution_arn')[:-8]}fedc9876"
    orchestration.put_solution_arn(aws, replacement)

    result = aws.run(arn, name="after")

    assert result.status == "SUCCEEDED", result.cause
    trained = [c.params["solutionArn"] for c in aws.calls_to("personalize", "CreateSolutionVersion")]
    assert trained == [orchestration.expected("solution_arn"), replacement]
    assert aws.personalize.job("train", 1).arn.startswith(replacement + "/")


def test_a_missing_solution_parameter_fails_the_run_before_any_work(offline: Offline, orchestration: SynthesizedOrchestration) -> None:
    aws, arn = offline
    parameter = orchestration.expected("solution_arn_parameter")
    aws.client("ssm").delete_parameter(Name=parameter)

    result = aws.run(arn, name="no-data-stack")

    assert (result.status, result.error) == ("FAILED", "SolutionArnUnavailable")
    assert parameter in result.cause and "Deploy the data stack (npx cdk deploy --all)" in result.cause
    assert f'(missing parameters: ["{parameter}"])' in result.cause  # GetParameters' InvalidParameters
    assert result.states_entered[-1] == "Prepare run: solution ARN unavailable"
    assert operations(aws) == []  # no Glue run, no Personalize job
