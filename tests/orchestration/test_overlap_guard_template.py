"""The run lease as synthesized: its table, its functions' least privilege, and the guard's and release states'
wiring (what the executed tests in test_overlap_guard.py rely on)."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_contracts.run_lease import EXPIRY_ATTRIBUTE, KEY_ATTRIBUTE
from pipeline_rehearsal.deployment import GUARD_STATE, SynthesizedOrchestration
from tests.support.templates import grants, only, resources, role_statements

from .conftest import HOOK_STATE

LEASE_HANDLERS = ("run_lease.handler.acquire", "run_lease.handler.release")


@pytest.fixture(scope="module", params=["test", "hooked"])
def synthesized_machine(request: pytest.FixtureRequest, synthesized: dict[str, SynthesizedOrchestration]) -> Any:
    return synthesized[request.param]


def table_of(orchestration: SynthesizedOrchestration) -> tuple[str, dict[str, Any]]:
    return only(orchestration.template, "AWS::DynamoDB::Table")


def role_grants(orchestration: SynthesizedOrchestration, handler: str) -> dict[str, set[str]]:
    """Action -> resources of the function's role, resolved to the fake names (the log group's grant left out)."""
    function = orchestration.template["Resources"][orchestration.functions[handler].logical_id]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        {**statement, "Resource": orchestration.cloud.resolve(statement["Resource"])}
        for statement in role_statements(orchestration.template, role)
    ]
    return {action: arns for action, arns in grants(statements).items() if not action.startswith("logs:")}


def test_the_lease_table_is_an_on_demand_ttl_table_under_the_data_key_without_a_fixed_name(
    synthesized_machine: SynthesizedOrchestration,
) -> None:
    orchestration = synthesized_machine
    logical_id, table = table_of(orchestration)
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": EXPIRY_ATTRIBUTE, "Enabled": True}
    sse = orchestration.cloud.resolve(properties["SSESpecification"])
    assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": orchestration.expected("data_key_arn")}
    # Ephemeral: removed with the stack, no fixed name to block a re-create, no point-in-time recovery.
    assert "TableName" not in properties and "PointInTimeRecoverySpecification" not in properties
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Delete", "Delete")
    assert orchestration.lease_table == orchestration.cloud.physical_name(logical_id)


def test_the_acquire_function_may_write_and_read_the_lease_and_describe_this_machines_executions_only(
    synthesized_machine: SynthesizedOrchestration,
) -> None:
    orchestration = synthesized_machine
    table = f'"{orchestration.cloud.arn(table_of(orchestration)[0])}"'
    key = f'"{orchestration.expected("data_key_arn")}"'
    executions = (
        f'"arn:aws:states:{orchestration.region}:123456789012:execution:{orchestration.state_machine_name}:*"'
    )
    table_key = {action: {key} for action in ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")}
    assert role_grants(orchestration, "run_lease.handler.acquire") == {
        "dynamodb:PutItem": {table},
        "dynamodb:GetItem": {table},
        "states:DescribeExecution": {executions},
        **table_key,
    }
    assert role_grants(orchestration, "run_lease.handler.release") == {"dynamodb:DeleteItem": {table}, **table_key}


def test_the_guard_asks_for_the_lease_with_the_executions_own_times_and_timeout(
    synthesized_machine: SynthesizedOrchestration,
) -> None:
    orchestration = synthesized_machine
    states = orchestration.definition["States"]
    guard = states[GUARD_STATE]
    assert guard["Parameters"] == {
        "FunctionName": orchestration.functions["run_lease.handler.acquire"].arn,
        "Payload": {
            "table": orchestration.lease_table,
            "executionArn.$": "$$.Execution.Id",
            "startTime.$": "$$.Execution.StartTime",
            "now.$": "$$.State.EnteredTime",
            "executionTimeoutSeconds": orchestration.config.execution_timeout_hours * 3600,
        },
    }
    assert orchestration.properties["DefinitionString"] and guard["ResultPath"] == "$.guard"
    # No lease, no run: an error fails the run at its first state, with the function's type and message.
    (catch,) = guard["Catch"]
    assert (catch["ErrorEquals"], catch["ResultPath"]) == (["States.ALL"], "$.guardError")
    assert catch["Next"] == "Overlap guard failure: function error?"
    assert states["Overlap guard failure: type and message only"]["Next"] == "Overlap guard failed"
    assert states["Overlap guard failed"]["Error"] == "OverlapGuardFailed"
    choice = states[guard["Next"]]
    assert choice["Choices"] == [{"Variable": "$.guard.acquired", "BooleanEquals": True, "Next": "Prepare run"}]
    assert states[choice["Default"]]["Parameters"] == {"status": "SKIPPED", "reason.$": "$.guard.reason"}


def test_the_success_end_releases_the_lease_and_ends_whatever_the_release_did(
    synthesized_machine: SynthesizedOrchestration,
) -> None:
    orchestration = synthesized_machine
    states = orchestration.definition["States"]
    release = states["Release run lease"]
    assert states["Summarize run"]["Next"] == "Release run lease"
    assert release["Parameters"] == {
        "FunctionName": orchestration.functions["run_lease.handler.release"].arn,
        "Payload": {"table": orchestration.lease_table, "executionArn.$": "$$.Execution.Id"},
    }
    assert release["ResultPath"] is None and release["Next"] == "Run succeeded"
    assert release["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Run succeeded"}]


def test_the_stack_has_one_lease_and_its_functions(synthesized: dict[str, SynthesizedOrchestration]) -> None:
    for orchestration in synthesized.values():
        assert len(resources(orchestration.template, "AWS::DynamoDB::Table")) == 1
        assert set(LEASE_HANDLERS) <= set(orchestration.functions)
    assert HOOK_STATE in orchestration.definition["States"]
