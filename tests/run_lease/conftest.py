"""Fixtures of the run-lease handler tests: moto DynamoDB for the lease table (the key schema the stack gives it),
botocore Stubber for DescribeExecution."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pipeline_contracts.run_lease import KEY_ATTRIBUTE

REGION = "eu-west-1"
TABLE = "run-lease-test"


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region for every client the tests create; nothing reaches AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def _moto_dynamodb() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        import boto3

        yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def dynamodb(_moto_dynamodb: Any) -> Iterator[Any]:
    """A moto DynamoDB client with a fresh lease table."""
    client = _moto_dynamodb
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client
    client.delete_table(TableName=TABLE)
