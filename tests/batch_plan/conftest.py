"""Offline AWS (moto S3 + a KMS key) and a Lambda context for the batch-planning handlers."""

from __future__ import annotations

import types
from typing import Any, Iterator

import pytest

from tests.support.lambda_context import lambda_context, use_offline_aws

use_offline_aws("batch-plan-test")

INPUT_BUCKET = "transformed-test"
OUTPUT_BUCKET = "curated-test"


@pytest.fixture(name="lambda_context")
def _lambda_context() -> Any:
    return lambda_context("batch-plan", 1024)


@pytest.fixture(scope="module")
def _moto() -> Iterator[str]:
    """One moto backend per test module (starting moto costs about half a second) and its KMS key."""
    from moto import mock_aws

    with mock_aws():
        import boto3

        yield boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]


@pytest.fixture
def s3(_moto: str) -> Iterator[types.SimpleNamespace]:
    """Empty input and output buckets for one test (emptied and deleted after it)."""
    import boto3

    from lambda_src.batch_plan import handler

    client = boto3.client("s3", region_name="us-east-1")
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        client.create_bucket(Bucket=bucket)
    handler._S3 = None
    yield types.SimpleNamespace(client=client, kms_key_id=_moto)
    handler._S3 = None
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for obj in page.get("Versions", []) + page.get("DeleteMarkers", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"], VersionId=obj["VersionId"])
        client.delete_bucket(Bucket=bucket)
