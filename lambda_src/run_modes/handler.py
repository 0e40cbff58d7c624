"""Lambda handler of the "Choose modes" state (thin: the decisions are in `modes`).

Handler string: `run_modes.handler.choose_modes` (asset: this package plus `pipeline_contracts`).

    in:  {"run_id": "2026...-weekly-0123456789", "bucket": "<transformed bucket>",
          "imports": {"interactions": {"dataset_arn": "arn:...:dataset/.../INTERACTIONS", "configured": "INCREMENTAL"},
                      "items": {...}, "users": {...}},                 # the configured datasets
          "solutions": {"users": {"parameter": "/pbp/dev/solutions/users/arn", "configured": "UPDATE"}, ...},
          "incremental_etl": true,                                      # only with etl_incremental
          # only when a solution has a cadence (its entry then has "retrain": {"full_every_days", "update_every_days"}):
          "run_started_at": "$$.Execution.StartTime", "execution_input": <$$.Execution.Input>}
    env: ACCEPTED_VERSIONS_TABLE (read only for a solution with a cadence).
    reads: the run's files per dataset (ListObjectsV2: their total size), `_summary.json` (the interactions the
           Glue job kept; absent: the record minimum is not checked), each solution's ARN (SSM GetParameters),
           and, only where the configured mode is INCREMENTAL / UPDATE, the dataset's import jobs
           (ListDatasetImportJobs) and the solution's versions (ListSolutionVersions; DescribeSolutionVersion for
           an ACTIVE one whose summary lacks trainingMode), every page; for a solution with a cadence, its
           versions and its accepted versions (DynamoDB Query on the accepted-versions table, newest first, until
           the last one trained FULL).
    out: {"imports": {"<dataset>": {"mode", "reason"}}, "training": {"<solution>": {"mode", "reason"}}} (a REUSE
         also names `solutionVersionArn`, the accepted version the batch jobs use); with
         incremental_etl the interactions decision also names the run folder the import reads (`folder`)
    raises ImportNotPossible (fewer interactions than any import job takes), InvalidEvent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from pipeline_contracts import etl_ledger, run_layout
from pipeline_contracts.lambda_runtime import ClientCache, required_text
from pipeline_contracts.run_modes import IMPORTS, INTERACTIONS, RETRAIN_NOW, TRAINING, dataset_folder

from .cadence import Acceptance, Cadence, acceptances, decide_cadence_mode

from .modes import (
    FULL,
    Delta,
    ImportNotPossible,
    decide_import_mode,
    decide_training_mode,
    versions_to_describe,
)

__all__ = ["choose_modes", "ImportNotPossible", "InvalidEvent"]

logger = Logger()
client = ClientCache()
PARAMETERS_PER_CALL = 10  # SSM GetParameters: at most 10 names per request
TABLE_ENV = "ACCEPTED_VERSIONS_TABLE"
HISTORY_PREFIX = "ACCEPTED#"  # model_gate.store's history items (sort key ACCEPTED#<run start>#<run id>)


class InvalidEvent(ValueError):
    """The handler's input does not have the documented shape."""


def _entries(event: Mapping[str, Any], name: str) -> Mapping[str, Mapping[str, Any]]:
    value = event.get(name)
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise InvalidEvent(f"event needs {name!r}: an object of objects")
    return value


def _text(event: Mapping[str, Any], name: str) -> str:
    return required_text(event, name, InvalidEvent)


def _pages(operation: str, result_key: str, **params: Any) -> Iterator[dict[str, Any]]:
    for page in client("personalize").get_paginator(operation).paginate(**params):
        yield from page.get(result_key, ())


def _folder_bytes(bucket: str, prefix: str) -> int:
    pages = client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sum(int(o["Size"]) for page in pages for o in page.get("Contents", ()))


def _run_summary(bucket: str, run_id: str) -> dict[str, Any]:
    """The Glue job's `_summary.json` ({} without one: the record minimum is then not checked)."""
    key = run_layout.run_key(run_id, run_layout.SUMMARY)
    try:
        body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except client("s3").exceptions.NoSuchKey:
        logger.warning("no run summary: the record minimum is not checked", extra={"key": key})
        return {}
    return dict(json.loads(body))


def _kept_interactions(summary: Mapping[str, Any]) -> int | None:
    """The interactions this run's import holds: the whole cleaned set of an incremental run, otherwise the
    interactions the Glue job kept (counts.kept); None without a count."""
    whole = (summary.get(etl_ledger.SUMMARY_SECTION) or {}).get("whole_set") or {}
    kept = whole.get("interactions", (summary.get("counts") or {}).get("kept"))
    return int(kept) if isinstance(kept, int) else None


def _delta(bucket: str, run_id: str, summary: Mapping[str, Any]) -> Delta | None:
    """The incremental ETL's delta (None when the run was not incremental)."""
    section = summary.get(etl_ledger.SUMMARY_SECTION)
    if not isinstance(section, Mapping):
        return None
    records = int((section.get("delta") or {}).get("interactions") or 0)
    size = _folder_bytes(bucket, run_layout.run_key(run_id, run_layout.INTERACTIONS_DELTA)) if records else 0
    return Delta(records=records, size_bytes=size, full_reason=section.get("import_full_reason"))


