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


@pytest.fixture
def s3() -> Iterator[types.SimpleNamespace]:
    from moto import mock_aws

    from lambda_src.batch_plan import handler

    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="us-east-1")
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            client.create_bucket(Bucket=bucket)
        key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
        handler._S3 = None
        yield types.SimpleNamespace(client=client, kms_key_id=key_id)
        handler._S3 = None
