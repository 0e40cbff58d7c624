"""The offline harness itself, on hand-written definitions: each bridge of moto's interpreter gaps."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from pipeline_rehearsal import FakeCloud, OfflineStepFunctions, resolve_definition

SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/s"


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


def test_sdk_casing_error_names_and_the_virtual_clock() -> None:
    definition = machine(
        {
            "Create": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:personalize:createSolutionVersion",
                "Parameters": {"SolutionArn": SOLUTION, "Name": "v1", "TrainingMode": "FULL"},
                "ResultPath": "$.created",
                "Catch": [{"ErrorEquals": ["Personalize.ResourceInUseException"], "ResultPath": "$.error", "Next": "Busy"}],
                "Next": "Sleep a day",
            },
            "Busy": {"Type": "Wait", "Seconds": 60, "Next": "Create"},
            "Sleep a day": {"Type": "Wait", "Seconds": 86400, "Next": "Describe"},
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:personalize:describeSolutionVersion",
                "Parameters": {"SolutionVersionArn.$": "$.created.SolutionVersionArn"},
                "ResultSelector": {"Status.$": "$.SolutionVersion.Status", "Name.$": "$.SolutionVersion.Name"},
                "End": True,
            },
        }
    )
    started = time.monotonic()
    with OfflineStepFunctions() as aws:
        aws.personalize.refuse("CreateSolutionVersion", times=1)
        result = aws.run(aws.create_state_machine(definition))
    assert time.monotonic() - started < 10  # a day of Wait took no real day

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"Status": "ACTIVE", "Name": "v1"}  # camelCase response -> PascalCase paths
    assert result.states_entered == ["Create", "Busy", "Create", "Sleep a day", "Describe"]
    first, second, describe = aws.calls_to("personalize")
    assert first.params == {"solutionArn": SOLUTION, "name": "v1", "trainingMode": "FULL"}  # PascalCase -> API names
    assert first.error == "ResourceInUseException" and second.error is None
    assert describe.at == pytest.approx(86400 + 60, abs=1)
    assert aws.clock.now().isoformat().startswith("2026-01-05T03:01")


def test_lambda_handlers_run_in_process_and_their_errors_are_catchable() -> None:
    function = "arn:aws:lambda:us-east-1:123456789012:function:split"

    def handler(event: dict[str, Any], _context: Any) -> Any:
        if event["n"] < 0:
            raise ValueError("negative")
        return {"halves": [event["n"] // 2, event["n"] - event["n"] // 2]}

    definition = machine(
        {
            "Split": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function, "Payload": {"n.$": "$.n"}},
                "OutputPath": "$.Payload",
                "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Rejected"}],
                "Next": "Split again",
            },
            # The older form: the function ARN as the resource, the payload as the result.
            "Split again": {"Type": "Task", "Resource": function, "Parameters": {"n.$": "$.halves[1]"}, "End": True},
            "Rejected": {"Type": "Fail", "Error": "Rejected", "CausePath": "$.error.Cause"},
        }
    )
    with OfflineStepFunctions() as aws:
        aws.lambdas.register("split", handler)  # by name: any qualifier or ARN form matches
        arn = aws.create_state_machine(definition)
        ok, bad = aws.run(arn, input={"n": 5}), aws.run(arn, input={"n": -1})
    assert (ok.status, ok.output) == ("SUCCEEDED", {"halves": [1, 2]})
    assert (bad.status, bad.error) == ("FAILED", "Rejected")
    error = json.loads(bad.cause)  # the Python runtime's error JSON, in its key order
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (error["errorMessage"], error["errorType"]) == ("negative", "ValueError")
    assert error["requestId"] and 'File "' in error["stackTrace"][-1] and "in handler" in error["stackTrace"][-1]
    assert aws.lambdas.invocations == [(function, {"n": 5}), (function, {"n": 3}), (function, {"n": -1})]


def test_execution_timeout_runs_on_the_virtual_clock() -> None:
    definition = machine({"Long": {"Type": "Wait", "Seconds": 7200, "End": True}}, TimeoutSeconds=3600)
    with OfflineStepFunctions() as aws:
        result = aws.run(aws.create_state_machine(definition))
    assert result.status == "TIMED_OUT"
    assert aws.clock.seconds == 3600


def test_concurrent_branches_wait_on_one_clock() -> None:
    """Two Parallel branches and a Map's three iterations wait at the same time: the clock steps through their
    waits in order (each wait starts when its thread reaches it), it does not add them up."""

    def waits(*seconds: int) -> dict[str, Any]:
        states = {f"Wait {n}": {"Type": "Wait", "Seconds": s, "Next": f"Wait {n + 1}"} for n, s in enumerate(seconds)}
        states[f"Wait {len(seconds)}"] = {"Type": "Pass", "End": True}
        return {"StartAt": "Wait 0", "States": states}

    definition = machine(
        {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    waits(600, 600),
                    {
                        "StartAt": "Each",
                        "States": {
                            "Each": {
                                "Type": "Map",
                                "ItemsPath": "$.items",
                                "ItemProcessor": {
                                    "StartAt": "Sleep",
                                    "States": {"Sleep": {"Type": "Wait", "SecondsPath": "$", "End": True}},
                                },
                                "End": True,
                            }
                        },
                    },
                ],
                "Next": "After",
            },
            "After": {"Type": "Wait", "Seconds": 60, "End": True},
        }
    )
    with OfflineStepFunctions() as aws:
        result = aws.run(aws.create_state_machine(definition), input={"items": [300, 900, 1500]})
    assert result.status == "SUCCEEDED", result.cause
    assert aws.clock.seconds == pytest.approx(1500 + 60, abs=1)  # the longest wait, then the last: not 4000 s


def test_fake_cloud_resolves_cdk_definitions() -> None:
    template = {
        "Parameters": {"Stage": {"Type": "String", "Default": "dev"}},
        "Resources": {
            "Bucket1": {"Type": "AWS::S3::Bucket"},
            "Fn1": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "named"}},
            "Role1": {"Type": "AWS::IAM::Role"},
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "DefinitionString": {
                        "Fn::Join": [
                            "",
                            [
                                '{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"b":"',
                                {"Ref": "Bucket1"},
                                '","f":"',
                                {"Fn::GetAtt": ["Fn1", "Arn"]},
                                '","s":"',
                                {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Role1}-${Stage}"},
                                '","x":"${Extra}"},"End":true}}}',
                            ],
                        ]
                    },
                    "DefinitionSubstitutions": {"Extra": {"Ref": "AWS::Region"}},
                },
            },
        },
    }
    result = resolve_definition(template, cloud=FakeCloud(template, region="eu-west-1"))["States"]["P"]["Result"]
    assert result == {
        "b": "bucket1",
        "f": "arn:aws:lambda:eu-west-1:123456789012:function:named",
        "s": "arn:aws:iam::123456789012:role/Role1-dev",
        "x": "eu-west-1",
    }
    with pytest.raises(KeyError, match="overrides"):
        FakeCloud(template).resolve({"Fn::ImportValue": "shared-bucket"})
