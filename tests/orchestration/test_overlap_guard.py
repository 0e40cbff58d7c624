"""The overlap guard executed: the synthesized definition with the real run-lease handlers, the lease table in moto
DynamoDB, holders described by moto's own Step Functions (a second execution started from inside the first runs to
its end while the first is RUNNING; see pipeline_rehearsal/)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3

from lambda_src.run_lease.lease import LEASE_ID, running_elsewhere
from pipeline_contracts.run_lease import EXPIRY_ATTRIBUTE, KEY_ATTRIBUTE
from tests.support.orchestration_stack import GUARD_STATE, SynthesizedOrchestration
from pipeline_rehearsal import EPOCH, ExecutionResult, GlueScript, OfflineStepFunctions, ServiceError

Offline = tuple[OfflineStepFunctions, str]


def guard_of(result: ExecutionResult) -> dict[str, Any]:
    """What the guard wrote to `$.guard` (the acquire function's answer)."""
    (exited,) = [
        event
        for event in result.events
        if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == GUARD_STATE
    ]
    return json.loads(exited["stateExitedEventDetails"]["output"])["guard"]


def lease(aws: OfflineStepFunctions, orchestration: SynthesizedOrchestration) -> dict[str, Any] | None:
    """The lease item as the table holds it now (None: no run holds the lease)."""
    item = aws.client("dynamodb").get_item(
        TableName=orchestration.lease_table, Key={KEY_ATTRIBUTE: {"S": LEASE_ID}}, ConsistentRead=True
    )
    return item.get("Item")


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def access_denied(params: dict[str, Any]) -> dict[str, Any]:
    """A scripted answer: the call is refused (AccessDeniedException)."""
    raise ServiceError("AccessDeniedException", f"not authorized: {sorted(params)}")


def skipped_output(holder: str) -> dict[str, str]:
    return {"status": "SKIPPED", "reason": f"Another execution of this state machine is still running: {holder}"}


def test_a_run_started_while_another_works_is_skipped_naming_it(
    offline: Offline, orchestration: SynthesizedOrchestration
) -> None:
    aws, arn = offline
    second: list[ExecutionResult] = []

    def start_second_run(params: dict[str, Any]) -> None:
        orchestration.write_batch_input(aws, params)
        if not second:  # only from the first run's Glue start: the second must never get here
            second.append(aws.run(arn, name="second"))

    aws.glue.on_start = start_second_run
    first = aws.run(arn, name="first")

    assert first.status == "SUCCEEDED", first.cause
    (skipped,) = second
    assert (skipped.status, skipped.output) == ("SUCCEEDED", skipped_output(first.arn))
    assert skipped_output(first.arn)["reason"] == running_elsewhere(first.arn)
    assert skipped.states_entered == [GUARD_STATE, "Overlap guard: lease taken?", "Skip: another run is active", "Skipped"]
    assert guard_of(skipped)["outcome"] == "SKIPPED" and guard_of(first)["outcome"] == "ACQUIRED"
    # The second asked Step Functions about the holder, which was RUNNING, and left its lease alone.
    assert [call.params for call in aws.calls_to("stepfunctions", "DescribeExecution")] == [{"executionArn": first.arn}]
    assert len(aws.calls_to("glue", "StartJobRun")) == 1
    assert len(aws.lambdas.invocations_of(orchestration.run_names_function)) == 1
    assert lease(aws, orchestration) is None  # the first gave it back at its end


def test_two_runs_started_in_the_same_second_only_one_works(
    offline: Offline, orchestration: SynthesizedOrchestration
) -> None:
    """The second execution starts in the first's second, as soon as the first's guard has its answer (the moment
    ListExecutions could show either run alone): the second skips. (It starts once the acquire invocation returned:
    the harness runs one invocation of a function at a time, as one execution environment.)"""
    aws, arn = offline
    second: list[ExecutionResult] = []
    events = boto3.DEFAULT_SESSION.events
    acquire_function = orchestration.definition["States"][GUARD_STATE]["Parameters"]["FunctionName"]

    def start_second_run(context: dict[str, Any], **_: Any) -> None:
        if context.get("sfn_offline_params", {}).get("FunctionName") == acquire_function:
            events.unregister("after-call.lambda.Invoke", start_second_run)  # once
            second.append(aws.run(arn, name="second"))

    events.register("after-call.lambda.Invoke", start_second_run)
    try:
        first = aws.run(arn, name="first")
    finally:
        events.unregister("after-call.lambda.Invoke", start_second_run)

    assert first.status == "SUCCEEDED", first.cause
    (skipped,) = second
    assert skipped.output == skipped_output(first.arn)
    sfn = aws.client("stepfunctions")
    starts = [sfn.describe_execution(executionArn=run.arn)["startDate"] for run in (first, skipped)]
    assert abs((starts[1] - starts[0]).total_seconds()) < 1
    assert len(aws.calls_to("glue", "StartJobRun")) == 1


def test_the_guard_does_not_list_executions(offline: Offline) -> None:
    """ListExecutions, eventually consistent, may omit the run itself: the guard no longer asks it at all."""
    aws, arn = offline
    aws.answer("stepfunctions", "ListExecutions", access_denied)
    result = aws.run(arn, name="alone")

    assert result.status == "SUCCEEDED", result.cause
    assert guard_of(result)["outcome"] == "ACQUIRED"
    assert aws.calls_to("stepfunctions", "ListExecutions") == []


def test_a_failed_run_leaves_its_lease_and_the_next_run_takes_it_over(
    offline: Offline, orchestration: SynthesizedOrchestration
) -> None:
    aws, arn = offline
    aws.glue.script(GlueScript(state="FAILED", error_message="out of memory"))
    crashed = aws.run(arn, name="crashed")
    assert (crashed.status, crashed.error) == ("FAILED", "TransformFailed")
    assert lease(aws, orchestration)["holder"] == {"S": crashed.arn}  # failed ends do not release

    result = aws.run(arn, name="next")

    assert result.status == "SUCCEEDED", result.cause
    guard = guard_of(result)
    assert (guard["outcome"], guard["previousHolder"]) == ("TAKEN_OVER", crashed.arn)
    assert guard["reason"] == f"took over a stale lease: the lease holder {crashed.arn} ended FAILED"
    assert lease(aws, orchestration) is None


def _lease_of_a_missing_run(aws: OfflineStepFunctions, orchestration: SynthesizedOrchestration, arn: str) -> str:
    """A lease a run of a deleted and re-created state machine left (Step Functions no longer knows it)."""
    holder = execution_arn(arn, "gone")
    aws.client("dynamodb").put_item(
        TableName=orchestration.lease_table,
        Item={
            KEY_ATTRIBUTE: {"S": LEASE_ID},
            "holder": {"S": holder},
            EXPIRY_ATTRIBUTE: {"N": str(int(EPOCH.timestamp()) + 3600)},
            "startedAt": {"S": "2026-01-04T02:00:00.000Z"},
        },
    )
    return holder


def _expired_lease_of_a_running_run(aws: OfflineStepFunctions, orchestration: SynthesizedOrchestration, arn: str) -> str:
    """A lease whose expiry passed (this run's start time): taken over without asking about its holder."""
    holder = _lease_of_a_missing_run(aws, orchestration, arn)
    aws.client("dynamodb").update_item(
        TableName=orchestration.lease_table,
        Key={KEY_ATTRIBUTE: {"S": LEASE_ID}},
        UpdateExpression=f"SET {EXPIRY_ATTRIBUTE} = :now",
        ExpressionAttributeValues={":now": {"N": str(int(EPOCH.timestamp()))}},
    )
    aws.answer("stepfunctions", "DescribeExecution", lambda params: {"status": "RUNNING"})
    return holder


def test_a_stale_lease_found_at_start_is_taken_over(offline: Offline, orchestration: SynthesizedOrchestration) -> None:
    aws, arn = offline
    stale_leases: list[tuple[Callable[..., str], str]] = [
        (_lease_of_a_missing_run, "does not exist"),
        (_expired_lease_of_a_running_run, "expired at"),
    ]
    for make, words in stale_leases:
        holder = make(aws, orchestration, arn)
        result = aws.run(arn, name=make.__name__.strip("_").replace("_", "-"))

        assert result.status == "SUCCEEDED", result.cause
        guard = guard_of(result)
        assert (guard["outcome"], guard["previousHolder"]) == ("TAKEN_OVER", holder)
        assert words in guard["reason"], guard["reason"]
    # The expired lease was judged by its expiry alone: only the missing holder was described.
    assert [call.params["executionArn"] for call in aws.calls_to("stepfunctions", "DescribeExecution")] == [
        execution_arn(arn, "gone")
    ]


def test_run_one_then_run_two_each_find_the_lease_free(offline: Offline, orchestration: SynthesizedOrchestration) -> None:
    aws, arn = offline
    first = aws.run(arn, name="first")
    assert first.status == "SUCCEEDED", first.cause
    assert first.states_entered[-3:] == ["Summarize run", "Release run lease", "Run succeeded"]
    assert lease(aws, orchestration) is None

    second = aws.run(arn, name="second")

    assert second.status == "SUCCEEDED", second.cause
    assert guard_of(second)["outcome"] == "ACQUIRED"
    assert second.output == {**second.output, "status": "SUCCEEDED"}
    assert aws.calls_to("stepfunctions", "DescribeExecution") == []
    assert len(aws.calls_to("glue", "StartJobRun")) == 2


def test_a_release_that_fails_does_not_fail_a_finished_run(
    offline: Offline, orchestration: SynthesizedOrchestration
) -> None:
    """The next run finds the lease of a SUCCEEDED holder stale."""
    aws, arn = offline
    aws.answer("dynamodb", "DeleteItem", access_denied)
    first = aws.run(arn, name="first")

    assert first.status == "SUCCEEDED", first.cause
    assert first.output["status"] == "SUCCEEDED" and "runId" in first.output
    assert lease(aws, orchestration)["holder"] == {"S": first.arn}
    second = aws.run(arn, name="second")
    assert (guard_of(second)["outcome"], guard_of(second)["previousHolder"]) == ("TAKEN_OVER", first.arn)
