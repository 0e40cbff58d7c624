"""Handlers against moto S3: outputs, SSE-KMS, counts, manifest, _SUCCESS ordering, failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ResponseStreamingError

from lambda_src.postprocess import handler as H
from lambda_src.postprocess.manifest import (
    AllLinesErrored,
    InvalidEvent,
    MissingOutputFiles,
    NoOutputLines,
    ProcessingTimeExceeded,
    TooManyErroredLines,
)
from lambda_src.postprocess.s3io import MIN_PART_SIZE, MultipartWriter, ObjectChunks
from pipeline_contracts import metrics

from .conftest import BUCKET, RUN_PREFIX, read_fixture

ROOT = Path(__file__).resolve().parents[2]
OUT = RUN_PREFIX + "batch-output/"


def record_calls(aws: Any) -> list[tuple[str, dict]]:
    """(operation, params) of every S3 call the handler's client makes, in order."""
    calls: list[tuple[str, dict]] = []
    client = H.s3_client()

    def hook(params: dict, model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    client.meta.events.register("before-parameter-build.s3.*", hook)
    return calls


def put(aws: Any, key: str, body: bytes) -> None:
    aws.s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def get(aws: Any, key: str) -> bytes:
    return aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def process(aws: Any, ctx: Any, name: str, **extra: Any) -> dict:
    return H.process_file({"bucket": BUCKET, "key": OUT + name, **extra}, ctx)


# ----------------------------------------------------------------------------------------------
# process_file


def test_process_file_writes_outputs_with_kms_and_returns_counts(aws: Any, lambda_context: Any, capsys: Any) -> None:
    put(aws, OUT + "users-0.json.out", read_fixture("user_personalization.out"))
    calls = record_calls(aws)
    result = process(aws, lambda_context, "users-0.json.out", kms_key_id=aws.kms_key_id)

    assert result == {
        "skipped": False,
        "source_bucket": BUCKET,
        "source_key": OUT + "users-0.json.out",
        "source_etag": result["source_etag"],
        "source_bytes": len(read_fixture("user_personalization.out")),
        "output_bucket": BUCKET,
        "recommendations_key": "runs/r1/recommendations/users-0.json.csv",
        "errors_key": "runs/r1/errors/users-0.json.jsonl",
        "lines": 4,
        "users_with_recommendations": 3,
        "items_written": 6,
        "errored_lines": 1,
        "malformed_lines": 0,
        "blank_lines": 0,
        "fast_path_lines": 3,
        "items_per_user": {"1": 1, "2": 1, "3": 1},
        "recommendations_bytes": len(read_fixture("user_personalization.csv")),
        "errors_bytes": len(read_fixture("user_personalization.jsonl")),
        "seconds": result["seconds"],
    }
    assert result["source_etag"].startswith('"')
    assert get(aws, result["recommendations_key"]) == read_fixture("user_personalization.csv")
    assert get(aws, result["errors_key"]) == read_fixture("user_personalization.jsonl")
    # SSE-KMS requested on every write, with the key; stored so by S3.
    writes = [params for op, params in calls if op in ("PutObject", "CreateMultipartUpload")]
    assert len(writes) == 2
    for params in writes:
        assert params["ServerSideEncryption"] == "aws:kms" and params["SSEKMSKeyId"] == aws.kms_key_id
    head = aws.s3.head_object(Bucket=BUCKET, Key=result["recommendations_key"])
    assert head["ServerSideEncryption"] == "aws:kms" and aws.kms_key_id in head["SSEKMSKeyId"]
    assert head["ContentType"].startswith("text/csv")
    # Custom metrics as CloudWatch EMF on stdout.
    # Under the names, namespace and dimension the dashboard graphs (tests/test_contracts.py checks its side).
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf and {name: emf[-1][name] for name in metrics.POSTPROCESS_METRICS} == {
        metrics.LINES_PROCESSED: [4.0],
        metrics.ERRORED_LINES: [1.0],
    }
    (directive,) = emf[-1]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == metrics.NAMESPACE
    assert {m["Name"] for m in directive["Metrics"]} == set(metrics.POSTPROCESS_METRICS)


def test_kms_key_from_environment_and_none_without(aws: Any, lambda_context: Any, monkeypatch: Any) -> None:
    put(aws, OUT + "a.out", read_fixture("related_items.out"))
    calls = record_calls(aws)
    monkeypatch.setenv("OUTPUT_KMS_KEY_ID", aws.kms_key_id)
    process(aws, lambda_context, "a.out")
    monkeypatch.delenv("OUTPUT_KMS_KEY_ID")
    process(aws, lambda_context, "a.out")
    writes = [params for op, params in calls if op == "PutObject"]
    assert [w.get("SSEKMSKeyId") for w in writes] == [aws.kms_key_id] * 2 + [None] * 2
    assert all("ServerSideEncryption" not in w for w in writes[2:])  # bucket default applies


def test_process_file_empty_file_and_outputs_under_subfolders(aws: Any, lambda_context: Any) -> None:
    put(aws, OUT + "part/empty.json.out", b"")
    result = process(aws, lambda_context, "part/empty.json.out")
    assert result["recommendations_key"] == "runs/r1/recommendations/part/empty.json.csv"
    assert get(aws, result["recommendations_key"]) == b"user_id,rank,item_id,score\n"
    assert get(aws, result["errors_key"]) == b""
    assert (result["lines"], result["errored_lines"]) == (0, 0)


def test_process_file_skips_non_out_keys_and_rejects_bad_events(aws: Any, lambda_context: Any) -> None:
    assert process(aws, lambda_context, "_SUCCESS") == {"skipped": True, "source_bucket": BUCKET, "source_key": OUT + "_SUCCESS"}
    with pytest.raises(InvalidEvent):
        H.process_file({"key": OUT + "a.out"}, lambda_context)
    with pytest.raises(InvalidEvent):
        H.process_file({"bucket": BUCKET, "key": "elsewhere/a.out"}, lambda_context)
    put(aws, "elsewhere/a.out", read_fixture("ranking.out"))
    result = H.process_file({"bucket": BUCKET, "Key": "elsewhere/a.out", "output_prefix": "runs/x"}, lambda_context)
    assert result["recommendations_key"] == "runs/x/recommendations/a.csv"
    assert get(aws, result["recommendations_key"]) == read_fixture("ranking.csv")


def test_process_file_missing_object_fails_and_leaves_no_output(aws: Any, lambda_context: Any) -> None:
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        process(aws, lambda_context, "missing.out")
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/r1/recommendations/")


def test_process_file_stops_cleanly_before_the_lambda_timeout(aws: Any, lambda_context: Any) -> None:
    put(aws, OUT + "a.out", read_fixture("user_personalization.out"))
    lambda_context.get_remaining_time_in_millis = lambda: 19_000
    with pytest.raises(ProcessingTimeExceeded, match="split the batch input"):
        process(aws, lambda_context, "a.out")
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/r1/recommendations/")
    lambda_context.get_remaining_time_in_millis = lambda: 21_000
    assert process(aws, lambda_context, "a.out")["lines"] == 4


def test_large_output_goes_through_multipart_upload(aws: Any, lambda_context: Any) -> None:
    line = (
        b'{"input": {"userId": "user-%d"}, "output": {"recommendedItems": ['
        + b", ".join(b'"item-%d"' % i for i in range(25))
        + b'], "scores": ['
        + b", ".join(b"0.0%05d" % (99999 - i) for i in range(25))
        + b']}, "error": null}\n'
    )
    body = b"".join(line % u for u in range(9_000))  # ~6.5 MB of CSV: two parts of 5 MiB (the minimum)
    put(aws, OUT + "big.out", body)
    calls = record_calls(aws)
    original = MultipartWriter.__init__

    def small_parts(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **{**kwargs, "part_size": MIN_PART_SIZE})

    try:
        MultipartWriter.__init__ = small_parts  # type: ignore[method-assign]
        result = process(aws, lambda_context, "big.out", kms_key_id=aws.kms_key_id)
    finally:
        MultipartWriter.__init__ = original  # type: ignore[method-assign]
    ops = [op for op, _ in calls]
    assert ops.count("UploadPart") >= 2 and "CompleteMultipartUpload" in ops
    create = next(params for op, params in calls if op == "CreateMultipartUpload")
    assert create["SSEKMSKeyId"] == aws.kms_key_id
    csv_bytes = get(aws, result["recommendations_key"])
    assert len(csv_bytes) == result["recommendations_bytes"] > MIN_PART_SIZE
    assert csv_bytes.count(b"\n") == 1 + 25 * 9_000
    assert csv_bytes.startswith(b"user_id,rank,item_id,score\nuser-0,1,item-0,0.099999\n")


def test_reader_resumes_a_broken_stream_with_a_ranged_get(aws: Any) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    put(aws, "x.bin", data)
    client = H.s3_client()
    calls = record_calls(aws)

    class Flaky:
        def __init__(self, body: Any) -> None:
            self.body, self.reads = body, 0

        def read(self, amt: int) -> bytes:
            self.reads += 1
            if self.reads == 3:
                raise ResponseStreamingError(error="connection reset")
            return self.body.read(amt)

        def close(self) -> None:
            self.body.close()

    first = client.get_object
    state = {"n": 0}

    def get_object(**kw: Any) -> dict:
        response = first(**kw)
        state["n"] += 1
        if state["n"] == 1:
            response["Body"] = Flaky(response["Body"])
        return response

    client.get_object = get_object  # type: ignore[method-assign]
    try:
        with ObjectChunks(client, BUCKET, "x.bin", chunk_size=100_000) as source:
            assert b"".join(source) == data
    finally:
        del client.get_object
    assert source.resumes == 1
    ranged = [params for op, params in calls if op == "GetObject" and "Range" in params]
    assert ranged == [{"Bucket": BUCKET, "Key": "x.bin", "Range": "bytes=200000-", "IfMatch": source.etag}]


def test_writer_aborts_the_multipart_upload_on_error(aws: Any) -> None:
    client = H.s3_client()
    with pytest.raises(RuntimeError, match="boom"):
        with MultipartWriter(client, BUCKET, "out/x.csv", part_size=MIN_PART_SIZE) as out:
            out.write(b"a" * (MIN_PART_SIZE + 1))
            raise RuntimeError("boom")
    assert aws.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")


# ----------------------------------------------------------------------------------------------
# list_output_files


def test_list_output_files_lists_only_out_files(aws: Any, lambda_context: Any) -> None:
    for name in ("b.json.out", "a.json.out", "_SUCCESS", "notes.txt"):
        put(aws, OUT + name, b"")
    result = H.list_output_files({"batch_output_uri": f"s3://{BUCKET}/{OUT}"}, lambda_context)
    assert result == {
        "count": 2,
        "files": [
            {"bucket": BUCKET, "key": OUT + "a.json.out", "output_prefix": RUN_PREFIX, "size": 0},
            {"bucket": BUCKET, "key": OUT + "b.json.out", "output_prefix": RUN_PREFIX, "size": 0},
        ],
    }
    assert H.list_output_files({"bucket": BUCKET, "output_prefix": "runs/r1"}, lambda_context) == result
    with pytest.raises(InvalidEvent):
        H.list_output_files({"batch_output_uri": f"s3://{BUCKET}/runs/r1/other/"}, lambda_context)


# ----------------------------------------------------------------------------------------------
# write_manifest


SOLUTION = "users"


def run_facts(**extra: Any) -> dict:
    """write_manifest's event as the state machine sends it (see test_solutions.py for several solutions)."""
    return {
        "batch_output_uri": f"s3://{BUCKET}/{OUT}",
        "run_id": "r1",
        "execution_name": "exec-1",
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:sm:exec-1",
        "arns": {"datasetImportJob": "arn:aws:personalize:us-east-1:123456789012:dataset-import-job/i1"},
        "started_at": "2026-01-01T00:00:00Z",
        "ended_at": "2026-01-01T00:42:05.5Z",
        **extra,
    }


def solution(results: Any) -> dict:
    """The one solution's record as its Solutions branch hands it over (no plan: the listed .out files
    of its batch-output folder are checked against the processed ones)."""
    return {"name": SOLUTION, "kind": "user_recommendations", "jobType": "batch_inference", "status": "SUCCEEDED",
            "processedFiles": results}


def processed(aws: Any, ctx: Any, files: dict[str, str]) -> list[dict]:
    for name, fixture in files.items():
        put(aws, f"{OUT}{SOLUTION}/{name}", read_fixture(f"{fixture}.out"))
    return [process(aws, ctx, f"{SOLUTION}/{name}") for name in files]


def test_write_manifest_contents_then_success_marker(aws: Any, lambda_context: Any) -> None:
    results = processed(aws, lambda_context, {"u0.json.out": "user_personalization", "u1.json.out": "related_items"})
    put(aws, RUN_PREFIX + "_SUCCESS", b"stale")
    calls = record_calls(aws)
    summary = H.write_manifest(run_facts(solutions=[solution(results)], kms_key_id=aws.kms_key_id), lambda_context)

    manifest = json.loads(get(aws, RUN_PREFIX + "_manifest.json"))
    assert manifest["status"] == "SUCCEEDED" and manifest["failure"] is None
    assert manifest["run_id"] == "r1" and manifest["execution_name"] == "exec-1"
    assert manifest["arns"]["datasetImportJob"].endswith("dataset-import-job/i1")
    assert (manifest["lines"], manifest["users_with_recommendations"]) == (8, 6)
    assert (manifest["items_written"], manifest["errored_lines"], manifest["malformed_lines"]) == (11, 1, 0)
    assert manifest["items_per_user"] == {
        "min": 1, "max": 3, "avg": 1.833, "median": 2, "histogram": {"0": 1, "1": 2, "2": 3, "3": 1},
    }
    assert [f["recommendations"] for f in manifest["output_files"]] == [
        "runs/r1/recommendations/users/u0.json.csv",
        "runs/r1/recommendations/users/u1.json.csv",
    ]
    assert manifest["output_files"][0]["errors"] == "runs/r1/errors/users/u0.json.jsonl"
    assert manifest["timings"]["started_at"] == "2026-01-01T00:00:00.000Z"
    assert manifest["timings"]["duration_seconds"] == 2525.5
    # Order: stale marker removed, manifest written, then the (empty) marker.
    writes = [(op, params["Key"]) for op, params in calls if op in ("PutObject", "DeleteObject")]
    assert writes == [
        ("DeleteObject", RUN_PREFIX + "_SUCCESS"),
        ("PutObject", RUN_PREFIX + "_manifest.json"),
        ("PutObject", RUN_PREFIX + "_SUCCESS"),
    ]
    assert all(p["SSEKMSKeyId"] == aws.kms_key_id for op, p in calls if op == "PutObject")
    assert get(aws, RUN_PREFIX + "_SUCCESS") == b""
    assert summary["status"] == "SUCCEEDED"
    assert summary["manifest"] == f"s3://{BUCKET}/{RUN_PREFIX}_manifest.json"
    assert summary["success_marker"] == f"s3://{BUCKET}/{RUN_PREFIX}_SUCCESS"
    assert (summary["users_with_recommendations"], summary["errored_lines"], summary["output_files"]) == (6, 1, 2)
    assert summary["message"].startswith("Run r1: 1 solution(s) succeeded: 8 lines, 11 rows, 1 errored lines")
    assert "42m06s" in summary["message"] or "42m05s" in summary["message"]


def assert_failed_run(aws: Any, summary: dict, error: type, match: str) -> None:
    """The solution's section failed with `error` (its cause holding `match`), so the run did: no _SUCCESS."""
    manifest = json.loads(get(aws, RUN_PREFIX + "_manifest.json"))
    assert manifest["status"] == "FAILED" and summary["status"] == "FAILED"
    assert manifest["solutions"][SOLUTION]["failure"]["error"] == error.__name__
    assert match in manifest["solutions"][SOLUTION]["failure"]["cause"]
    assert summary["failed_solutions"] == [SOLUTION] and summary["success_marker"] is None
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=RUN_PREFIX + "_SUCCESS")


