"""Lambda handlers of the post-processing steps (thin: the work is in `flatten`, `s3io`, `manifest`).

Handler strings (asset root `lambda_src/`): `postprocess.handler.process_file`,
`postprocess.handler.write_manifest`, `postprocess.handler.list_output_files`.
Runtime: Python 3.13 with the AWS-managed Powertools layer; standard library + boto3 only
otherwise. Suggested memory 1769 MB (one full vCPU), timeout 15 min for `process_file`.

Environment:
    OUTPUT_KMS_KEY_ID             KMS key (id or ARN) for SSE-KMS of every object written; an
                                  event's `kms_key_id` wins. Without either, no SSE header is
                                  sent and the bucket's default encryption applies (sending
                                  `aws:kms` without a key id would pick the aws/s3 key instead).
    POWERTOOLS_SERVICE_NAME       Logger/Metrics `service` dimension.
    POWERTOOLS_METRICS_NAMESPACE  defaults to "PersonalizeBatchPipeline".

Run location: every event names the curated bucket and the run prefix, either as
`"bucket"` + `"output_prefix"` (`"runs/<run_id>/"`) or as `"batch_output_uri"`
(`"s3://<bucket>/runs/<run_id>/batch-output/"`, the state machine's `$.run.batchOutputUri`).

list_output_files (once per solution after its batch jobs: feeds its process_file Map)
    in:  {"batch_output_uri": "s3://curated/runs/r1/batch-output/users/",   # one solution's folder, or
                                                                           # .../batch-output/ (every file)
          "kind": "user_recommendations",                                  # optional: passed into each file event
          "jobs": [{"part": 1, "jobName": "...", "arn": "...", "status": "ACTIVE"},   # optional: the batch-job
                   {"part": 2, "jobName": "...", "status": "FAILED", "error": "...", "cause": "..."}]}
                                                          # children's outputs
         or {"bucket": "curated", "output_prefix": "runs/r1/"} (every file under batch-output/)
    out: {"count": 2, "files": [{"bucket": "curated", "key": "runs/r1/batch-output/users/part-0001/a.json.out",
                                 "output_prefix": "runs/r1/", "size": 1234, "kind": "user_recommendations"}, ...]}
    Lists the `.out` files at any depth under the folder (part-NNNN/ per job); each element of `files`
    is a ready `process_file` event (ItemsPath "$.files"; "kind" only when the event names one).
    raises BatchJobFailed when a job of `jobs` is not ACTIVE, before listing: "users: part 2
    (<job name>) FAILED: <cause>" for each such job, joined by "; " (Personalize's failureReason
    reaches the run's failure); InvalidEvent.

process_file (one Map iteration per `.out` file)
    in:  {"bucket": "curated",                                  # where the .out file is
          "key": "runs/r1/batch-output/a.json.out",             # "Key" also accepted (ItemReader item)
          "output_bucket": "curated",                           # optional, default: bucket
          "output_prefix": "runs/r1/",                          # optional, default: key up to batch-output/
          "kms_key_id": "arn:aws:kms:...",                      # optional, default: $OUTPUT_KMS_KEY_ID
          "kind": "related_items"}                              # optional, default: user_recommendations
    kind: what the `.out` file holds, an output kind of `flatten.OUTPUT_KINDS` or a recipe name:
          user_recommendations (aws-user-personalization[-v2]) -> recommendations/  user_id,rank,item_id,score
          related_items (aws-similar-items, aws-sims)          -> related-items/    item_id,rank,related_item_id,score
          item_affinity (aws-item-affinity)                    -> segments/         item_id,rank,user_id
          item_attribute_affinity (aws-item-attribute-affinity)-> segments/         item_attributes,rank,user_id
    writes: <output_prefix><folder>/<name>.csv and <output_prefix>errors/<name>.jsonl, where
            <name> is the key after batch-output/ without ".out" (e.g. "a.json"; several solutions
            keep apart by their sub-folders, e.g. "<solution>/part-0001/items.json"); the errors file
            is always written (empty when no line failed) so re-runs never leave a stale one.
    out: {"skipped": false, "source_bucket": "curated", "source_key": "runs/r1/batch-output/a.json.out",
          "source_etag": "\\"...\\"", "source_bytes": 123, "output_bucket": "curated",
          "recommendations_key": "runs/r1/recommendations/a.json.csv",
          "errors_key": "runs/r1/errors/a.json.jsonl",
          "lines": 3, "users_with_recommendations": 2, "items_written": 50, "errored_lines": 1,
          "malformed_lines": 0, "blank_lines": 0, "fast_path_lines": 2,
          "items_per_user": {"25": 2}, "recommendations_bytes": 1500, "errors_bytes": 80,
          "seconds": 0.12}
    An event that names its `kind` gets it back as "kind" (the kind's name); one without gets
    exactly the fields above, as before kinds existed. The counts keep their names for every kind
    ("users_with_recommendations" counts lines with a non-empty list: items, related items or users
    of a segment; "items_written" counts CSV rows).
    A key not ending in ".out" (e.g. a marker file listed by an ItemReader) is not read:
    {"skipped": true, "source_bucket": ..., "source_key": ...}.
    raises ProcessingTimeExceeded when less than 20 s of the Lambda timeout is left (the partial
    outputs are aborted), InvalidEvent for a malformed input, and S3's own errors (NoSuchKey...).
    Custom metrics (namespace above, dimension service): LinesProcessed, ErroredLines.

write_manifest (once per run, after every solution's branch: the state machine sends every solution's record)
    in:  {"batch_output_uri": "s3://curated/runs/r1/batch-output/", "run_id": "r1",
          "execution_name", "execution_arn", "started_at", "ended_at" (optional), "kms_key_id" (optional),
          "arns": {"datasetImportJob": "arn:..."}, "input_bucket": "transformed",   # where the plans are
          "max_error_ratio": 0.05,                              # optional, per solution
          "accounting": <account's output>, "metadata_imports": {...},   # optional, as below
          "solutions": [                                        # the Solutions branches' records, config order
            {"name": "users", "kind": "user_recommendations", "jobType": "batch_inference", "status": "SUCCEEDED",
             "train": {"Arn": ...}, "gate": <evaluate's output>, "plan": <plan_batch_jobs' output>,
             "batchJobs": [<batch-job children's outputs>], "processedFiles": [<process_file outputs>]},
            {"name": "similar", "kind": "related_items", "jobType": "batch_inference", "status": "FAILED",
             "error": {"Error": "TrainingFailed", "Cause": "..."}}]}
    checks per solution (status SUCCEEDED): every batch job ACTIVE; every .out file its plan expects
            (<input_bucket>/<plan.plan_key>) exists under batch-output/<name>/; every .out file there was
            processed; lines were written, not all errored, the error ratio within max_error_ratio.
            A failed check, or a FAILED record, makes the solution's section FAILED.
    writes: <run>_manifest.json with run-wide totals (as below) plus "solutions": {name: section} (input
            order) and "failed_solutions"; a section: {"kind", "job_type", "status", "failure": {"error",
            "cause"} | null, "solution_arn", "solution_version_arn", "model" (the gate's decision),
            "training_hours", "plan_key", "batch_jobs": [{"part", "job_name", "arn", "status"}], "outputs":
            {"folder": "runs/r1/<kind folder><name>/", "files": [...], "lines", "rows", "keys_answered",
            "errors", "malformed_lines"}} and, for a FAILED one, "existing_objects": {"folders": [batch-output/
            <name>/, <kind folder><name>/, errors/<name>/], "count", "keys" (the first 1000), "truncated"}.
            The manifest's status is SUCCEEDED only when every section is (else FAILED, "failure":
            {"error": "SolutionsFailed", "cause": "1 of 3 solution(s) failed: similar: ... (TrainingFailed)"});
            then, and only after the manifest, an empty <run>_SUCCESS; a stale _SUCCESS is deleted first.
    out: {"status": "SUCCEEDED" | "FAILED", "manifest": "s3://...", "success_marker": "s3://..." | null,
          "failed_solutions": ["similar"], "solutions": [{"name", "status", "gate": <the record's gate or
          null>}, ...] (input order, for the accept Map), "users_with_recommendations", "errored_lines",
          "items_written", "output_files", "input_users": null, "run_id", "execution_name",
          "message" (the failed solutions with their causes first, then a line per solution, usage, cost),
          "subject" ("Personalize pipeline run failed: similar" | the success subject),
          "model_decision" (the one decision of every solution, else null), "used_fallback"}
    A failed solution is not an error here: the state machine reads "status" (after accepting the
    succeeded solutions' versions) and fails the run with "message". raises InvalidEvent only.
"""

