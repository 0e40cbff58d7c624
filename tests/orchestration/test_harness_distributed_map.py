"""The offline harness on a hand-written Distributed Map of batch jobs, shaped like the pipeline's: the REAL
planning handlers against moto S3, an ItemReader over the plan's `_jobs.json`, `MaxConcurrencyPath`, an
`ItemSelector` with `$$.Map.Item.Value`, children that place their input, create a batch segment job, absorb
LimitExceededException in a busy loop and poll it on the virtual clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_src.batch_plan import handler as batch_plan_handler
from pipeline_rehearsal import BatchOutputWriter, JobScript, OfflineStepFunctions

INPUT_BUCKET, OUTPUT_BUCKET = "transformed", "curated"
RUN = "runs/r1/"
PLAN = "arn:aws:lambda:us-east-1:123456789012:function:plan-batch-jobs"
PLACE = "arn:aws:lambda:us-east-1:123456789012:function:place-job-input"
ROLE = "arn:aws:iam::123456789012:role/personalize"
VERSION = "arn:aws:personalize:us-east-1:123456789012:solution/segments/0123abcd"
POLL_SECONDS, BUSY_SECONDS = 600, 60


def child_states() -> dict[str, Any]:
    """One job: place its input when the plan copies files for it, create it (busy -> wait and again), poll it."""
    return {
        "Copy input?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.job.copy", "BooleanEquals": True, "Next": "Place input"}],
            "Default": "Create job",
        },
        "Place input": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": PLACE,
                "Payload": {"input_bucket.$": "$.inputBucket", "plan_key.$": "$.planKey", "part.$": "$.job.part"},
            },
            "ResultPath": None,
            "Next": "Create job",
        },
        "Create job": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:personalize:createBatchSegmentJob",
            "Parameters": {
                "JobName.$": "$.job.job_name",
                "SolutionVersionArn.$": "$.solutionVersionArn",
                "JobInput": {"S3DataSource": {"Path.$": "$.job.input_uri"}},
                "JobOutput": {"S3DataDestination": {"Path.$": "$.job.output_uri"}},
                "RoleArn": ROLE,
            },
            "ResultPath": "$.created",
            "Catch": [
                {
                    "ErrorEquals": ["Personalize.LimitExceededException", "Personalize.ResourceInUseException"],
                    "ResultPath": "$.busy",
                    "Next": "Wait while busy",
                }
            ],
            "Next": "Wait for job",
        },
        "Wait while busy": {"Type": "Wait", "Seconds": BUSY_SECONDS, "Next": "Create job"},
        "Wait for job": {"Type": "Wait", "Seconds": POLL_SECONDS, "Next": "Describe job"},
        "Describe job": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:personalize:describeBatchSegmentJob",
            "Parameters": {"BatchSegmentJobArn.$": "$.created.BatchSegmentJobArn"},
            "ResultSelector": {"Status.$": "$.BatchSegmentJob.Status"},
            "ResultPath": "$.described",
            "Next": "Job status?",
        },
        "Job status?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.described.Status", "StringEquals": "ACTIVE", "Next": "Job done"},
                {"Variable": "$.described.Status", "StringEquals": "CREATE FAILED", "Next": "Job failed"},
            ],
            "Default": "Wait for job",
        },
        "Job done": {
            "Type": "Pass",
            "Parameters": {
                "part.$": "$.job.part",
                "jobName.$": "$.job.job_name",
                "arn.$": "$.created.BatchSegmentJobArn",
                "status": "ACTIVE",
            },
            "End": True,
        },
        "Job failed": {"Type": "Fail", "Error": "BatchJobFailed", "Cause": "the job ended CREATE FAILED"},
    }


DEFINITION = {
    "StartAt": "Plan",
    "States": {
        "Plan": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": PLAN, "Payload.$": "$.planning"},
            "ResultSelector": {
                "plan_key.$": "$.Payload.plan_key",
                "jobs_key.$": "$.Payload.jobs_key",
                "max_concurrency.$": "$.Payload.max_concurrency",
                "input_bucket.$": "$.Payload.input_bucket",
                "jobs_count.$": "$.Payload.jobs_count",
            },
            "ResultPath": "$.plan",
            "Next": "segments batch jobs",
        },
        "segments batch jobs": {
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {"Bucket.$": "$.plan.input_bucket", "Key.$": "$.plan.jobs_key"},
            },
            "MaxConcurrencyPath": "$.plan.max_concurrency",
            "ItemSelector": {
                "job.$": "$$.Map.Item.Value",
                "solutionVersionArn.$": "$.solutionVersionArn",
                "planKey.$": "$.plan.plan_key",
                "inputBucket.$": "$.plan.input_bucket",
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Copy input?",
                "States": child_states(),
            },
            "ResultPath": "$.batchJobs",
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


def write_batch_input(s3: Any, files: int) -> dict[str, int]:
    """`files` small item files under the run's batch-input-items/, and their record counts as the ETL's summary
    would give them: 20 million each, so that two files fill a job (50 million records at most)."""
    counts = {}
    for index in range(files):
        key = f"{RUN}batch-input-items/part-{index:05d}.json"
        s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body="".join(f'{{"itemId": "{index}{n}"}}\n' for n in range(3)).encode())
        counts[key] = 20_000_000
    return counts


def planning_event(records: dict[str, int]) -> dict[str, Any]:
    return {
        "input_bucket": INPUT_BUCKET,
        "output_bucket": OUTPUT_BUCKET,
        "run_prefix": RUN,
        "solution": "segments",
        "source_prefix": f"{RUN}batch-input-items/",
        "job_type": "batch_segment",
        "records": records,
        "solutions_sharing_quota": 1,
        "job_name_base": "pbp-dev-batch-segments-r1-0123456789",
    }


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("OUTPUT_KMS_KEY_ID", raising=False)
    with OfflineStepFunctions() as harness:
        monkeypatch.setattr(batch_plan_handler, "_S3", None)  # the handler's cached client: a new one inside moto
        harness.lambdas.register(PLAN, batch_plan_handler.plan_batch_jobs, memory_mb=512, timeout_seconds=300)
        harness.lambdas.register(PLACE, batch_plan_handler.place_job_input, memory_mb=512, timeout_seconds=300)
        s3 = harness.client("s3")
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        yield harness


def test_children_run_concurrently_on_one_clock_and_the_sixth_job_waits_for_the_quota(aws: OfflineStepFunctions) -> None:
    s3 = aws.client("s3")
    records = write_batch_input(s3, files=12)  # 12 x 20 M records: 6 jobs of two files each
    aws.personalize.enforce_quotas(segment=5)
    aws.personalize.default_script = JobScript(duration=3000)
    outputs = BatchOutputWriter(s3)
    aws.personalize.on_active = outputs
    # A job of someone else's, in progress for the first hour: with it, the fifth of this run's jobs is the
    # sixth in progress in the region.
    aws.personalize.handle(
        "CreateBatchSegmentJob",
        {"jobName": "other-team-job", "solutionVersionArn": VERSION, "jobInput": {}, "jobOutput": {}, "roleArn": ROLE},
    )
    aws.personalize.jobs[0].script = JobScript(duration=3600)

    result = aws.run(aws.create_state_machine(DEFINITION), input={"planning": planning_event(records), "solutionVersionArn": VERSION})

    assert result.status == "SUCCEEDED", result.cause
    plan = result.output["plan"]
    assert (plan["jobs_count"], plan["max_concurrency"]) == (6, 5)
    jobs = json.loads(s3.get_object(Bucket=INPUT_BUCKET, Key=plan["jobs_key"])["Body"].read())
    # The Map's output: one child output per item, in item order, each its own job's.
    assert result.output["batchJobs"] == [
        {"part": job["part"], "jobName": job["job_name"], "arn": f"arn:aws:personalize:us-east-1:123456789012:batch-segment-job/{job['job_name']}", "status": "ACTIVE"}
        for job in jobs
    ]
    # Every child placed its two files before its job was created (the real place_job_input, in moto S3).
    placed = aws.lambdas.invocations_of(PLACE)
    assert sorted(event["part"] for event in placed) == [1, 2, 3, 4, 5, 6]
    for job in jobs:
        listed = s3.list_objects_v2(Bucket=INPUT_BUCKET, Prefix=job["input_uri"].split("/", 3)[3])["Contents"]
        assert len(listed) == 2
    # Concurrency: MaxConcurrency 5 children at once, each job created at the start (0.x s of call latency
    # apart), the quota refusing the one that would have been the sixth in progress.
    creates = aws.calls_to("personalize", "CreateBatchSegmentJob")
    refused = [c for c in creates if c.error == "LimitExceededException"]
    assert len(refused) >= 1 and {c.params["jobName"] for c in refused} <= {j["job_name"] for j in jobs}
    assert aws.personalize.most_in_progress("segment") == 5
    run_jobs = [j for j in aws.personalize.jobs if j.name != "other-team-job"]
    assert len(run_jobs) == 6
    early, late = sorted(run_jobs, key=lambda j: j.created_at)[:4], sorted(run_jobs, key=lambda j: j.created_at)[4:]
    assert all(j.created_at < 60 for j in early)
    # The refused one got in at the first busy retry after a slot freed (the early jobs end at 3000 s), and the
    # sixth item's child started when a first child ended (its poll at 3000 s saw its job ACTIVE).
    assert all(3000 <= j.created_at <= 3000 + BUSY_SECONDS + 1 for j in late), [j.created_at for j in late]
    assert all(c.at < 3000 for c in refused)
    # One clock for every child: five children polling every 600 s moved it by 600 s per round, not 3000 s.
    assert aws.clock.seconds < 3600 + 3000 + 2 * POLL_SECONDS
    for job in run_jobs:
        assert job.detected_at == pytest.approx(job.created_at + 3000, abs=POLL_SECONDS + 1)
    # Each job's output: one .out per input file in its own part folder (BatchOutputWriter).
    assert len(outputs.written) == 12 and all(key.endswith(".json.out") for key in outputs.written)
    # Only the parent's states are in the history (a Distributed Map's children are other executions); the
    # children's are kept apart, one busy wait per refusal.
    assert result.states_entered == ["Plan", "segments batch jobs", "Done"]
    children = aws.child_states_entered()
    assert children.count("Copy input?") == children.count("Job done") == 6
    assert children.count("Wait while busy") == len(refused)


def test_a_failed_child_fails_the_map_run(aws: OfflineStepFunctions) -> None:
    records = write_batch_input(aws.client("s3"), files=4)
    aws.personalize.script("segment", JobScript(duration=900, status="CREATE FAILED", failure_reason="bad input"))

    result = aws.run(aws.create_state_machine(DEFINITION), input={"planning": planning_event(records), "solutionVersionArn": VERSION})

    assert result.status == "FAILED"
    assert result.error == "States.ExceedToleratedFailureThreshold"
    assert result.cause == "The specified tolerated failure threshold was exceeded"
    assert result.states_entered == ["Plan", "segments batch jobs"]
