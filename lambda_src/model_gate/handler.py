"""Lambda handlers of the model quality gate and the run accounting (thin: the work is in `gate`,
`store` and `costs`).

Handler strings (asset root `lambda_src/`): `model_gate.handler.evaluate`,
`model_gate.handler.accept`, `model_gate.handler.account`. Runtime: Python 3.13 with the
AWS-managed Powertools layer; standard library + boto3 otherwise.

Environment:
    ACCEPTED_VERSIONS_TABLE   the accepted-version DynamoDB table (evaluate, accept).
    POWERTOOLS_SERVICE_NAME   Logger `service` key.

evaluate (after the solution version is ACTIVE, before batch inference)
    in:  {"solutionVersionArn": "arn:aws:personalize:...:solution/<name>/<id>",
          "rule": {"metric": "normalized_discounted_cumulative_gain_at_25", "minValue": 0.01,
                   "maxRelativeDrop": 0.1, "onFail": "fail" | "use_last_accepted",
                   "onMissingMetric": "reject" | "accept"}}          # rule and each key optional
    calls: personalize DescribeSolutionVersion, GetSolutionMetrics; dynamodb GetItem.
    out: {"decision": "ACCEPTED" | "REJECTED", "accepted": bool,
          "action": "use_candidate" | "use_last_accepted",
          "solutionVersionArn": <the version the batch job must use>,
          "candidateVersionArn", "lastAcceptedVersionArn", "lastAcceptedRunId", "metric",
          "candidateValue", "lastAcceptedValue", "relativeChange", "firstRun", "usedFallback",
          "metricMissing", "reason", "rule": {...}, "candidateMetrics": {...},
          "solutionArn", "trainingHours"}
    raises ModelQualityGateFailed (message = the reason: both figures and the rule) when the run
    must stop; SolutionVersionNotActive; InvalidGateRule; InvalidEvent.

accept (once per solution after write_manifest: the state machine maps over its "solutions")
    in:  {"gate": <evaluate's output, or null>, "runId": "...", "runStartedAt": "$$.Execution.StartTime",
          "output": {"status": <the solution's status in the manifest>, "manifest": "s3://..."}}
    calls: dynamodb TransactWriteItems (and GetItem when a newer acceptance wins).
    out: {"recorded": bool, "reason": "...", "acceptedVersionArn": ..., "acceptedRunId": ...}
    Nothing is recorded, without an error, when the output's status is not SUCCEEDED (a version is
    accepted only when its solution's output succeeded), when there is no gate (the solution failed
    before its gate), when the candidate was rejected (fallback run: the last accepted version stays) or when the
    run reused the last accepted version (a cadence's REUSE: gate action `reuse_last_accepted`, no training).
    raises InvalidEvent.

account (run accounting, for the manifest and the notice)
    in:  {"glueJobRun": <the Glue .sync task's output, or {"JobName": ..., "Id": ...}>,
          "trainingHours": 0.8,                 # evaluate's trainingHours, or a list of them (one per
                                                # solution; nulls skipped, all null -> null), added up
          "batchRecommendations": 2100,         # answered users; or a list of per-file counts (the
                                                # Map's users_with_recommendations), added up
          "solutions": [<solution records>],    # or, instead of the two above: the state machine's
                                                # $.solutions; each record's gate.trainingHours and its
                                                # processedFiles' users_with_recommendations are added up
          "ingestedBytes": 12345678,            # optional
          "stateTransitions": 120,              # optional
          "prices": {"glue_standard_per_dpu_hour": 0.44, ...}}    # optional, see costs.PriceTable
    calls: glue GetJobRun, only when the given job run carries no usage figures.
    out: {"glue": {"dpuSeconds", "source", "executionClass"}, "trainingHours",
          "cost": {"currency", "total", "complete", "unpriced", "lines": [...]}, "costSummary": "..."}
"""

from __future__ import annotations

import os
from typing import Any
from collections.abc import Mapping

from aws_lambda_powertools import Logger

