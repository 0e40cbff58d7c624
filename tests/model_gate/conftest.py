"""Fixtures of the model gate tests: moto DynamoDB for the accepted-version table, botocore Stubber
for Personalize and Glue (moto implements neither GetSolutionMetrics nor a usable GetJobRun)."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_rehearsal.deployment import create_accepted_versions_table
from tests.support.lambda_context import lambda_context, offline_aws_environment
from tests.support.moto_tables import dynamodb_table_fixtures

REGION = "us-east-1"
TABLE = "accepted-versions-test"
SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/pbp-dev-solution"


def version_arn(version_id: str, solution: str = SOLUTION) -> str:
    return f"{solution}/{version_id}"


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region for every client the tests create; nothing reaches AWS."""
    offline_aws_environment(monkeypatch, REGION)


@pytest.fixture(name="lambda_context")
def _lambda_context() -> Any:
    return lambda_context("model-gate", 256)


moto_dynamodb, dynamodb = dynamodb_table_fixtures(REGION, TABLE, create_accepted_versions_table)


@pytest.fixture
def store(dynamodb: Any) -> Any:
    from lambda_src.model_gate.store import AcceptedVersionStore

    return AcceptedVersionStore(dynamodb, TABLE)
