"""Lambda handlers of batch-job planning (thin: the decisions are in `planning`).

Handler strings (the function's asset: this package plus the `pipeline_contracts` modules it imports):
`batch_plan.handler.plan_batch_jobs`, `batch_plan.handler.place_job_input`.
Runtime: Python 3.13 with the AWS-managed Powertools layer; boto3 otherwise.

plan_batch_jobs (once per solution, after the ETL)
    in:  {"input_bucket": "transformed", "output_bucket": "curated", "run_prefix": "runs/r1/",
          "solution": "users",
          "source_prefix": "runs/r1/batch-input/",         # optional, default <run_prefix>batch-input/<solution>/
          "job_type": "batch_inference",                   # or "batch_segment" (its own quota)
          "records": {"part-00000.json": 5000000},          # optional counts by key or relative key
          "summary_key": "runs/r1/_summary.json",           # optional: the ETL's summary in input_bucket;
                                                           # its batch_inputs' per-file line counts are
                                                           # used for files `records` does not count
          "records_per_file_max": 5000000,                 # optional bound for files without a count
          "in_progress": 0,                                # optional: jobs of this type already running
          "solutions_sharing_quota": 1,                    # optional: solutions of the run using the quota
          "quota": 5,                                      # optional, default 5 per job type
          "max_job_records": 500,                          # optional: lowers the records of one job
                                                           # (item_affinity: ITEM_AFFINITY_ITEMS_PER_JOB)
          "job_name_base": "pbp-dev-batch-users-weekly-0123456789",  # optional: names the jobs
                                                           # numbered_job_name(base, part): <base>-0001, ...
          "kms_key_id": "arn:aws:kms:..."}                 # optional, default $OUTPUT_KMS_KEY_ID
    With `max_job_records`, each file whose record count is neither given nor in the summary (an ETL
    from before the summary had counts, or no summary) is read to count its lines (the
    item files of the ETL are a few KB each), so jobs are packed by real counts rather than by a bound
    from the size (which would give more jobs than needed); a file over it fails the plan, naming it.
    writes: <run_prefix>batch-jobs/<solution>/_plan.json (every file, copy and expected .out) and
            _jobs.json (the job list as a JSON array, for a Distributed Map's ItemReader).
    out: `BatchPlan.to_state()`: {"solution", "job_type", "jobs_count", "files", "bytes", "records",
          "copies", "max_concurrency", "waves", "input_bucket", "output_bucket", "plan_key",
          "jobs_key", "jobs": [{"part": 1, "input_uri": "s3://...", "output_uri": "s3://.../part-0001/",
          "files": 8, "bytes": ..., "records": ..., "copy": true, "job_name": "..."}, ...] or null
          when the list would not fit the state (then read jobs_key)}
    Everything in one job: it reads `source_prefix` in place and writes
    <run_prefix>batch-output/<solution>/part-0001/, as every job of a split plan writes its part-NNNN/.
    raises PlanError (a file over a limit, named; no input file), InvalidEvent.

place_job_input (once per job before it is created; a no-op for a job that reads in place)
    in:  {"input_bucket": "transformed", "plan_key": "runs/r1/batch-jobs/users/_plan.json",
          "part": 2, "kms_key_id": "..."}                   # or a job item of _jobs.json plus those
    does: server-side copies of the job's files into its part prefix, in parallel, and deletes any
          other object there (left by an earlier attempt with another plan), so the job reads
          exactly its files.
    out: {"part": 2, "input_uri": "s3://...", "copied": 8, "bytes": 1000000000, "removed": 0}
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from collections.abc import Callable, Iterator, Mapping

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config

from pipeline_contracts.job_names import is_personalize_name, numbered_job_name
from pipeline_contracts.lambda_runtime import STANDARD_RETRIES, required_text

from .planning import (
    BATCH_INPUT_FOLDER,
    BATCH_OUTPUT_FOLDER,
    JOB_INPUT_FOLDER,
    InputFile,
    PlanError,
    count_records,
    files_from_listing,
)
from .planning import plan_batch_jobs as plan

__all__ = ["plan_batch_jobs", "place_job_input", "InvalidEvent", "PlanError"]

COPY_THREADS = 8

logger = Logger()
_S3: Any = None


class InvalidEvent(ValueError):
    """The handler's input does not have the documented shape."""