from __future__ import annotations

from dataclasses import dataclass

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config

from pipeline_contracts.metrics import ERRORED_LINES, LINES_PROCESSED
from pipeline_contracts.metrics import NAMESPACE as DEFAULT_METRICS_NAMESPACE
from pipeline_contracts import flatten_capacity, run_layout

from .flatten import OutputKind, flatten_chunks, output_kind
from .manifest import (
    EXISTING_OBJECTS_MAX,
    MANIFEST_NAME,
    SOLUTION_STATUSES,
    SUCCESS_NAME,
    BatchJobFailed,
    InvalidEvent,
    ProcessingTimeExceeded,
    batch_job_failures,
    build_solutions_manifest,
    solution_section,
    summary_of_solutions,
)
from .s3io import MultipartWriter, ObjectChunks

__all__ = ["process_file", "write_manifest", "list_output_files"]

TIME_RESERVE_MS = flatten_capacity.TIME_RESERVE_SECONDS * 1000
"""process_file gives up (ProcessingTimeExceeded) when less than this is left of the timeout,
leaving time to abort the multipart uploads and report a clear error instead of a timeout."""
BATCH_OUTPUT = run_layout.BATCH_OUTPUT
OUT_SUFFIX = run_layout.BATCH_OUTPUT_SUFFIX

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE)