from pipeline_contracts.lambda_runtime import ClientCache, required_text

from pipeline_contracts.run_modes import REUSE_ACTION

from .costs import PriceTable, RunUsage, estimate_run_cost, glue_dpu_seconds
from .gate import (
    GateRule,
    InvalidEvent,
    ModelQualityGateFailed,
    SolutionVersionNotActive,
    decide,
)
from .store import AcceptedVersionStore, solution_arn_of

__all__ = ["evaluate", "accept", "account"]

TABLE_ENV = "ACCEPTED_VERSIONS_TABLE"

logger = Logger()

client = ClientCache()


def _store() -> AcceptedVersionStore:
    table = os.environ.get(TABLE_ENV)
    if not table:
        raise InvalidEvent(f"environment variable {TABLE_ENV} (the accepted-version table) is not set")
    return AcceptedVersionStore(client("dynamodb"), table)


def _required_str(event: Mapping[str, Any], name: str) -> str:
    return required_text(event, name, InvalidEvent)


def _required_object(event: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = event.get(name)
    if not isinstance(value, Mapping):
        raise InvalidEvent(f"event needs an object {name!r}")
    return value


def _optional_number(event: Mapping[str, Any], name: str) -> float | None:
    value = event.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidEvent(f"{name} {value!r} is not a non-negative number")
    return value


def _count_or_sum(event: Mapping[str, Any], name: str) -> float | None:
    """A non-negative number, or a list of them (one per output file), added up."""
    value = event.get(name)
    if isinstance(value, list):
        return sum(_optional_number({name: part}, name) or 0 for part in value)
    return _optional_number(event, name)


def _figures_of_solutions(records: Any) -> dict[str, list[Any]]:
    """The training hours and per-file answered counts of the state machine's solution records."""
    if not isinstance(records, list) or not all(isinstance(record, Mapping) for record in records):
        raise InvalidEvent("solutions must be a list of solution records (objects)")
    hours, counts = [], []
    for record in records:
        gate = record.get("gate")
        hours.append(gate.get("trainingHours") if isinstance(gate, Mapping) else None)
        for result in record.get("processedFiles") or ():
            if not isinstance(result, Mapping):
                raise InvalidEvent(f"solution {record.get('name')!r}: processedFiles must hold objects")
            counts.append(result.get("users_with_recommendations"))
    return {"trainingHours": hours, "batchRecommendations": counts}


def _hours(event: Mapping[str, Any], name: str) -> float | None:
    """A non-negative number, null, or a list of them (one per solution) added up: nulls (a solution without
    training figures) are skipped; a list of nulls only (or an empty one) is null, "not known", not 0."""
    value = event.get(name)
    if not isinstance(value, list):
        return _optional_number(event, name)
    known = [hours for hours in (_optional_number({name: part}, name) for part in value) if hours is not None]
    return sum(known) if known else None


def _not_recorded(reason: str, gate: Mapping[str, Any]) -> dict[str, Any]:
    result = {
        "recorded": False,
        "reason": reason,
        "acceptedVersionArn": gate.get("lastAcceptedVersionArn"),
        "acceptedRunId": gate.get("lastAcceptedRunId"),
    }
    logger.info("Nothing to accept", extra=result)
    return result


def _solution_arn(version_arn: str) -> str:
    try:
        return solution_arn_of(version_arn)
    except ValueError as error:
        raise InvalidEvent(str(error)) from None


@logger.inject_lambda_context(clear_state=True)
def evaluate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    candidate = _required_str(event, "solutionVersionArn")
    solution_arn = _solution_arn(candidate)
    rule = GateRule.from_mapping(event.get("rule"))
    personalize = client("personalize")
    version = personalize.describe_solution_version(solutionVersionArn=candidate)["solutionVersion"]
    if version.get("status") != "ACTIVE":
        raise SolutionVersionNotActive(
            f"{candidate} is {version.get('status')!r}, not ACTIVE: it has no metrics to judge"
        )
    metrics = personalize.get_solution_metrics(solutionVersionArn=candidate)
    last = _store().read_last_accepted(solution_arn)
    decision = decide(candidate, metrics, last, rule)
    logger.append_keys(candidate=candidate, action=decision.action)
    if decision.action == "fail":
        logger.error("Model quality gate failed the run", extra={"reason": decision.reason})
        raise ModelQualityGateFailed(decision.reason)
    log = logger.info if decision.accepted else logger.warning
    log("Model quality gate decided", extra={"reason": decision.reason})
    return {**decision.as_dict(), "solutionArn": solution_arn, "trainingHours": version.get("trainingHours")}


@logger.inject_lambda_context(clear_state=True)
def accept(event: dict[str, Any], context: Any) -> dict[str, Any]:
    gate = _required_object(event, "gate") if event.get("gate") is not None else None
    output = _required_object(event, "output")
    run_id = _required_str(event, "runId")
    started = _required_str(event, "runStartedAt")
    if output.get("status") != "SUCCEEDED":
        return _not_recorded(
            f"run {run_id}: the output's status is {output.get('status')!r}, not 'SUCCEEDED'; nothing is accepted",
            gate or {},
        )
    if gate is None:
        return _not_recorded(f"run {run_id}: no quality gate decision (no trained version); nothing is accepted", {})
    if gate.get("action") == REUSE_ACTION:  # the cadence reused the last accepted version: nothing was trained
        return _not_recorded(
            f"run {run_id} reused the last accepted version {gate.get('solutionVersionArn')} (cadence): nothing new "
            "to accept",
            gate,
        )
    if gate.get("action") != "use_candidate":
        kept = gate.get("lastAcceptedVersionArn") or "none"
        return _not_recorded(
            f"run {run_id} published with a rejected candidate's fallback; the last accepted version stays {kept}",
            gate,
        )
    candidate = _required_str(gate, "candidateVersionArn")
    metrics = gate.get("candidateMetrics") or {}
    if not isinstance(metrics, Mapping):
        raise InvalidEvent("gate.candidateMetrics must be an object of metric names to numbers")
    _solution_arn(candidate)
    try:
        recorded = _store().record_accepted(
            candidate, metrics, run_id, started, manifest_uri=str(output.get("manifest") or "")
        )
    except ValueError as error:
        raise InvalidEvent(str(error)) from None
    result = recorded.as_dict()
    (logger.info if recorded.recorded else logger.warning)("Acceptance", extra=result)
    return result


@logger.inject_lambda_context(clear_state=True)
def account(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job_run = _required_object(event, "glueJobRun")
    if "DPUSeconds" not in job_run and "ExecutionTime" not in job_run and "JobRun" not in job_run:
        job_name = _required_str(job_run, "JobName")
        run_id = job_run.get("Id") or job_run.get("JobRunId")
        if not isinstance(run_id, str) or not run_id:
            raise InvalidEvent("glueJobRun needs usage figures (DPUSeconds or ExecutionTime) or JobName and Id")
        job_run = client("glue").get_job_run(JobName=job_name, RunId=run_id)
    prices = PriceTable.from_mapping(event.get("prices"))
    try:
        glue = glue_dpu_seconds(job_run)
    except ValueError as error:
        raise InvalidEvent(str(error)) from None
    figures = _figures_of_solutions(event["solutions"]) if "solutions" in event else event
    training_hours = _hours(figures, "trainingHours")
    usage = RunUsage(
        training_hours=training_hours,
        glue=glue,
        batch_recommendations=_count_or_sum(figures, "batchRecommendations"),
        ingested_bytes=_optional_number(event, "ingestedBytes"),
        state_transitions=_optional_number(event, "stateTransitions"),
    )
    estimate = estimate_run_cost(usage, prices)
    result = {
        "glue": glue.as_dict(),
        "trainingHours": training_hours,
        "cost": estimate.as_dict(),
        "costSummary": estimate.describe(),
    }
    logger.info("Run accounted", extra={"total": estimate.total, "complete": estimate.complete})
    return result