def _solution_arns(parameters: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(parameters), PARAMETERS_PER_CALL):
        answer = client("ssm").get_parameters(Names=parameters[start : start + PARAMETERS_PER_CALL])
        found.update({p["Name"]: p["Value"] for p in answer.get("Parameters", ())})
    missing = [name for name in parameters if name not in found]
    if missing:
        raise LookupError(f"missing solution ARN parameter(s): {', '.join(missing)} (deploy the data stack)")
    return found


def _versions(solution_arn: str) -> list[dict[str, Any]]:
    """Every version of the solution, each ACTIVE one with its trainingMode (described when the list lacks it)."""
    versions = list(_pages("list_solution_versions", "solutionVersions", solutionArn=solution_arn))
    personalize = client("personalize")
    described = {
        arn: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"].get("trainingMode")
        for arn in versions_to_describe(versions)
    }
    return [
        {**v, "trainingMode": described.get(str(v.get("solutionVersionArn")), v.get("trainingMode"))} for v in versions
    ]


def _import_decision(
    bucket: str, run_id: str, dataset: str, entry: Mapping[str, Any], incremental_etl: bool = False
) -> dict[str, str]:
    configured = _text(entry, "configured")
    jobs = (
        list(_pages("list_dataset_import_jobs", "datasetImportJobs", datasetArn=_text(entry, "dataset_arn")))
        if configured != FULL
        else []
    )
    summary = _run_summary(bucket, run_id) if dataset == INTERACTIONS else {}
    decision = decide_import_mode(
        dataset=dataset,
        configured=configured,
        import_jobs=jobs,
        size_bytes=_folder_bytes(bucket, run_layout.run_key(run_id, dataset_folder(dataset))),
        records=_kept_interactions(summary) if dataset == INTERACTIONS else None,
        delta=_delta(bucket, run_id, summary) if dataset == INTERACTIONS else None,
    )
    if incremental_etl and dataset == INTERACTIONS:
        # The import reads the folder named here; a summary without the incremental section (a Glue job deployed
        # before etl_incremental) leaves the whole set, imported as without the feature.
        decision.setdefault("folder", run_layout.INTERACTIONS)
    return decision


def _accepted(solution_arn: str, modes: Mapping[str, str | None]) -> list[Acceptance]:
    """The solution's acceptances, newest run first, read page by page until one trained FULL (or the end)."""
    table = os.environ.get(TABLE_ENV)
    if not table:
        raise InvalidEvent(f"environment variable {TABLE_ENV} (the accepted-version table) is not set")
    params: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": solution_arn}, ":prefix": {"S": HISTORY_PREFIX}},
        "ProjectionExpression": "solutionVersionArn, runStartedAt",
        "ScanIndexForward": False,
        "ConsistentRead": True,
    }
    items: list[dict[str, str]] = []
    for page in client("dynamodb").get_paginator("query").paginate(**params):
        items += [{k: v["S"] for k, v in item.items()} for item in page.get("Items", ())]
        if any(modes.get(item["solutionVersionArn"]) == FULL for item in items):
            break
    return acceptances(items, modes)


def _training_decision(name: str, arn: str, entry: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, str]:
    configured = _text(entry, "configured")
    try:
        cadence = Cadence.from_mapping(entry.get("retrain"), f"solutions.{name}.retrain")
    except ValueError as error:
        raise InvalidEvent(str(error)) from None
    if not cadence.on:
        versions = _versions(arn) if configured != FULL else []
        return decide_training_mode(solution=name, solution_arn=arn, configured=configured, versions=versions)
    versions = _versions(arn)
    modes = {str(v.get("solutionVersionArn")): v.get("trainingMode") for v in versions}
    started = _text(event, "run_started_at")
    try:
        now = datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidEvent(f"run_started_at {started!r} is not an ISO 8601 time") from None
    execution_input = event.get("execution_input")
    retrain_now = isinstance(execution_input, Mapping) and execution_input.get(RETRAIN_NOW) is True
    return decide_cadence_mode(
        solution=name, solution_arn=arn, configured=configured, versions=versions, cadence=cadence,
        accepted=_accepted(arn, modes), now=now, retrain_now=retrain_now,
    )  # fmt: skip


@logger.inject_lambda_context(clear_state=True)
def choose_modes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run_id, bucket = _text(event, "run_id"), _text(event, "bucket")
    imports, solutions = _entries(event, "imports"), _entries(event, "solutions")
    incremental_etl = event.get("incremental_etl") is True
    chosen_imports = {
        dataset: _import_decision(bucket, run_id, dataset, entry, incremental_etl) for dataset, entry in imports.items()
    }
    arns = _solution_arns([_text(entry, "parameter") for entry in solutions.values()])
    training = {
        name: _training_decision(name, arns[entry["parameter"]], entry, event) for name, entry in solutions.items()
    }
    result = {IMPORTS: chosen_imports, TRAINING: training}
    logger.info("modes chosen", extra={"modes": result})
    return result