class _NoTracer:
    """Stands in for Powertools' Tracer where aws-xray-sdk is not installed (it ships in the
    Powertools Lambda layer, not in this repository's test environment)."""

    def capture_lambda_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        return handler


def _make_tracer() -> Any:
    try:
        from aws_lambda_powertools import Tracer

        return Tracer()
    except ModuleNotFoundError:
        return _NoTracer()


tracer = _make_tracer()

_S3: Any = None


def s3_client() -> Any:
    """One client per execution environment (created lazily, so tests can mock first)."""
    global _S3
    if _S3 is None:
        _S3 = boto3.client(
            "s3",
            config=Config(
                retries={"mode": "standard", "max_attempts": 8},
                read_timeout=120,
                max_pool_connections=8,
            ),
        )
    return _S3


# ----------------------------------------------------------------------------------------------
# Event helpers


def _required_str(event: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = event.get(name)
        if isinstance(value, str) and value:
            return value
    raise InvalidEvent(f"event needs a non-empty string {' or '.join(repr(n) for n in names)}")


def _location(event: Mapping[str, Any], *, solution_folder: bool = False) -> tuple[str, str, str]:
    """(bucket, run prefix ending with "/", listing prefix) from `bucket`+`output_prefix` or
    `batch_output_uri`; with `solution_folder`, the URI may also name one solution's folder
    (.../batch-output/<solution>/), which is then what is listed."""
    uri = event.get("batch_output_uri")
    if isinstance(uri, str) and uri:
        if not uri.startswith("s3://") or "/" not in uri[5:]:
            raise InvalidEvent(f"batch_output_uri {uri!r} is not s3://bucket/prefix/")
        bucket, _, path = uri[5:].partition("/")
        path = path if path.endswith("/") else path + "/"
        if path.endswith("/" + BATCH_OUTPUT) or path == BATCH_OUTPUT:
            return bucket, path[: -len(BATCH_OUTPUT)], path
        marker = ("/" + path).rfind("/" + BATCH_OUTPUT)
        folder = path[marker + len(BATCH_OUTPUT) :] if marker >= 0 else ""
        if not solution_folder or marker < 0 or folder.count("/") != 1:
            allowed = f"/{BATCH_OUTPUT}" + (" or /{BATCH_OUTPUT}<solution>/" if solution_folder else "")
            raise InvalidEvent(f"batch_output_uri {uri!r} does not end with {allowed}")
        return bucket, path[:marker], path
    bucket = _required_str(event, "bucket")
    prefix = _required_str(event, "output_prefix")
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    return bucket, prefix, prefix + BATCH_OUTPUT


def _sse_args(event: Mapping[str, Any]) -> dict[str, str]:
    key_id = event.get("kms_key_id") or os.environ.get("OUTPUT_KMS_KEY_ID")
    if not key_id:
        return {}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": str(key_id)}


def _list_keys(client: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            yield obj["Key"], obj.get("Size", 0)


def _out_files(client: Any, bucket: str, prefix: str) -> list[tuple[str, int]]:
    """The `.out` objects under `prefix` (a batch-output folder), at any depth, in key order."""
    return sorted((key, size) for key, size in _list_keys(client, bucket, prefix) if key.endswith(OUT_SUFFIX))


def _kind(event: Mapping[str, Any]) -> OutputKind:
    name = event.get("kind")
    if name is not None and not isinstance(name, str):
        raise InvalidEvent(f"kind {name!r} is not a string")
    try:
        return output_kind(name)
    except ValueError as exc:
        raise InvalidEvent(str(exc)) from None


def _within_time(chunks: Any, context: Any, key: str) -> Iterator[bytes]:
    """Pass chunks on while more than TIME_RESERVE_MS of the invocation is left."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    for chunk in chunks:
        if remaining is not None and remaining() < TIME_RESERVE_MS:
            raise ProcessingTimeExceeded(
                f"s3 object {key}: stopped after {chunks.bytes_read:,} of {chunks.size or 0:,} bytes with "
                f"{remaining() / 1000:.0f} s left; split the batch input into smaller files"
            )
        yield chunk


# ----------------------------------------------------------------------------------------------
# Handlers


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def list_output_files(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket, run_prefix, prefix = _location(event, solution_folder=True)
    jobs = event.get("jobs")
    if jobs is not None:
        if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs):
            raise InvalidEvent("jobs must be the list of the batch-job children's outputs ({part, jobName, status})")
        solution = prefix[len(run_prefix) + len(BATCH_OUTPUT) :].rstrip("/") or prefix
        failures = batch_job_failures(solution, jobs)
        if failures:
            logger.error("Batch jobs failed", extra={"prefix": prefix, "failures": failures})
            raise BatchJobFailed(failures)
    kind = {"kind": _kind(event).name} if event.get("kind") is not None else {}
    files = [
        {"bucket": bucket, "key": key, "output_prefix": run_prefix, "size": size, **kind}
        for key, size in _out_files(s3_client(), bucket, prefix)
    ]
    logger.info("Listed batch output files", extra={"bucket": bucket, "prefix": prefix, "count": len(files)})
    return {"count": len(files), "files": files}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def process_file(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket = _required_str(event, "bucket")
    key = _required_str(event, "key", "Key")
    kind = _kind(event)
    if not key.endswith(OUT_SUFFIX):
        logger.info("Not a .out file, skipped", extra={"key": key})
        metrics.add_metric(name=LINES_PROCESSED, unit=MetricUnit.Count, value=0)
        return {"skipped": True, "source_bucket": bucket, "source_key": key}
    marker = key.rfind("/" + BATCH_OUTPUT)
    if isinstance(event.get("output_prefix"), str) and event["output_prefix"]:
        run_prefix = event["output_prefix"] if event["output_prefix"].endswith("/") else event["output_prefix"] + "/"
    elif marker >= 0 or key.startswith(BATCH_OUTPUT):
        run_prefix = key[: marker + 1] if marker >= 0 else ""
    else:
        raise InvalidEvent(f"key {key!r} is not under .../{BATCH_OUTPUT} and no output_prefix was given")
    name = key[marker + 1 + len(BATCH_OUTPUT) :] if marker >= 0 else (
        key[len(BATCH_OUTPUT) :] if key.startswith(BATCH_OUTPUT) else key.rsplit("/", 1)[-1]
    )
    name = name[: -len(OUT_SUFFIX)]
    out_bucket = event.get("output_bucket") or bucket
    rec_key = f"{run_prefix}{kind.folder}{name}.csv"
    err_key = f"{run_prefix}{run_layout.ERRORS}{name}.jsonl"
    sse = _sse_args(event)
    client = s3_client()
    logger.append_keys(source_key=key)
    started = time.monotonic()
    with (
        ObjectChunks(client, bucket, key) as source,
        MultipartWriter(
            client, out_bucket, rec_key, extra_args={**sse, "ContentType": "text/csv; charset=utf-8"}
        ) as rec_out,
        MultipartWriter(
            client, out_bucket, err_key, extra_args={**sse, "ContentType": "application/x-ndjson"}
        ) as err_out,
    ):
        counts = flatten_chunks(_within_time(source, context, key), rec_out, err_out, kind=kind)
    seconds = time.monotonic() - started
    result = {
        "skipped": False,
        "source_bucket": bucket,
        "source_key": key,
        "source_etag": source.etag,
        "source_bytes": source.bytes_read,
        "output_bucket": out_bucket,
        "recommendations_key": rec_key,
        "errors_key": err_key,
        **counts.as_dict(),
        "recommendations_bytes": rec_out.bytes_written,
        "errors_bytes": err_out.bytes_written,
        "seconds": round(seconds, 3),
        **({"kind": kind.name} if "kind" in event else {}),
    }
    metrics.add_metric(name=LINES_PROCESSED, unit=MetricUnit.Count, value=counts.lines)
    metrics.add_metric(name=ERRORED_LINES, unit=MetricUnit.Count, value=counts.errored_lines)
    logger.info(
        "Processed batch output file",
        extra={
            k: result[k]
            for k in (
                "lines",
                "users_with_recommendations",
                "items_written",
                "errored_lines",
                "malformed_lines",
                "seconds",
                "source_bytes",
                "source_etag",
            )
        },
    )
    return result


def _planned_out_keys(client: Any, plan: Mapping[str, Any]) -> Iterator[str]:
    """The `.out` keys that batch_plan's plan (`{bucket, key}` of its `_plan.json`) expects."""
    plan_object = client.get_object(Bucket=_required_str(plan, "bucket"), Key=_required_str(plan, "key"))
    document = json.loads(plan_object["Body"].read())
    yield from (key for job in document.get("jobs", ()) for key in job.get("expected_outputs", ()))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def write_manifest(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _write_solutions_manifest(event)


def _solution_records(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    records = event.get("solutions")
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise InvalidEvent("solutions must be a non-empty list of the Solutions branches' records")
    names = [r.get("name") for r in records]
    for record in records:
        name = record.get("name")
        if not isinstance(name, str) or not name or "/" in name:
            raise InvalidEvent(f"solution name {name!r} is not a non-empty string without '/'")
        if names.count(name) > 1:
            raise InvalidEvent(f"solution {name!r} appears {names.count(name)} times in solutions")
        _check_record(name, record)
    return records


def _check_record(name: str, record: Mapping[str, Any]) -> None:
    status = record.get("status")
    if status not in SOLUTION_STATUSES:
        raise InvalidEvent(f"solution {name}: status {status!r}; allowed: {', '.join(SOLUTION_STATUSES)}")
    if status == "SUCCEEDED" or record.get("kind") is not None:
        _kind(record)
    for field in ("processedFiles", "batchJobs"):
        value = record.get(field)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
            raise InvalidEvent(f"solution {name}: {field} must be a list of objects")
    for r in record.get("processedFiles") or ():
        if not r.get("skipped") and not isinstance(r.get("source_key"), str):
            raise InvalidEvent(f"solution {name}: every processed file needs 'source_key' (a process_file output)")


def _existing_objects(client: Any, bucket: str, prefixes: list[str]) -> dict[str, Any]:
    """What a failed solution left under its folders: their count and the first keys (sorted)."""
    keys = sorted(key for prefix in prefixes for key, _ in _list_keys(client, bucket, prefix))
    return {
        "folders": prefixes,
        "count": len(keys),
        "keys": keys[:EXISTING_OBJECTS_MAX],
        "truncated": len(keys) > EXISTING_OBJECTS_MAX,
    }


@dataclass
class _ManifestTarget:
    """Where a run's `_manifest.json` and `_SUCCESS` go, and the order they are written in: a stale `_SUCCESS`
    removed first (it must not outlive a failing re-run), the manifest, and `_SUCCESS` only after it."""

    bucket: str
    run_prefix: str
    run_id: str | None
    client: Any
    sse: dict[str, str]

    @classmethod
    def begin(cls, event: Mapping[str, Any]) -> _ManifestTarget:
        bucket, run_prefix, _ = _location(event)
        run_id = event.get("run_id") or run_prefix.rstrip("/").rsplit("/", 1)[-1] or None
        return cls(bucket, run_prefix, run_id, s3_client(), _sse_args(event))

    def remove_stale_success(self) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.run_prefix + SUCCESS_NAME)

    def put_manifest(self, manifest: Mapping[str, Any]) -> str:
        key = self.run_prefix + MANIFEST_NAME
        body = json.dumps(manifest, indent=2, sort_keys=False).encode("utf-8") + b"\n"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", **self.sse)
        return f"s3://{self.bucket}/{key}"

    def put_success(self) -> str:
        key = self.run_prefix + SUCCESS_NAME
        self.client.put_object(Bucket=self.bucket, Key=key, Body=b"", **self.sse)
        return f"s3://{self.bucket}/{key}"


def _write_solutions_manifest(event: Mapping[str, Any]) -> dict[str, Any]:
    """write_manifest (see the module docstring): a section per solution of `solutions`."""
    target = _ManifestTarget.begin(event)
    bucket, run_prefix, run_id, client = target.bucket, target.run_prefix, target.run_id, target.client
    records = _solution_records(event)
    max_error_ratio = event.get("max_error_ratio")
    target.remove_stale_success()

    sections: dict[str, dict[str, Any]] = {}
    for record in records:
        name = record["name"]
        output_folder = f"{run_prefix}{BATCH_OUTPUT}{name}/"
        kind = _kind(record) if record.get("kind") is not None else None
        folder = f"{run_prefix}{kind.folder}{name}/" if kind else None
        listed: list[str] = []
        expected: list[str] = []
        if record["status"] == "SUCCEEDED":
            listed = [key for key, _ in _out_files(client, bucket, output_folder)]
            plan = record.get("plan") or {}
            if plan.get("plan_key"):
                plan_bucket = event.get("input_bucket") or plan.get("input_bucket")
                ref = {"bucket": plan_bucket, "key": plan["plan_key"]}
                expected = list(_planned_out_keys(client, ref))
        section = solution_section(
            record,
            folder=folder or "",
            listed_out_keys=listed,
            expected_out_keys=expected,
            max_error_ratio=float(max_error_ratio) if max_error_ratio is not None else None,
        )
        if section["status"] != "SUCCEEDED":
            folders = [output_folder, *([folder] if folder else []), f"{run_prefix}{run_layout.ERRORS}{name}/"]
            section["existing_objects"] = _existing_objects(client, bucket, folders)
        sections[name] = section

    manifest = build_solutions_manifest({**event, "run_id": run_id}, sections, datetime.now(UTC))
    manifest_uri = target.put_manifest(manifest)
    succeeded = manifest["status"] == "SUCCEEDED"
    gates = {r["name"]: r.get("gate") if isinstance(r.get("gate"), dict) else None for r in records}
    summary = summary_of_solutions(manifest, manifest_uri, target.put_success() if succeeded else None, gates=gates)
    (logger.info if succeeded else logger.error)(
        "Run manifest written", extra={k: summary[k] for k in ("status", "failed_solutions", "manifest")}
    )
    return summary