def test_all_lines_errored_fails_the_run(aws: Any, lambda_context: Any) -> None:
    results = processed(aws, lambda_context, {"m.out": "malformed"})
    errors = results[0]
    # The fixture has one good line; make every line an error.
    put(aws, f"{OUT}{SOLUTION}/m.out", b'{"input": {"userId": "u"}, "error": "x"}\nnot json\n')
    results = [process(aws, lambda_context, f"{SOLUTION}/m.out")]
    assert errors["lines"] == 17
    put(aws, RUN_PREFIX + "_SUCCESS", b"")  # from an earlier, successful attempt
    summary = H.write_manifest(run_facts(solutions=[solution(results)]), lambda_context)
    assert_failed_run(aws, summary, AllLinesErrored, "all 2 line")
    assert_failed_run(aws, summary, AllLinesErrored, "1 malformed")


def test_no_out_files_fails_the_run(aws: Any, lambda_context: Any) -> None:
    summary = H.write_manifest(run_facts(solutions=[solution([])]), lambda_context)
    assert_failed_run(aws, summary, MissingOutputFiles, "no .out file")


def test_an_out_file_not_processed_fails_the_run(aws: Any, lambda_context: Any) -> None:
    results = processed(aws, lambda_context, {"u0.json.out": "user_personalization"})
    # A .out file the Map did not process.
    put(aws, f"{OUT}{SOLUTION}/u1.json.out", read_fixture("user_personalization.out"))
    summary = H.write_manifest(run_facts(solutions=[solution(results)]), lambda_context)
    assert_failed_run(aws, summary, MissingOutputFiles, "not processed")
    # All processed: success, and the marker appears.
    results.append(process(aws, lambda_context, f"{SOLUTION}/u1.json.out"))
    H.write_manifest(run_facts(solutions=[solution(results)]), lambda_context)
    assert get(aws, RUN_PREFIX + "_SUCCESS") == b""


