"""Offline AWS (moto S3 + a KMS key) for the batch-planning handlers. The test environment
(credentials, region, Powertools service) and the Lambda context are post-processing's."""

from __future__ import annotations

import types
from typing import Iterator

import pytest

from tests.postprocess.conftest import lambda_context  # noqa: F401 - a fixture, and sets the environment

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
