"""Fixtures of the run-lease handler tests: moto DynamoDB for the lease table (the key schema the stack gives it),
botocore Stubber for DescribeExecution."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_contracts.run_lease import KEY_ATTRIBUTE
from tests.support.lambda_context import offline_aws_environment
from tests.support.moto_tables import dynamodb_table_fixtures

REGION = "eu-west-1"
TABLE = "run-lease-test"


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region for every client the tests create; nothing reaches AWS."""
    offline_aws_environment(monkeypatch, REGION)


def create_lease_table(dynamodb: Any, name: str) -> None:
    """The lease table with the key schema the stack gives it."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


moto_dynamodb, dynamodb = dynamodb_table_fixtures(REGION, TABLE, create_lease_table)
