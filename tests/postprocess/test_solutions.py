"""Several solutions: list_output_files per solution (kind, batch jobs' failures) and write_manifest with
`solutions` (a section per solution, _SUCCESS only when every one succeeded), against moto S3."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_src.batch_plan.planning import InputFile, Limits, plan_batch_jobs
from lambda_src.postprocess import handler as H
from lambda_src.postprocess.manifest import BatchJobFailed, InvalidEvent
from pipeline_contracts import run_layout
from pipeline_contracts.solutions import OUTPUT_KINDS, batch_input_entry, batch_output_entry

from .conftest import BUCKET, RUN_PREFIX, read_fixture

INPUT_BUCKET = "transformed-test"
BATCH_OUTPUT_URI = f"s3://{BUCKET}/{RUN_PREFIX}{run_layout.BATCH_OUTPUT}"
FIXTURES = {
    "user_recommendations": "user_personalization",
    "related_items": "kind_related_items",
    "item_affinity": "kind_item_affinity",
    "item_attribute_affinity": "kind_item_attribute_affinity",
}
RUN_FACTS = {
    "batch_output_uri": BATCH_OUTPUT_URI,
    "run_id": "r1",
    "execution_name": "exec-1",
    "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:sm:exec-1",
    "started_at": "2026-01-01T00:00:00Z",
    "arns": {"datasetImportJob": "arn:aws:personalize:us-east-1:123456789012:dataset-import-job/i1"},
    "input_bucket": INPUT_BUCKET,
}


def version(name: str) -> str:
    return f"arn:aws:personalize:us-east-1:123456789012:solution/pbp-dev-{name}-0123abcd/v1"


def gate_of(name: str, **extra: Any) -> dict[str, Any]:
    return {"decision": "ACCEPTED", "action": "use_candidate", "usedFallback": False, "reason": "first run",
            "solutionVersionArn": version(name), "candidateVersionArn": version(name),
            "solutionArn": version(name).rsplit("/", 1)[0], "trainingHours": 1.5, **extra}


def keys_under(aws: Any, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def solution_record(aws: Any, ctx: Any, name: str, kind: str, parts: int = 1, *, write_last: bool = True,
                    gate: dict | None | str = "default") -> dict[str, Any]:
    """One succeeded branch of the Solutions Parallel: a plan (`parts` jobs, written where write_manifest
    reads it), Personalize's .out files where the plan expects them, list_output_files and process_file
    as the state machine runs them."""
    source = RUN_PREFIX + batch_input_entry(OUTPUT_KINDS[kind].input_kind, name)
    files = [InputFile(f"{source}part-{n:05d}.json", 100, 10) for n in range(parts)]
    plan = plan_batch_jobs(files, solution=name, input_bucket=INPUT_BUCKET, output_bucket=BUCKET,
                           source_prefix=source, jobs_prefix=f"{RUN_PREFIX}{run_layout.BATCH_JOBS}{name}/",
                           output_prefix=RUN_PREFIX + batch_output_entry(name), limits=Limits(max_job_files=1),
                           job_type=OUTPUT_KINDS[kind].job_type, job_name=lambda part: f"pbp-dev-batch-{name}-r1-{part:04d}")
    assert len(plan.jobs) == parts
    aws.s3.put_object(Bucket=INPUT_BUCKET, Key=plan.plan_key, Body=json.dumps(plan.document()).encode())
    expected = [key for job in plan.jobs for key in plan.expected_outputs(job)]
    for key in expected if write_last else expected[:-1]:
        aws.s3.put_object(Bucket=BUCKET, Key=key, Body=read_fixture(f"{FIXTURES[kind]}.out"))
    jobs = [{"part": item["part"], "jobName": item["job_name"], "status": "ACTIVE",
             "arn": f"arn:aws:personalize:us-east-1:123456789012:{plan.job_type.replace('_', '-')}-job/{item['job_name']}"}
            for item in plan.job_items()]
    listed = H.list_output_files({"batch_output_uri": f"{BATCH_OUTPUT_URI}{name}/", "kind": kind, "jobs": jobs}, ctx)
    processed = [H.process_file(item, ctx) for item in listed["files"]]
    state = plan.to_state()
    state.pop("jobs")
    return {"name": name, "kind": kind, "jobType": plan.job_type, "status": "SUCCEEDED", "train": {"Arn": version(name)},
            "gate": gate_of(name) if gate == "default" else gate, "plan": state, "batchJobs": jobs, "processedFiles": processed}


def failed_record(name: str, kind: str, error: str = "TrainingFailed", cause: str = "solution version CREATE FAILED: out of memory") -> dict:
    return {"name": name, "kind": kind, "jobType": OUTPUT_KINDS[kind].job_type, "status": "FAILED",  # type: ignore[index]
            "error": {"Error": error, "Cause": cause}}


@pytest.fixture
def buckets(aws: Any) -> Any:
    aws.s3.create_bucket(Bucket=INPUT_BUCKET)
    return aws


# ----------------------------------------------------------------------------------------------
# list_output_files


def test_list_output_files_lists_one_solutions_parts_with_its_kind(buckets: Any, lambda_context: Any) -> None:
    for key in ("users/part-0002/b.json.out", "users/part-0001/a.json.out", "users/part-0001/_SUCCESS",
                "usersx/part-0001/c.json.out", "similar/part-0001/d.json.out"):
        buckets.s3.put_object(Bucket=BUCKET, Key=f"{RUN_PREFIX}batch-output/{key}", Body=b"")
    jobs = [{"part": 1, "jobName": "j-0001", "arn": "arn:1", "status": "ACTIVE"}]
    result = H.list_output_files({"batch_output_uri": f"{BATCH_OUTPUT_URI}users/", "kind": "related_items", "jobs": jobs},
                                 lambda_context)
    assert result == {"count": 2, "files": [
        {"bucket": BUCKET, "key": f"{RUN_PREFIX}batch-output/users/part-0001/a.json.out", "output_prefix": RUN_PREFIX,
         "size": 0, "kind": "related_items"},
        {"bucket": BUCKET, "key": f"{RUN_PREFIX}batch-output/users/part-0002/b.json.out", "output_prefix": RUN_PREFIX,
         "size": 0, "kind": "related_items"},
    ]}
    # A recipe name is a kind too; the run-wide folder still lists everything.
    by_recipe = H.list_output_files({"batch_output_uri": f"{BATCH_OUTPUT_URI}users", "kind": "aws-sims"}, lambda_context)
    assert by_recipe == result
    assert H.list_output_files({"batch_output_uri": BATCH_OUTPUT_URI}, lambda_context)["count"] == 4


def test_a_batch_job_not_active_fails_the_listing_with_every_cause(buckets: Any, lambda_context: Any) -> None:
    jobs = [
        {"part": 1, "jobName": "pbp-dev-batch-users-r1-0001", "arn": "arn:1", "status": "ACTIVE"},
        {"part": 2, "jobName": "pbp-dev-batch-users-r1-0002", "status": "FAILED", "error": "BatchJobFailed",
         "cause": "Input file s3://t/x.json is not valid JSON lines"},
        {"part": 3, "jobName": "pbp-dev-batch-users-r1-0003", "status": "FAILED", "error": "States.Timeout"},
    ]
    with pytest.raises(BatchJobFailed) as raised:
        H.list_output_files({"batch_output_uri": f"{BATCH_OUTPUT_URI}users/", "kind": "user_recommendations", "jobs": jobs},
                            lambda_context)
    assert str(raised.value) == (
        "users: part 2 (pbp-dev-batch-users-r1-0002) FAILED: Input file s3://t/x.json is not valid JSON lines; "
        "users: part 3 (pbp-dev-batch-users-r1-0003) FAILED: States.Timeout"
    )
    assert type(raised.value).__name__ == "BatchJobFailed"  # what the state machine's Catch matches
    # Without a solution folder the run prefix names the jobs.
    with pytest.raises(BatchJobFailed, match=r"^runs/r1/batch-output/: part 2 \(pbp-dev-batch-users-r1-0002\) FAILED"):
        H.list_output_files({"batch_output_uri": BATCH_OUTPUT_URI, "jobs": jobs[:2]}, lambda_context)


@pytest.mark.parametrize("bad", [
    {"jobs": {"part": 1}}, {"jobs": ["ACTIVE"]}, {"kind": "aws-trending-now"},
    {"batch_output_uri": f"{BATCH_OUTPUT_URI}users/part-0001/"}, {"batch_output_uri": f"s3://{BUCKET}/{RUN_PREFIX}other/"},
])
def test_list_output_files_refuses_a_malformed_event(buckets: Any, lambda_context: Any, bad: dict) -> None:
    with pytest.raises(InvalidEvent):
        H.list_output_files({"batch_output_uri": f"{BATCH_OUTPUT_URI}users/", **bad}, lambda_context)


# ----------------------------------------------------------------------------------------------
# write_manifest with solutions


def test_three_solutions_of_different_kinds_give_three_sections_and_success(buckets: Any, lambda_context: Any) -> None:
    records = [
        solution_record(buckets, lambda_context, "users", "user_recommendations", parts=2),
        solution_record(buckets, lambda_context, "similar", "related_items", gate=None),
        solution_record(buckets, lambda_context, "affinity", "item_affinity"),
    ]
    buckets.s3.put_object(Bucket=BUCKET, Key=RUN_PREFIX + "_SUCCESS", Body=b"stale")
    accounting = {"trainingHours": 3.0, "glue": {"dpuSeconds": 120, "source": "DPUSeconds", "executionClass": "STANDARD"}}
    out = H.write_manifest({**RUN_FACTS, "solutions": records, "accounting": accounting}, lambda_context)

    manifest = json.loads(buckets.s3.get_object(Bucket=BUCKET, Key=RUN_PREFIX + "_manifest.json")["Body"].read())
    assert manifest["status"] == "SUCCEEDED" and manifest["failure"] is None and manifest["failed_solutions"] == []
    assert list(manifest["solutions"]) == ["users", "similar", "affinity"]  # input order
    assert buckets.s3.get_object(Bucket=BUCKET, Key=RUN_PREFIX + "_SUCCESS")["Body"].read() == b""
    for record in records:
        section = manifest["solutions"][record["name"]]
        files = record["processedFiles"]
        assert section["status"] == "SUCCEEDED" and section["failure"] is None
        assert (section["kind"], section["job_type"]) == (record["kind"], record["jobType"])
        assert section["plan_key"] == f"{RUN_PREFIX}batch-jobs/{record['name']}/_plan.json"
        assert [(j["part"], j["arn"], j["status"]) for j in section["batch_jobs"]] == [
            (j["part"], j["arn"], "ACTIVE") for j in record["batchJobs"]]
        folder = f"{RUN_PREFIX}{OUTPUT_KINDS[record['kind']].output_folder}{record['name']}/"
        outputs = section["outputs"]
        assert outputs["folder"] == folder and all(f["recommendations"].startswith(folder) for f in outputs["files"])
        assert (outputs["lines"], outputs["rows"], outputs["errors"]) == (
            sum(f["lines"] for f in files), sum(f["items_written"] for f in files), sum(f["errored_lines"] for f in files))
        assert "existing_objects" not in section
    # The split solution's two parts are merged in its section.
    users = manifest["solutions"]["users"]
    assert [f["source"].split("/")[4] for f in users["outputs"]["files"]] == ["part-0001", "part-0002"]
    assert users["solution_version_arn"] == version("users") and users["model"]["decision"] == "ACCEPTED"
    assert users["training_hours"] == 1.5
    assert manifest["solutions"]["similar"]["model"] is None
    assert manifest["lines"] == sum(f["lines"] for r in records for f in r["processedFiles"])
    assert len(manifest["output_files"]) == 4 and manifest["training_hours"] == 3.0

    assert out["status"] == "SUCCEEDED" and out["failed_solutions"] == []
    assert out["success_marker"] == f"s3://{BUCKET}/{RUN_PREFIX}_SUCCESS"
    # No modes in this event (a machine without the Choose modes stage): each training mode is null.
    assert out["solutions"] == [{"name": "users", "status": "SUCCEEDED", "gate": records[0]["gate"], "training": None},
                                {"name": "similar", "status": "SUCCEEDED", "gate": None, "training": None},
                                {"name": "affinity", "status": "SUCCEEDED", "gate": records[2]["gate"],
                                 "training": None}]
    assert out["subject"] == "Personalize pipeline run succeeded"
    assert out["message"].startswith("Run r1: 3 solution(s) succeeded")
    assert "- similar (related_items): " in out["message"] and f"{RUN_PREFIX}segments/affinity/" in out["message"]
    assert out["errored_lines"] == manifest["errored_lines"] and out["model_decision"] is None  # one has no gate


def test_one_failed_solution_fails_the_run_and_lists_what_it_left(buckets: Any, lambda_context: Any) -> None:
    records = [
        solution_record(buckets, lambda_context, "users", "user_recommendations"),
        failed_record("queries", "item_attribute_affinity"),
        solution_record(buckets, lambda_context, "similar", "related_items"),
    ]
    # What the failed solution wrote before it failed (e.g. one job of two), and another solution's file.
    left = [f"{RUN_PREFIX}batch-output/queries/part-0001/queries.json.out", f"{RUN_PREFIX}segments/queries/part-0001/queries.json.csv",
            f"{RUN_PREFIX}errors/queries/part-0001/queries.json.jsonl"]
    for key in left + [f"{RUN_PREFIX}segments/queriesx/a.csv"]:
        buckets.s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    buckets.s3.put_object(Bucket=BUCKET, Key=RUN_PREFIX + "_SUCCESS", Body=b"stale")

    out = H.write_manifest({**RUN_FACTS, "solutions": records}, lambda_context)

    assert keys_under(buckets, RUN_PREFIX + "_SUCCESS") == []  # the stale marker is gone, no new one
    manifest = json.loads(buckets.s3.get_object(Bucket=BUCKET, Key=RUN_PREFIX + "_manifest.json")["Body"].read())
    assert manifest["status"] == "FAILED" and manifest["failed_solutions"] == ["queries"]
    assert [s["status"] for s in manifest["solutions"].values()] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    queries = manifest["solutions"]["queries"]
    assert queries["failure"] == {"error": "TrainingFailed", "cause": "solution version CREATE FAILED: out of memory"}
    assert queries["existing_objects"] == {
        "folders": [f"{RUN_PREFIX}batch-output/queries/", f"{RUN_PREFIX}segments/queries/", f"{RUN_PREFIX}errors/queries/"],
        "count": 3, "keys": sorted(left), "truncated": False}
    cause = "1 of 3 solution(s) failed: queries: solution version CREATE FAILED: out of memory (TrainingFailed)"
    assert manifest["failure"] == {"error": "SolutionsFailed", "cause": cause}
    assert out["status"] == "FAILED" and out["failed_solutions"] == ["queries"] and out["success_marker"] is None
    assert [(s["name"], s["status"]) for s in out["solutions"]] == [("users", "SUCCEEDED"), ("queries", "FAILED"), ("similar", "SUCCEEDED")]
    assert out["solutions"][1]["gate"] is None and out["solutions"][0]["gate"] == records[0]["gate"]
    assert out["message"].startswith(f"Run r1 FAILED: {cause}.")
    assert "- queries (item_attribute_affinity): FAILED, TrainingFailed" in out["message"]
    assert out["subject"] == "Personalize pipeline run failed: queries"


def test_a_solution_missing_an_expected_output_or_with_a_failed_job_fails_by_itself(buckets: Any, lambda_context: Any) -> None:
    missing = solution_record(buckets, lambda_context, "users", "user_recommendations", parts=2, write_last=False)
    failed_job = solution_record(buckets, lambda_context, "similar", "related_items")
    failed_job["batchJobs"][0] = {**failed_job["batchJobs"][0], "status": "FAILED", "cause": "no input"}
    fine = solution_record(buckets, lambda_context, "affinity", "item_affinity")
    out = H.write_manifest({**RUN_FACTS, "solutions": [missing, failed_job, fine]}, lambda_context)
    manifest = json.loads(buckets.s3.get_object(Bucket=BUCKET, Key=RUN_PREFIX + "_manifest.json")["Body"].read())
    assert out["failed_solutions"] == ["users", "similar"] and out["status"] == "FAILED"
    users, similar = manifest["solutions"]["users"]["failure"], manifest["solutions"]["similar"]["failure"]
    assert users["error"] == "MissingOutputFiles" and f"{RUN_PREFIX}batch-output/users/part-0002/part-00001.json.out" in users["cause"]
    assert users["cause"].startswith("users: 1 batch input file(s) have no .out file")
    assert similar == {"error": "BatchJobFailed", "cause": "similar: part 1 (pbp-dev-batch-similar-r1-0001) FAILED: no input"}
    assert manifest["solutions"]["users"]["existing_objects"]["count"] >= 2  # its part-0001 .out, csv and errors
    assert manifest["solutions"]["affinity"]["status"] == "SUCCEEDED"
    assert keys_under(buckets, RUN_PREFIX + "_SUCCESS") == []
    assert "users: 1 batch input file(s)" in out["message"] and "similar: part 1" in out["message"]


def test_the_error_ratio_is_held_per_solution(buckets: Any, lambda_context: Any) -> None:
    records = [solution_record(buckets, lambda_context, "users", "user_recommendations"),
               solution_record(buckets, lambda_context, "similar", "related_items")]
    ratios = {r["name"]: sum(f["errored_lines"] for f in r["processedFiles"]) / sum(f["lines"] for f in r["processedFiles"])
              for r in records}
    (worse, worst), (_, best) = sorted(ratios.items(), key=lambda item: -item[1])
    assert worst > best > 0
    out = H.write_manifest({**RUN_FACTS, "solutions": records, "max_error_ratio": (worst + best) / 2}, lambda_context)
    assert out["failed_solutions"] == [worse] and "TooManyErroredLines" in out["message"]
    out = H.write_manifest({**RUN_FACTS, "solutions": records, "max_error_ratio": worst}, lambda_context)
    assert out["status"] == "SUCCEEDED" and keys_under(buckets, RUN_PREFIX + "_SUCCESS") == [RUN_PREFIX + "_SUCCESS"]


def test_a_fallback_solution_says_so_in_the_subject(buckets: Any, lambda_context: Any) -> None:
    gate = gate_of("users", decision="REJECTED", action="use_last_accepted", usedFallback=True)
    records = [solution_record(buckets, lambda_context, "users", "user_recommendations", gate=gate)]
    out = H.write_manifest({**RUN_FACTS, "solutions": records}, lambda_context)
    assert out["status"] == "SUCCEEDED" and out["used_fallback"] is True and out["model_decision"] == "REJECTED"
    assert out["subject"] == "Personalize pipeline run succeeded with the last accepted model (candidate rejected)"
    assert "model REJECTED (FALLBACK to the last accepted version)" in out["message"]


@pytest.mark.parametrize("bad", [
    [], "users", [{"name": "users", "kind": "user_recommendations", "status": "RUNNING"}],
    [{"name": "a/b", "kind": "user_recommendations", "status": "FAILED"}],
    [{"name": "users", "kind": "aws-trending-now", "status": "SUCCEEDED"}],
    [{"name": "users", "status": "FAILED"}, {"name": "users", "status": "FAILED"}],
    [{"name": "users", "kind": "user_recommendations", "status": "SUCCEEDED", "processedFiles": [{"lines": 1}]}],
    [{"name": "users", "kind": "user_recommendations", "status": "SUCCEEDED", "batchJobs": {"part": 1}}],
])
def test_write_manifest_refuses_malformed_solutions_and_writes_nothing(buckets: Any, lambda_context: Any, bad: Any) -> None:
    with pytest.raises(InvalidEvent):
        H.write_manifest({**RUN_FACTS, "solutions": bad}, lambda_context)
    assert keys_under(buckets, RUN_PREFIX) == []