def test_other_failures(aws: Any, lambda_context: Any) -> None:
    results = processed(aws, lambda_context, {"u0.json.out": "user_personalization"})
    summary = H.write_manifest(run_facts(solutions=[solution(results)], max_error_ratio=0.2), lambda_context)
    assert_failed_run(aws, summary, TooManyErroredLines, "25.00%")
    assert H.write_manifest(run_facts(solutions=[solution(results)], max_error_ratio=0.25), lambda_context)["status"] == "SUCCEEDED"
    empty = processed(aws, lambda_context, {"u0.json.out": "empty"})
    summary = H.write_manifest(run_facts(solutions=[solution(empty)]), lambda_context)
    assert_failed_run(aws, summary, NoOutputLines, "hold no line")
    with pytest.raises(InvalidEvent, match="solutions"):  # the state machine always sends every solution's record
        H.write_manifest(run_facts(results=results), lambda_context)
    with pytest.raises(InvalidEvent):
        H.write_manifest(run_facts(solutions=[solution([{"lines": 1}])]), lambda_context)
    with pytest.raises(InvalidEvent, match="ISO-8601"):
        H.write_manifest(run_facts(solutions=[solution(results)], started_at="yesterday"), lambda_context)
    with pytest.raises(InvalidEvent, match="input_users"):
        H.write_manifest(run_facts(solutions=[solution(results)], input_users="many"), lambda_context)
    assert H.write_manifest(run_facts(solutions=[solution(results)], input_users="4"), lambda_context)["input_users"] == 4
