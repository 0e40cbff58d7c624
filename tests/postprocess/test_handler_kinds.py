"""process_file with an output kind, and write_manifest with batch plans, against moto S3."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_src.postprocess import handler as H
from lambda_src.postprocess.flatten import OUTPUT_KINDS
from lambda_src.postprocess.manifest import InvalidEvent, MissingOutputFiles

from .conftest import BUCKET, read_fixture
from .test_handler import OUT, get, process, put

KIND_FOLDERS = {"related_items": "related-items/", "item_affinity": "segments/", "item_attribute_affinity": "segments/"}


@pytest.mark.parametrize("kind", sorted(KIND_FOLDERS))
def test_process_file_writes_each_kind_to_its_folder(aws: Any, lambda_context: Any, kind: str) -> None:
    source = f"sol-{kind}/part-0001/input.json.out"
    put(aws, OUT + source, read_fixture(f"kind_{kind}.out"))
    result = process(aws, lambda_context, source, kind=kind, kms_key_id=aws.kms_key_id)
    name = source.removesuffix(".out")
    assert result["kind"] == kind
    assert result["recommendations_key"] == f"runs/r1/{KIND_FOLDERS[kind]}{name}.csv"
    assert result["errors_key"] == f"runs/r1/errors/{name}.jsonl"
    csv_body = get(aws, result["recommendations_key"])
    assert csv_body == read_fixture(f"kind_{kind}.csv")
    assert csv_body.startswith(OUTPUT_KINDS[kind].header)
    assert get(aws, result["errors_key"]) == read_fixture(f"kind_{kind}.jsonl")
    assert result["items_written"] == csv_body.count(b"\n") - 1
    assert result["recommendations_bytes"] == len(csv_body)


def test_a_recipe_name_is_a_kind_and_the_default_event_is_unchanged(aws: Any, lambda_context: Any) -> None:
    put(aws, OUT + "items.json.out", read_fixture("kind_related_items.out"))
    by_recipe = process(aws, lambda_context, "items.json.out", kind="aws-sims")
    assert by_recipe["kind"] == "related_items"
    assert get(aws, by_recipe["recommendations_key"]) == read_fixture("kind_related_items.csv")
    default = process(aws, lambda_context, "items.json.out")
    assert "kind" not in default and default["recommendations_key"] == "runs/r1/recommendations/items.json.csv"
    assert get(aws, default["recommendations_key"]).startswith(b"user_id,rank,item_id,score\n")


@pytest.mark.parametrize("kind", ["aws-trending-now", "", 7])
def test_an_unknown_kind_is_an_invalid_event_and_writes_nothing(aws: Any, lambda_context: Any, kind: Any) -> None:
    put(aws, OUT + "a.json.out", read_fixture("kind_item_affinity.out"))
    with pytest.raises(InvalidEvent, match="kind"):
        H.process_file({"bucket": BUCKET, "key": OUT + "a.json.out", "kind": kind}, lambda_context)
    keys = [o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys == [OUT + "a.json.out"]


def test_write_manifest_checks_the_outputs_a_batch_plan_expects(aws: Any, lambda_context: Any) -> None:
    """A solution split over three jobs: each job's .out files are where the plan says; one
    missing fails the run naming it, all present succeed."""
    from lambda_src.batch_plan.planning import InputFile, Limits, plan_batch_jobs

    files = [InputFile(f"runs/r1/batch-input/movies/part-{i}.json", 400, 5) for i in range(5)]
    plan = plan_batch_jobs(files, solution="movies", input_bucket=BUCKET, output_bucket=BUCKET,
                           source_prefix="runs/r1/batch-input/movies/", jobs_prefix="runs/r1/batch-jobs/movies/",
                           output_prefix="runs/r1/batch-output/movies/", limits=Limits(max_job_bytes=800))
    assert len(plan.jobs) == 3
    aws.s3.put_object(Bucket=BUCKET, Key=plan.plan_key, Body=json.dumps(plan.document()).encode())
    expected = [key for job in plan.jobs for key in plan.expected_outputs(job)]
    assert len(expected) == 5 and all(key.startswith("runs/r1/batch-output/movies/part-000") for key in expected)
    results = []
    for key in expected[:-1]:
        put(aws, key, read_fixture("user_personalization.out"))
        results.append(H.process_file({"bucket": BUCKET, "key": key}, lambda_context))
    manifest_event = {"bucket": BUCKET, "output_prefix": "runs/r1/", "results": results,
                      "plans": [{"bucket": BUCKET, "key": plan.plan_key}]}
    with pytest.raises(MissingOutputFiles, match=f"1 batch input file\\(s\\) have no .out file, e.g. {expected[-1]}"):
        H.write_manifest(manifest_event, lambda_context)
    put(aws, expected[-1], read_fixture("user_personalization.out"))
    results.append(H.process_file({"bucket": BUCKET, "key": expected[-1]}, lambda_context))
    summary = H.write_manifest({**manifest_event, "results": results}, lambda_context)
    assert summary["status"] == "SUCCEEDED" and summary["output_files"] == 5
    with pytest.raises(InvalidEvent, match="plans"):
        H.write_manifest({**manifest_event, "plans": {"bucket": BUCKET}}, lambda_context)
