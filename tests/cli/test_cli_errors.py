"""One-line errors and exit codes for what goes wrong in practice: credentials, region, profile,
stack, outputs, permissions, unknown executions, throttling, bad arguments."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto.core.botocore_stubber import MockRawResponse

from pipeline_cli.aws import CLIENT_CONFIG, MAX_ATTEMPTS

from .conftest import REGION, STACK, Deployed, Result, fake_session, pipeline_definition

SM_ARN = f"arn:aws:states:{REGION}:123456789012:stateMachine:pbp-dev-pipeline"
DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/operator/jane is not authorized to perform: {action} "
    "on resource: {resource} because no identity-based policy allows the {action} action"
)


def assert_one_line(result: Result) -> None:
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert result.err.startswith("error: ")


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


def test_no_credentials(no_aws_env: None, run: Callable[..., Result]) -> None:
    result = run(["--region", REGION, "status"])
    assert result.code == 3
    assert_one_line(result)
    assert "no AWS credentials found" in result.err and "--profile" in result.err


def test_partial_credentials(no_aws_env: None, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result]) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    result = run(["history", "--region", REGION])
    assert result.code == 3
    assert_one_line(result)
    assert "incomplete AWS credentials" in result.err and "AWS_SECRET_ACCESS_KEY" in result.err


def test_unknown_profile(no_aws_env: None, run: Callable[..., Result]) -> None:
    result = run(["--profile", "nope", "status"])
    assert result.code == 2
    assert_one_line(result)
    assert "The config profile (nope) could not be found" in result.err


def test_no_region(no_aws_env: None, run: Callable[..., Result]) -> None:
    result = run(["status"])
    assert result.code == 2
    assert_one_line(result)
    assert "no AWS region" in result.err and "--region" in result.err


def test_unknown_stack(deploy: Callable[..., Deployed], run: Callable[..., Result]) -> None:
    deployed = deploy(pipeline_definition())
    result = run(["--stack", "pbp-prod-pipeline", "start"], deployed.session)
    assert result.code == 2
    assert_one_line(result)
    assert result.err.strip() == (
        "error: stack 'pbp-prod-pipeline' not found in region us-east-1 (check --stack, --region, --profile)"
    )


def test_stack_without_state_machine_output(deploy: Callable[..., Deployed], run: Callable[..., Result]) -> None:
    deployed = deploy(
        pipeline_definition(),
        outputs={"RawBucketName": {"Value": "raw"}, "CuratedBucketName": {"Value": "curated"}},
        stack="pbp-dev-data",
    )
    result = run(["--stack", "pbp-dev-data", "history"], deployed.session)
    assert result.code == 2
    assert_one_line(result)
    assert "stack 'pbp-dev-data' has no 'StateMachineArn' output (its outputs: CuratedBucketName, RawBucketName)" in result.err


def test_unknown_execution_by_name_and_by_arn(deploy: Callable[..., Deployed], run: Callable[..., Result]) -> None:
    deployed = deploy(pipeline_definition())
    by_name = run(["status", "no-such-run"], deployed.session)
    assert by_name.code == 2
    assert_one_line(by_name)
    assert "no execution named 'no-such-run' on pbp-dev-pipeline" in by_name.err

    arn = SM_ARN.replace(":stateMachine:", ":execution:") + ":ghost"
    by_arn = run(["status", arn, "--json"], deployed.session)
    assert by_arn.code == 2 and by_arn.out == ""
    assert by_arn.err.strip() == f"error: no such execution: {arn}"


def test_existing_execution_name(deploy: Callable[..., Deployed], run: Callable[..., Result]) -> None:
    deployed = deploy(pipeline_definition())
    assert run(["start", "--wait", "--name", "twice", "--poll-interval", "0.02"], deployed.session).code == 0
    again = run(["start", "--name", "twice"], deployed.session)
    assert again.code == 2
    assert_one_line(again)
    assert "an execution named 'twice' already exists" in again.err


class ExplodingSession:
    """Proves a check happens before any AWS call."""

    region_name = REGION

    def client(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no AWS call expected")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["start", "--name", "nightly run"], "invalid --name 'nightly run': must not contain whitespace"),
        (["start", "--name", "x" * 81], "must be 1-80 characters long (got 81)"),
        (["start", "--name", "run[2]"], "must not contain brackets"),
        (["start", "--name", "run*"], "must not contain wildcards"),
        (["start", "--name", "run\x01"], "must not contain control characters (U+0001)"),
        (["status", "--config", "nope"], "unknown configuration 'nope'; the configurations here are: default, full"),
        (["status", "--config", "full", "--stack", "x"], "give --stack or --config, not both"),
    ],
)
def test_invalid_names_and_configurations_are_rejected_before_any_aws_call(
    argv: list[str], fragment: str, run: Callable[..., Result]
) -> None:
    result = run(argv, ExplodingSession())
    assert result.code == 2
    assert_one_line(result)
    assert fragment in result.err


@pytest.mark.parametrize(
    "argv",
    [["history", "-n", "0"], ["start", "--poll-interval", "0"], ["status", "--bogus"], [], ["launch"]],
)
def test_usage_errors_exit_2(argv: list[str], run: Callable[..., Result]) -> None:
    result = run(argv, ExplodingSession())
    assert result.code == 2
    assert "usage:" in result.err


def test_each_named_configuration_finds_the_stack_it_deploys(synthesized_apps: Callable[[str], Any]) -> None:
    from pipeline_cli.configurations import configuration_names, pipeline_stack_name
    from tests.conftest import CONFIGURATIONS

    assert configuration_names() == CONFIGURATIONS
    for name in CONFIGURATIONS:
        assert pipeline_stack_name(name) == synthesized_apps(name).app.pipeline_stack.stack_name


# --- access denied, via botocore's Stubber --------------------------------------------------


class StubbedSession:
    """A session whose clients are pre-built and stubbed (the CLI asks the session for clients)."""

    region_name = REGION

    def __init__(self) -> None:
        real = fake_session()
        self.clients = {name: real.client(name, region_name=REGION) for name in ("cloudformation", "stepfunctions")}
        self.stubbers = {name: Stubber(client) for name, client in self.clients.items()}

    def client(self, name: str, **kwargs: Any) -> Any:
        return self.clients[name]

    def stack_found(self) -> None:
        self.stubbers["cloudformation"].add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": STACK,
                        "CreationTime": datetime(2026, 11, 1, tzinfo=timezone.utc),
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": "StateMachineArn", "OutputValue": SM_ARN}],
                    }
                ]
            },
            {"StackName": STACK},
        )

    def __enter__(self) -> "StubbedSession":
        for stubber in self.stubbers.values():
            stubber.activate()
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        for stubber in self.stubbers.values():
            if exc_type is None:
                stubber.assert_no_pending_responses()
            stubber.deactivate()


def test_access_denied_on_start_names_the_action(run: Callable[..., Result]) -> None:
    with StubbedSession() as session:
        session.stack_found()
        session.stubbers["stepfunctions"].add_client_error(
            "start_execution",
            service_error_code="AccessDeniedException",
            service_message=DENIED.format(action="states:StartExecution", resource=SM_ARN),
            http_status_code=400,
        )
        result = run(["start"], session)
    assert result.code == 3
    assert_one_line(result)
    assert result.err.strip() == (
        "error: access denied: states:StartExecution is not allowed for "
        "arn:aws:sts::123456789012:assumed-role/operator/jane (ask for this IAM permission)"
    )


def test_access_denied_on_describe_stacks(run: Callable[..., Result]) -> None:
    with StubbedSession() as session:
        session.stubbers["cloudformation"].add_client_error(
            "describe_stacks", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403
        )
        result = run(["history"], session)
    assert result.code == 3
    assert_one_line(result)
    assert "access denied: cloudformation:DescribeStacks is not allowed" in result.err


def test_access_denied_on_history_falls_back_to_the_called_action(run: Callable[..., Result]) -> None:
    arn = SM_ARN.replace(":stateMachine:", ":execution:") + ":run-1"
    with StubbedSession() as session:
        session.stack_found()
        session.stubbers["stepfunctions"].add_response(
            "describe_execution",
            {
                "executionArn": arn,
                "stateMachineArn": SM_ARN,
                "name": "run-1",
                "status": "RUNNING",
                "startDate": datetime(2026, 11, 22, tzinfo=timezone.utc),
            },
        )
        session.stubbers["stepfunctions"].add_client_error(
            "get_execution_history", service_error_code="AccessDeniedException", service_message="", http_status_code=400
        )
        result = run(["status", "run-1"], session)
    assert result.code == 3
    assert "access denied: states:GetExecutionHistory is not allowed" in result.err


# --- throttling: botocore's standard retry mode, driven through moto -------------------------


def throttle_list_executions(session: boto3.Session, times: int) -> list[int]:
    """Answer the first `times` ListExecutions attempts with a 400 ThrottlingException."""
    attempts: list[int] = []
    body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})

    def handler(request: Any, **kwargs: Any) -> AWSResponse | None:
        attempts.append(1)
        if len(attempts) > times:
            return None  # let moto answer
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, MockRawResponse(body))

    session.events.register_first("before-send.sfn.ListExecutions", handler)
    return attempts


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore sleeps between retries in botocore.endpoint; record instead of sleeping."""
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=sleeps.append))
    return sleeps


def isolated_session() -> boto3.Session:
    """A session of its own, so the throttling handler does not leak into other tests."""
    return boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


def test_throttling_is_retried_in_standard_mode(
    deploy: Callable[..., Deployed], run: Callable[..., Result], no_backoff: list[float]
) -> None:
    deploy(pipeline_definition())
    session = isolated_session()
    attempts = throttle_list_executions(session, times=2)
    result = run(["history"], session)
    assert result.code == 0, result.err
    assert len(attempts) == 3 and len(no_backoff) == 2
    assert CLIENT_CONFIG.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}


def test_throttling_that_outlasts_the_retries_is_a_clear_error(
    deploy: Callable[..., Deployed], run: Callable[..., Result], no_backoff: list[float]
) -> None:
    deploy(pipeline_definition())
    session = isolated_session()
    attempts = throttle_list_executions(session, times=1000)
    result = run(["history"], session)
    assert result.code == 3
    assert_one_line(result)
    assert len(attempts) == MAX_ATTEMPTS
    assert f"AWS throttled states:ListExecutions after {MAX_ATTEMPTS} attempts" in result.err
