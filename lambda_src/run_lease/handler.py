"""Lambda handlers of the run lease (thin: the decisions are in `lease`, the table in `store`).

Handler strings (asset root `lambda_src/`): `run_lease.handler.acquire`, `run_lease.handler.release`. Both are
invoked by the state machine only, which passes the table (so the definition shows what the lease depends on; the
functions' roles may touch that one table only).

acquire (the overlap guard, the run's first state)
    in:  {"table": "<lease table>", "executionArn": "$$.Execution.Id", "startTime": "$$.Execution.StartTime",
          "now": "$$.State.EnteredTime", "executionTimeoutSeconds": 86400}
    calls: dynamodb PutItem (conditional), GetItem (consistent); states DescribeExecution of the holder.
    out: {"acquired": bool, "outcome": "ACQUIRED" | "ALREADY_HELD" | "TAKEN_OVER" | "SKIPPED",
          "holder", "expiresAt", "previousHolder", "reason"}
release (the normal ends of a run: success, and "Solutions failed")
    in:  {"table": "<lease table>", "executionArn": "$$.Execution.Id"}
    calls: dynamodb DeleteItem conditioned on holder = executionArn.
    out: {"released": bool, "reason"}
Both raise InvalidEvent naming the field that is missing or malformed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from pipeline_contracts.lambda_runtime import ClientCache, required_text

from . import lease
from .lease import HOLDER_MISSING, InvalidEvent
from .store import LeaseTable

__all__ = ["acquire", "release"]

logger = Logger()

client = ClientCache()


def _text(event: Mapping[str, Any], name: str) -> str:
    return required_text(event, name, InvalidEvent)


def _execution_arn(event: Mapping[str, Any]) -> str:
    value = _text(event, "executionArn")
    if not value.startswith("arn:") or ":states:" not in value or ":execution:" not in value:
        raise InvalidEvent(f"executionArn {value!r} is not a Step Functions execution ARN (arn:...:execution:...)")
    return value


def _timeout_seconds(event: Mapping[str, Any]) -> int:
    value = event.get("executionTimeoutSeconds")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidEvent(f"executionTimeoutSeconds {value!r} is not a positive whole number of seconds")
    return value


def holder_status(execution_arn: str) -> str:
    """The holder's execution status, or HOLDER_MISSING when Step Functions does not know it."""
    try:
        return str(client("stepfunctions").describe_execution(executionArn=execution_arn)["status"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            return HOLDER_MISSING
        raise


@logger.inject_lambda_context(clear_state=True)
def acquire(event: dict[str, Any], context: Any) -> dict[str, Any]:
    me = _execution_arn(event)
    wanted = lease.lease_for(me, _text(event, "startTime"), _timeout_seconds(event))
    now = _text(event, "now")
    outcome = lease.acquire(LeaseTable(client("dynamodb"), _text(event, "table")), holder_status, wanted, now=now)
    logger.info("Run lease decided", extra={"execution": me, **outcome})
    return outcome


@logger.inject_lambda_context(clear_state=True)
def release(event: dict[str, Any], context: Any) -> dict[str, Any]:
    me = _execution_arn(event)
    outcome = lease.release(LeaseTable(client("dynamodb"), _text(event, "table")), me)
    logger.info("Run lease release", extra={"execution": me, **outcome})
    return outcome
