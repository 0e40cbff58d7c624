"""Fixtures of the run-lease handler tests: moto DynamoDB for the lease table (the key schema the stack gives it),
botocore Stubber for DescribeExecution."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pipeline_contracts.run_lease import KEY_ATTRIBUTE
from tests.support.lambda_context import moto_client, offline_aws_environment

REGION = "eu-west-1"
TABLE = "run-lease-test"


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region for every client the tests create; nothing reaches AWS."""
    offline_aws_environment(monkeypatch, REGION)


@pytest.fixture(scope="module")
def _moto_dynamodb() -> Iterator[Any]:
    with moto_client("dynamodb", REGION) as client:
        yield client


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
