"""Fixtures of the post-processing tests: offline AWS (moto), a Lambda context, fixture files."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.support.lambda_context import lambda_context, use_offline_aws

FIXTURES = Path(__file__).parent / "fixtures"

use_offline_aws("postprocess-test")

BUCKET = "curated-test"
RUN_PREFIX = "runs/r1/"


@pytest.fixture(name="lambda_context")
def _lambda_context() -> Any:
    return lambda_context("postprocess", 1769)


@pytest.fixture(scope="module")
def _moto() -> Iterator[types.SimpleNamespace]:
    """One moto S3 + KMS per test module (starting moto and making a KMS key take ~1 s); module
    scope, so moto is off again before other packages' tests run."""
    from moto import mock_aws

    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
        yield types.SimpleNamespace(s3=s3, bucket=BUCKET, kms_key_id=key_id)


@pytest.fixture
def aws(_moto: types.SimpleNamespace) -> Iterator[types.SimpleNamespace]:
    """An empty curated bucket (and no other) in moto; the handler's cached client reset."""
    from lambda_src.postprocess import handler

    s3 = _moto.s3
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=BUCKET)
    handler._S3 = None
    yield _moto
    handler._S3 = None


def read_fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()
