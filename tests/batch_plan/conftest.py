"""Offline AWS (moto S3 + a KMS key) for the batch-planning handlers."""

from __future__ import annotations

import os
import types
from typing import Any, Iterator

import pytest

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "batch-plan-test")

INPUT_BUCKET = "transformed-test"
OUTPUT_BUCKET = "curated-test"


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


@pytest.fixture
def lambda_context() -> Any:
    return types.SimpleNamespace(function_name="batch-plan", memory_limit_in_mb=256,
                                 invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:batch-plan",
                                 aws_request_id="req-1")
