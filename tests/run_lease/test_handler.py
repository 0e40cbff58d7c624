"""The real handlers: the lease table on moto DynamoDB, DescribeExecution through botocore Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lambda_src.run_lease import handler
from lambda_src.run_lease.lease import EXPIRY_MARGIN_SECONDS, LEASE_ID, InvalidEvent, running_elsewhere
from pipeline_contracts.run_lease import EXPIRY_ATTRIBUTE, KEY_ATTRIBUTE
from tests.support.lambda_context import lambda_context

from .conftest import REGION, TABLE

MACHINE = f"arn:aws:states:{REGION}:123456789012:execution:pbp-dev-batch-pipeline"
FIRST, SECOND, CRASHED = f"{MACHINE}:first", f"{MACHINE}:second", f"{MACHINE}:crashed"
START = "2026-01-04T03:00:00.000Z"
START_SECONDS = 1767495600
TIMEOUT = 3 * 3600
CONTEXT = lambda_context("run-lease", 128)


@pytest.fixture
def sfn(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The handler's clients: moto's DynamoDB, and a Step Functions client whose answers the test scripts."""
    client = boto3.client("stepfunctions", region_name=REGION)
    handler.client.clear()
    handler.client.use("dynamodb", dynamodb)
    handler.client.use("stepfunctions", client)
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()
    handler.client.clear()


def acquire_event(execution: str, now: str = START, start: str = START) -> dict[str, Any]:
    return {"table": TABLE, "executionArn": execution, "startTime": start, "now": now, "executionTimeoutSeconds": TIMEOUT}


def acquire(execution: str, **times: str) -> dict[str, Any]:
    return handler.acquire(acquire_event(execution, **times), CONTEXT)


def release(execution: str) -> dict[str, Any]:
    return handler.release({"table": TABLE, "executionArn": execution}, CONTEXT)


def holder_status(stub: Stubber, execution: str, status: str) -> None:
    stub.add_response(
        "describe_execution",
        {
            "executionArn": execution,
            "stateMachineArn": MACHINE.replace(":execution:", ":stateMachine:"),
            "status": status,
            "startDate": START_SECONDS,
        },
        {"executionArn": execution},
    )


def lease_item(dynamodb: Any) -> dict[str, Any] | None:
    return dynamodb.get_item(TableName=TABLE, Key={KEY_ATTRIBUTE: {"S": LEASE_ID}}, ConsistentRead=True).get("Item")


def put_lease(dynamodb: Any, holder: str, expires_at: int) -> None:
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            KEY_ATTRIBUTE: {"S": LEASE_ID},
            "holder": {"S": holder},
            EXPIRY_ATTRIBUTE: {"N": str(expires_at)},
            "startedAt": {"S": "2026-01-03T03:00:00.000Z"},
        },
    )


def test_the_first_acquire_writes_the_lease_item(sfn: Stubber, dynamodb: Any) -> None:
    outcome = acquire(FIRST)
    assert (outcome["acquired"], outcome["outcome"]) == (True, "ACQUIRED")
    assert lease_item(dynamodb) == {
        KEY_ATTRIBUTE: {"S": LEASE_ID},
        "holder": {"S": FIRST},
        EXPIRY_ATTRIBUTE: {"N": str(START_SECONDS + TIMEOUT + EXPIRY_MARGIN_SECONDS)},
        "startedAt": {"S": START},
        "acquiredAt": {"S": START},
    }


def test_two_acquires_in_the_same_second_exactly_one_proceeds(sfn: Stubber, dynamodb: Any) -> None:
    """The second execution's put lands just before the first's (both started in the same second): the first finds
    the lease held by a running execution and skips, naming it."""
    second: list[dict[str, Any]] = []

    def second_gets_in_first(**_: Any) -> None:
        dynamodb.meta.events.unregister("before-call.dynamodb.PutItem", second_gets_in_first)  # once
        second.append(acquire(SECOND))

    dynamodb.meta.events.register("before-call.dynamodb.PutItem", second_gets_in_first)
    holder_status(sfn, SECOND, "RUNNING")
    try:
        first = acquire(FIRST)
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.PutItem", second_gets_in_first)

    assert [outcome["acquired"] for outcome in (second[0], first)] == [True, False]
    assert first["reason"] == running_elsewhere(SECOND)
    assert lease_item(dynamodb)["holder"] == {"S": SECOND}


