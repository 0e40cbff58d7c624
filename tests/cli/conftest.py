"""Fixtures for the operator CLI tests: a moto-backed pipeline stack and a CLI runner.

moto's CloudFormation puts a state machine declared in a template into its plain Step Functions
backend, not the executing one, so the state machine is created through the API and the stack
(real moto CloudFormation) exports its ARN as a literal output, as the CDK stack will.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import boto3
import botocore.session
import pytest
from moto import mock_aws

from pipeline_cli.__main__ import main

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "pbp-dev-pipeline"
CURATED_BUCKET = "pbp-dev-curated-bucket"


# One botocore session for every test: its loader caches the parsed service models, which
# otherwise cost ~0.3 s of JSON parsing per test.
_CORE_SESSION = botocore.session.get_session()


def fake_session() -> boto3.Session:
    """Explicit fake credentials: the CLI must never depend on the developer's environment."""
    return boto3.Session(
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        botocore_session=_CORE_SESSION,
    )


@dataclass
class Deployed:
    session: boto3.Session
    state_machine_arn: str

    def start_direct(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution behind the CLI's back (to get inputs the CLI never sends)."""
        sfn = self.session.client("stepfunctions")
        return sfn.start_execution(stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload))[
            "executionArn"
        ]

    def wait_direct(self, execution_arn: str) -> str:
        import time

        sfn = self.session.client("stepfunctions")
        for _ in range(500):
            status = sfn.describe_execution(executionArn=execution_arn)["status"]
            if status != "RUNNING":
                return status
            time.sleep(0.01)
        raise AssertionError("execution did not finish")


@pytest.fixture
def moto_aws() -> Iterator[None]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


WAIT_SCALE = 0.25
"""moto's interpreter really sleeps in Wait states; tests run them at a quarter of the time."""


@pytest.fixture
def fast_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def scaled(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * WAIT_SCALE)

    monkeypatch.setattr(WaitFunction, "_wait_interval", scaled)


@pytest.fixture
def deploy(moto_aws: None) -> Callable[..., Deployed]:
    """Create a state machine from `definition` and a CloudFormation stack exporting its ARN."""

    def _deploy(definition: dict[str, Any], outputs: dict[str, Any] | None = None, stack: str = STACK) -> Deployed:
        session = fake_session()
        arn = session.client("stepfunctions").create_state_machine(
            name="pbp-dev-pipeline",
            definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline",
        )["stateMachineArn"]
        if outputs is None:
            outputs = {
                "StateMachineArn": {"Value": arn},
                "CuratedBucketName": {"Value": CURATED_BUCKET},
                "AlertTopicArn": {"Value": {"Ref": "AlertTopic"}},
            }
        template = {"Resources": {"AlertTopic": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
        session.client("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))
        return Deployed(session, arn)

    return _deploy


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run `main(argv, session=...)` and capture what it printed."""

    def _run(argv: list[str], session: boto3.Session | None = None, **kwargs: Any) -> Result:
        capsys.readouterr()
        code = main(argv, session=session, **kwargs)
        captured = capsys.readouterr()
        return Result(int(code), captured.out, captured.err)

    return _run


# --- state machine definitions in the pipeline's shape (no real integrations) -------------


def pipeline_definition(batch_state: dict[str, Any] | None = None, import_wait_seconds: int = 0) -> dict[str, Any]:
    """Guard -> ETL -> import (Wait + Choice) -> training -> batch inference -> post-processing."""
    batch = batch_state or {
        "Type": "Pass",
        "Result": {
            "batchInferenceJobArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:batch-inference-job/run",
            "outputPrefix": "runs/run/",
        },
        "Next": "PostProcessFlatten",
    }
    return {
        "StartAt": "OverlapGuard",
        "States": {
            "OverlapGuard": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.skip", "IsPresent": True, "Next": "GuardSkip"}],
                "Default": "GlueEtl",
            },
            "GuardSkip": {
                "Type": "Pass",
                "Result": {"skipped": True, "reason": "execution run-0 is still running"},
                "Next": "Skipped",
            },
            "Skipped": {"Type": "Succeed"},
            "GlueEtl": {"Type": "Pass", "Next": "ImportWait"},
            "ImportWait": {"Type": "Wait", "Seconds": import_wait_seconds, "Next": "ImportCheckStatus"},
            "ImportCheckStatus": {"Type": "Pass", "Next": "TrainingWait"},
            "TrainingWait": {"Type": "Wait", "Seconds": 0, "Next": "NotifyOps"},
            "NotifyOps": {"Type": "Pass", "Next": "BatchInference"},
            "BatchInference": batch,
            "PostProcessFlatten": {"Type": "Pass", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }


FAILING_BATCH = {
    "Type": "Fail",
    "Error": "Personalize.BatchInferenceFailed",
    "Cause": "failureReason: [Personalize] input file s3://bucket/in.json is not valid JSON lines",
}

SKIPPING_DEFINITION: dict[str, Any] = {
    "StartAt": "OverlapGuard",
    "States": {
        "OverlapGuard": {
            "Type": "Pass",
            "Result": {"skipped": True, "reason": "execution run-0 is still running"},
            "Next": "Skipped",
        },
        "Skipped": {"Type": "Succeed"},
    },
}
