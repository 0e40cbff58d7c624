"""Fixtures for the operator CLI tests: a moto-backed pipeline stack and a CLI runner.

moto's CloudFormation puts a state machine declared in a template into its plain Step Functions
backend, not the executing one, so the state machine is created through the API and the stack
(real moto CloudFormation) exports its ARN as a literal output, as the CDK stack will.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
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
        sfn = self.session.client("stepfunctions")
        for _ in range(500):
            status = sfn.describe_execution(executionArn=execution_arn)["status"]
            if status != "RUNNING":
                return status
            time.sleep(0.01)
        raise AssertionError("execution did not finish")


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A machine with no AWS configuration at all: no AWS_* variables, empty config files."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for name in ("credentials", "config"):
        (tmp_path / name).write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no IMDS probe
    yield


@pytest.fixture
def moto_aws() -> Iterator[None]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


class WaitGate:
    """Holds moto's Wait states until the CLI has polled a given number of times inside one.

    moto's interpreter really sleeps in Wait states, and on a busy machine a fixed sleep either
    wastes time or is too short for the CLI to see the state running. The gate makes the
    interleaving deterministic: a Wait state blocks until `polls` sleeps of the CLI's poll loop
    (passed to `main` as `sleep`) have happened after the state was entered, then ends at once.
    """

    def __init__(self, polls: int = 2, timeout: float = 10.0) -> None:
        self.polls = polls
        self.timeout = timeout
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.sleeps_inside = 0

    def wait_state(self, wait_seconds: int) -> None:
        if wait_seconds > 0:
            self.entered.set()
            self.opened.wait(self.timeout)

    def sleep(self, seconds: float) -> None:
        if self.entered.is_set():
            self.sleeps_inside += 1
            if self.sleeps_inside >= self.polls:
                self.opened.set()
        time.sleep(0.005)


@pytest.fixture
def wait_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[WaitGate]:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    gate = WaitGate()
    monkeypatch.setattr(WaitFunction, "_wait_interval", lambda self, env, wait_seconds: gate.wait_state(wait_seconds))
    yield gate
    gate.opened.set()  # never leave an interpreter thread blocked


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
# State names mix the real ones of stacks/orchestration.py ("List running executions",
# "Import: describe job", "Summarize run", ...) with plain ones ("GlueEtl", "ImportWait").

RUN_ID = "20261122T030000Z-run-0123456789"
SKIP_REASON = "Another execution of this state machine is still running: arn:aws:states:us-east-1:123456789012:execution:pbp-dev-pipeline:run-0"
SUMMARY = {
    "status": "SUCCEEDED",
    "runId": RUN_ID,
    "datasetImportJobArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-import-job/pbp-dev-import-run",
    "solutionVersionArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/pbp-dev/abcdef12",
    "batchInferenceJobArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:batch-inference-job/pbp-dev-batch-run",
    "outputPrefix": f"s3://{CURATED_BUCKET}/runs/{RUN_ID}/batch-output/",
}
SKIP_STATES: dict[str, Any] = {
    "Skip: another run is active": {
        "Type": "Pass",
        "Result": {"status": "SKIPPED", "reason": SKIP_REASON},
        "Next": "Skipped",
    },
    "Skipped": {"Type": "Succeed"},
}


def pipeline_definition(batch_state: dict[str, Any] | None = None, import_wait_seconds: int = 0) -> dict[str, Any]:
    """Guard -> naming -> ETL -> import (Wait + Task-like Pass) -> training -> a new unmapped state
    -> batch inference -> post-processing -> summary. Input `{"skip": true}` takes the guard's
    skip branch (the CLI always sends `{}`; tests start such runs directly)."""
    batch = batch_state or {"Type": "Pass", "Next": "Post-process (flatten)"}
    return {
        "StartAt": "List running executions",
        "States": {
            "List running executions": {"Type": "Pass", "Next": "Other runs active?"},
            "Other runs active?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.skip", "IsPresent": True, "Next": "Skip: another run is active"}],
                "Default": "Prepare run",
            },
            **SKIP_STATES,
            "Prepare run": {"Type": "Pass", "Next": "GlueEtl"},
            "GlueEtl": {"Type": "Pass", "Next": "Transform done"},
            "Transform done": {"Type": "Pass", "Next": "ImportWait"},
            "ImportWait": {"Type": "Wait", "Seconds": import_wait_seconds, "Next": "Import: describe job"},
            "Import: describe job": {"Type": "Pass", "Next": "TrainingWait"},
            "TrainingWait": {"Type": "Wait", "Seconds": 0, "Next": "Training: job status?"},
            "Training: job status?": {"Type": "Pass", "Next": "NotifyOps"},
            "NotifyOps": {"Type": "Pass", "Next": "BatchInference"},
            "BatchInference": batch,
            "Post-process (flatten)": {"Type": "Pass", "Next": "Summarize run"},
            "Summarize run": {"Type": "Pass", "Result": SUMMARY, "Next": "Run succeeded"},
            "Run succeeded": {"Type": "Succeed"},
        },
    }


FAILING_BATCH = {
    "Type": "Fail",
    "Error": "BatchInferenceFailed",
    "Cause": "Batch inference job arn:x ended CREATE FAILED: [Personalize] input s3://bucket/in.json is not valid JSON lines",
}

SKIPPING_DEFINITION: dict[str, Any] = {
    "StartAt": "List running executions",
    "States": {"List running executions": {"Type": "Pass", "Next": "Skip: another run is active"}, **SKIP_STATES},
}