def test_an_acquire_retried_after_its_put_landed_proceeds(sfn: Stubber, dynamodb: Any) -> None:
    """A Lambda retry (or a redrive of a run whose guard failed after writing) finds its own lease."""
    assert acquire(FIRST)["outcome"] == "ACQUIRED"
    assert acquire(FIRST, now="2026-01-04T03:00:07.000Z")["outcome"] == "ALREADY_HELD"


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
def test_the_stale_lease_of_an_ended_run_is_taken_over(sfn: Stubber, dynamodb: Any, status: str) -> None:
    put_lease(dynamodb, CRASHED, START_SECONDS + 3600)
    holder_status(sfn, CRASHED, status)
    outcome = acquire(FIRST)
    assert (outcome["acquired"], outcome["outcome"], outcome["previousHolder"]) == (True, "TAKEN_OVER", CRASHED)
    assert lease_item(dynamodb)["holder"] == {"S": FIRST}


def test_the_lease_of_an_execution_step_functions_does_not_know_is_taken_over(sfn: Stubber, dynamodb: Any) -> None:
    put_lease(dynamodb, CRASHED, START_SECONDS + 3600)
    sfn.add_client_error(
        "describe_execution", "ExecutionDoesNotExist", "Execution Does Not Exist", 400, {"executionArn": CRASHED}
    )
    assert acquire(FIRST)["outcome"] == "TAKEN_OVER"


def test_a_running_holder_keeps_its_lease(sfn: Stubber, dynamodb: Any) -> None:
    put_lease(dynamodb, SECOND, START_SECONDS + 3600)
    holder_status(sfn, SECOND, "RUNNING")
    outcome = acquire(FIRST)
    assert (outcome["acquired"], outcome["reason"]) == (False, running_elsewhere(SECOND))
    assert lease_item(dynamodb)["holder"] == {"S": SECOND}


@pytest.mark.parametrize(("now", "taken"), [("03:59:59", False), ("04:00:00", True), ("04:00:01", True)])
def test_an_expired_lease_is_taken_over_without_asking_step_functions(
    sfn: Stubber, dynamodb: Any, now: str, taken: bool
) -> None:
    put_lease(dynamodb, SECOND, START_SECONDS + 3600)  # expires at 04:00:00
    if not taken:
        holder_status(sfn, SECOND, "RUNNING")
    assert acquire(FIRST, now=f"2026-01-04T{now}.000Z")["acquired"] is taken


def test_a_take_over_race_lost_skips_naming_the_winner(sfn: Stubber, dynamodb: Any) -> None:
    """Both find the crashed run's lease; the second replaces it just before the first does."""
    put_lease(dynamodb, CRASHED, START_SECONDS + 3600)
    holder_status(sfn, CRASHED, "FAILED")  # asked by the first
    holder_status(sfn, CRASHED, "FAILED")  # asked by the second, which then replaces the lease
    holder_status(sfn, SECOND, "RUNNING")  # asked by the first on its next round
    second: list[dict[str, Any]] = []

    def second_replaces_first(params: dict[str, Any], **_: Any) -> None:
        if "holder = " in params.get("ConditionExpression", ""):
            dynamodb.meta.events.unregister("before-parameter-build.dynamodb.PutItem", second_replaces_first)  # once
            second.append(acquire(SECOND))

    dynamodb.meta.events.register("before-parameter-build.dynamodb.PutItem", second_replaces_first)
    try:
        first = acquire(FIRST)
    finally:
        dynamodb.meta.events.unregister("before-parameter-build.dynamodb.PutItem", second_replaces_first)

    assert second[0]["outcome"] == "TAKEN_OVER"
    assert (first["acquired"], first["reason"]) == (False, running_elsewhere(SECOND))
    assert lease_item(dynamodb)["holder"] == {"S": SECOND}


def test_release_deletes_only_the_holders_lease(sfn: Stubber, dynamodb: Any) -> None:
    acquire(FIRST)
    assert release(SECOND)["released"] is False and lease_item(dynamodb)["holder"] == {"S": FIRST}
    assert release(FIRST)["released"] is True and lease_item(dynamodb) is None
    assert release(FIRST)["released"] is False
    assert acquire(SECOND)["outcome"] == "ACQUIRED"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"table": ""}, r"^event needs a non-empty string 'table'"),
        ({"executionArn": "first"}, r"^executionArn 'first' is not a Step Functions execution ARN"),
        ({"startTime": "2026-01-04 03:00"}, r"^startTime '2026-01-04 03:00' has no UTC offset"),
        ({"now": "soon"}, r"^now 'soon' is not an ISO 8601 time"),
        ({"executionTimeoutSeconds": 0}, r"^executionTimeoutSeconds 0 is not a positive whole number"),
        ({"executionTimeoutSeconds": True}, r"^executionTimeoutSeconds True is not a positive whole number"),
        ({"executionTimeoutSeconds": "86400"}, r"^executionTimeoutSeconds '86400' is not a positive whole number"),
    ],
)
def test_a_malformed_event_is_refused_naming_the_field(
    sfn: Stubber, dynamodb: Any, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidEvent, match=message):
        handler.acquire({**acquire_event(FIRST), **change}, CONTEXT)
    assert lease_item(dynamodb) is None
