"""What a Lambda handler called in-process needs: a context object and an offline AWS environment."""

from __future__ import annotations

import contextlib
import os
import types
from collections.abc import Iterator
from typing import Any


def lambda_context(function_name: str, memory_mb: int) -> Any:
    return types.SimpleNamespace(
        function_name=function_name,
        memory_limit_in_mb=memory_mb,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
        aws_request_id="req-1",
    )


def use_offline_aws(service_name: str) -> None:
    """Fake credentials, a region and a Powertools service for handlers called in-process; call it before
    boto3 or Powertools are imported by the modules under test. Metrics namespace deliberately unset: the
    handlers' default namespace is checked against the dashboard's."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": service_name,
    }.items():
        os.environ.setdefault(name, value)


def offline_aws_environment(monkeypatch: Any, region: str) -> None:
    """Fake credentials and `region` for every client a test creates (restored after the test); nothing reaches
    AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
    }.items():
        monkeypatch.setenv(name, value)


@contextlib.contextmanager
def moto_client(service: str, region: str) -> Iterator[Any]:
    """A client of `service` in moto, for as long as the context lasts (a module-scoped fixture's: starting moto
    costs about half a second, a table a few milliseconds)."""
    from moto import mock_aws

    with mock_aws():
        import boto3

        yield boto3.client(service, region_name=region)


def apply_environment(environment: dict[str, str], monkeypatch: Any) -> None:
    """Sets `environment` (e.g. `pipeline_rehearsal.functions.shared_environment`) for the test's duration."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert all(os.environ[name] == value for name, value in environment.items())
