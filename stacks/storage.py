"""The data lake: raw, transformed and curated buckets plus the bucket their access logs go to."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

NONCURRENT_VERSION_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = 7
ACCESS_LOG_DAYS = 365


class DataLake(Construct):
    """Three KMS-encrypted, versioned, private, TLS-only buckets and an access-log bucket.

    Attributes:
        raw_bucket: where raw ratings land (read by the Glue job).
        transformed_bucket: the Glue job's output, read by Personalize (`runs/<run>/...`).
        curated_bucket: Personalize's batch output and its post-processed form.
        access_logs_bucket: server access logs of the three.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, data_key: kms.IKey, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        auto_delete = removal_policy == RemovalPolicy.DESTROY
        # S3 server access logging cannot deliver to a bucket encrypted with a customer managed
        # key, so this one bucket uses S3-managed keys.
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(id="ExpireAccessLogs", expiration=Duration.days(ACCESS_LOG_DAYS)),
                *self._housekeeping_rules(),
            ],
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete,
        )
        self.raw_bucket = self._data_bucket("Raw", data_key, removal_policy)
        self.transformed_bucket = self._data_bucket("Transformed", data_key, removal_policy)
        self.curated_bucket = self._data_bucket("Curated", data_key, removal_policy)

    @staticmethod
    def _housekeeping_rules() -> list[s3.LifecycleRule]:
        return [
            s3.LifecycleRule(
                id="ExpireNoncurrentVersions",
                noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
            ),
            s3.LifecycleRule(
                id="AbortIncompleteMultipartUploads",
                abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
            ),
        ]

    def _data_bucket(self, construct_id: str, data_key: kms.IKey, removal_policy: RemovalPolicy) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=data_key,
            # S3 Bucket Keys cut KMS request costs by orders of magnitude for Spark's many puts.
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=f"{construct_id.lower()}/",
            lifecycle_rules=self._housekeeping_rules(),
            removal_policy=removal_policy,
            auto_delete_objects=removal_policy == RemovalPolicy.DESTROY,
        )