def s3_client() -> Any:
    global _S3
    if _S3 is None:
        config = Config(retries=dict(STANDARD_RETRIES), max_pool_connections=COPY_THREADS + 2)
        _S3 = boto3.client("s3", config=config)
    return _S3


def _text(event: Mapping[str, Any], name: str) -> str:
    return required_text(event, name, InvalidEvent)


def _whole(event: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = event.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidEvent(f"{name} {value!r} is not a whole number >= 0")
    return value


def _folder(value: str) -> str:
    return value if value.endswith("/") else value + "/"


def _encryption(event: Mapping[str, Any]) -> dict[str, str]:
    key_id = event.get("kms_key_id") or os.environ.get("OUTPUT_KMS_KEY_ID")
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": str(key_id)} if key_id else {}


def _objects(bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    for page in s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from ((o["Key"], o["Size"]) for o in page.get("Contents", ()))


def _put_json(bucket: str, key: str, value: Any, sse: Mapping[str, str]) -> None:
    body = json.dumps(value, separators=(",", ":")).encode("utf-8")
    s3_client().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **sse)


@logger.inject_lambda_context(clear_state=True)
def plan_batch_jobs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    input_bucket = _text(event, "input_bucket")
    output_bucket = _text(event, "output_bucket")
    run_prefix = _folder(_text(event, "run_prefix"))
    solution = _text(event, "solution")
    if not is_personalize_name(solution):  # it names S3 folders and jobs
        raise InvalidEvent(
            f"solution {solution!r} is not a Personalize name (1-63 of A-Z a-z 0-9 - _, not starting with - or _)"
        )
    source_prefix = _folder(event.get("source_prefix") or f"{run_prefix}{BATCH_INPUT_FOLDER}{solution}/")
    job_type = event.get("job_type", "batch_inference")
    if job_type not in ("batch_inference", "batch_segment"):
        raise InvalidEvent(f"job_type {job_type!r}; allowed: batch_inference, batch_segment")
    records = event.get("records") or {}
    if not isinstance(records, dict) or any(isinstance(n, bool) or not isinstance(n, int) for n in records.values()):
        raise InvalidEvent("records must map file keys to whole numbers")
    name_job: Callable[[int], str] | None = None
    if event.get("job_name_base") is not None:
        name_job = functools.partial(numbered_job_name, _text(event, "job_name_base"))
        try:
            name_job(1)
        except ValueError as exc:
            raise InvalidEvent(str(exc)) from None

    max_job_records = _whole(event, "max_job_records", None)
    if max_job_records == 0:
        raise InvalidEvent("max_job_records 0 is not a whole number >= 1")
    records_per_file_max = _whole(event, "records_per_file_max", None)
    if event.get("summary_key") is not None:
        # A given count wins over the summary's (both by full key: `records` may name keys relative to the source).
        given = {key if key.startswith(source_prefix) else source_prefix + key: n for key, n in records.items()}
        records = {**summary_counts(input_bucket, run_prefix, _text(event, "summary_key")), **given}
    files = files_from_listing(_objects(input_bucket, source_prefix), source_prefix, records)
    if max_job_records is not None:
        files = [_counted(input_bucket, f, max_job_records, solution) for f in files]
    result = plan(
        files,
        solution=solution,
        input_bucket=input_bucket,
        output_bucket=output_bucket,
        source_prefix=source_prefix,
        jobs_prefix=f"{run_prefix}{JOB_INPUT_FOLDER}{solution}/",
        output_prefix=f"{run_prefix}{BATCH_OUTPUT_FOLDER}{solution}/",
        job_type=job_type,
        records_per_file_max=records_per_file_max,
        quota=_whole(event, "quota", None),
        in_progress=_whole(event, "in_progress", 0) or 0,
        solutions_sharing_quota=_whole(event, "solutions_sharing_quota", 1) or 1,
        job_name=name_job,
        max_job_records=max_job_records,
    )
    sse = _encryption(event)
    _put_json(input_bucket, result.plan_key, result.document(), sse)
    _put_json(input_bucket, result.jobs_key, result.job_items(), sse)
    state = result.to_state()
    logger.info("Planned batch jobs", extra={k: v for k, v in state.items() if k != "jobs"})
    return state


def summary_counts(bucket: str, run_prefix: str, summary_key: str) -> dict[str, int]:
    """{key: lines} of every batch input file the ETL's `_summary.json` counts (`batch_inputs.<input>.files`,
    keys relative to the run folder; the queries of several solutions one level deeper). A missing summary, or
    one without counts, gives none: the files are then counted or bounded as without it."""
    try:
        summary = json.loads(s3_client().get_object(Bucket=bucket, Key=summary_key)["Body"].read())
    except s3_client().exceptions.NoSuchKey:
        logger.warning("No ETL summary; batch input files without a given count are counted or bounded", extra={
            "summary_key": summary_key})
        return {}
    sections = list((summary.get("batch_inputs") or {}).values())
    counts: dict[str, int] = {}
    while sections:
        section = sections.pop()
        if not isinstance(section, Mapping):
            continue
        if isinstance(section.get("files"), Mapping):
            counts.update(
                {run_prefix + key: n for key, n in section["files"].items() if isinstance(n, int) and n >= 0}
            )
        else:  # item_attributes: one section per solution
            sections.extend(section.values())
    return counts


def _counted(bucket: str, f: InputFile, limit: int, solution: str) -> InputFile:
    """`f` with its record count, read from S3 when not given (reading stops past `limit`)."""
    if f.records is not None:
        return f
    body = s3_client().get_object(Bucket=bucket, Key=f.key)["Body"]
    counted = count_records(body.iter_chunks(1024 * 1024), stop_above=limit)
    if counted > limit:
        raise PlanError(
            f"input file {f.key} has more than {limit:,} records, the most one batch job of solution {solution} "
            f"reads (max_job_records); write files of at most {limit:,} lines"
        )
    return replace(f, records=counted)


def _job_of(plan_doc: Mapping[str, Any], part: int) -> Mapping[str, Any]:
    for job in plan_doc.get("jobs", ()):
        if job.get("part") == part:
            return job
    raise InvalidEvent(f"the plan has no part {part}")


@logger.inject_lambda_context(clear_state=True)
def place_job_input(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket = _text(event, "input_bucket")
    plan_key = _text(event, "plan_key")
    part = _whole(event, "part", None)
    if not part:
        raise InvalidEvent("event needs 'part', the job's number (1, 2, ...)")
    client = s3_client()
    job = _job_of(json.loads(client.get_object(Bucket=bucket, Key=plan_key)["Body"].read()), part)
    copies = job.get("copies") or []
    sizes = {s["key"]: s["size"] for s in job.get("sources", ())}
    removed = 0
    if copies:
        prefix = job["input_uri"].split("/", 3)[3]
        wanted = {c["target"] for c in copies}
        strays = [key for key, _ in _objects(bucket, prefix) if key not in wanted]
        for start in range(0, len(strays), 1000):  # DeleteObjects takes 1000 keys at most
            batch = [{"Key": key} for key in strays[start : start + 1000]]
            client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        removed = len(strays)
        sse = _encryption(event)

        def copy(c: Mapping[str, str]) -> None:
            client.copy_object(Bucket=bucket, Key=c["target"], CopySource={"Bucket": bucket, "Key": c["source"]}, **sse)

        with ThreadPoolExecutor(max_workers=COPY_THREADS) as pool:
            list(pool.map(copy, copies))
    result = {
        "part": part,
        "input_uri": job["input_uri"],
        "copied": len(copies),
        "bytes": sum(sizes.get(c["source"], 0) for c in copies),
        "removed": removed,
    }
    logger.info("Placed batch job input", extra=result)
    return result

