"""Region and network: the region advice works with the pinned botocore, and an endpoint that
cannot be reached or does not answer ends the command in seconds, naming the endpoint."""

from __future__ import annotations

import re
import socket
import time
from typing import Any, Callable, Iterator

import boto3
import pytest
from botocore.config import Config

from pipeline_cli import aws
from pipeline_cli.aws import CLIENT_CONFIG, CONNECTION_ATTEMPTS, make_session

from .conftest import Result
from .test_cli_errors import no_aws_env  # noqa: F401  (fixture: a machine with no AWS configuration)


def assert_one_line(result: Result) -> None:
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert result.err.startswith("error: ")


def test_no_region_advice_names_only_settings_that_work(
    no_aws_env: None, run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(["status"])
    assert result.code == 2
    assert_one_line(result)
    variables = re.findall(r"\bAWS_[A-Z_]+\b", result.err)
    assert "AWS_REGION" in variables
    for variable in variables:  # each one the message advises gives the CLI's session a region
        with monkeypatch.context() as env:
            env.setenv(variable, "eu-central-1")
            assert make_session(None, None).region_name == "eu-central-1", variable


def test_region_precedence(no_aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert make_session(None, None).region_name == "eu-west-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert make_session(None, None).region_name == "us-west-2"  # botocore's own variable wins
    assert make_session(None, "ap-south-1").region_name == "ap-south-1"


def test_aws_region_alone_reaches_aws(no_aws_env: None, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result]) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = run(["status"])
    assert result.code == 3 and "no AWS credentials found" in result.err  # past the region, at the credentials


@pytest.fixture
def offline_credentials(no_aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def count_attempts(session: boto3.Session) -> list[str]:
    """URLs of the requests the session sends (the real send still happens)."""
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(request.url)

    session.events.register("before-send", record)
    return sent


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A local port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_a_refused_endpoint_is_tried_twice_and_named(
    offline_credentials: None, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result], closed_port: int
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    session = boto3.Session()
    sent = count_attempts(session)
    started = time.monotonic()
    result = run(["status"], session)
    elapsed = time.monotonic() - started
    assert result.code == 3
    assert_one_line(result)
    assert f"cannot connect to {endpoint}" in result.err
    assert len(sent) == CONNECTION_ATTEMPTS
    assert elapsed < 10, elapsed


def test_an_endpoint_that_does_not_answer_times_out_and_is_named(
    offline_credentials: None, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result], silent_server: int
) -> None:
    endpoint = f"http://127.0.0.1:{silent_server}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    # The real read time-out, shortened: the test checks the attempts and the message.
    monkeypatch.setattr(aws, "CLIENT_CONFIG", CLIENT_CONFIG.merge(Config(read_timeout=0.3)))
    session = boto3.Session()
    sent = count_attempts(session)
    result = run(["status"], session)
    assert result.code == 3
    assert_one_line(result)
    assert f"{endpoint}" in result.err and "did not answer in time" in result.err
    assert len(sent) == CONNECTION_ATTEMPTS


def test_the_worst_case_wait_for_an_unreachable_endpoint_is_bounded() -> None:
    # Per call: each attempt waits at most for the connection and the answer; throttling keeps
    # its own, larger number of attempts.
    worst = CONNECTION_ATTEMPTS * (CLIENT_CONFIG.connect_timeout + CLIENT_CONFIG.read_timeout)
    assert worst <= 45 and CONNECTION_ATTEMPTS < aws.MAX_ATTEMPTS
