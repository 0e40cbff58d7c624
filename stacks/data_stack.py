"""The stateful stack: keys, buckets and what Personalize may touch. Termination protected."""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn, Stack
from constructs import Construct

from pipeline_contracts import stack_outputs
from stacks.config import PipelineConfig
from stacks.keys import EncryptionKeys
from stacks.model_registry import AcceptedVersionsTable
from stacks.personalize import PersonalizeResources, solution_arn_parameter_names
from stacks.personalize_access import PersonalizeAccess
from stacks.storage import DataLake


class DataStack(Stack):
    """Everything that holds data or decrypts it, kept apart from the stateless pipeline so that
    redeploying or deleting the pipeline never touches data (CDK best practice)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig, **kwargs) -> None:
        super().__init__(
            scope,
            construct_id,
            description="personalize-batch-pipeline: data lake buckets, KMS keys and Personalize resources",
            # A dev stack that is meant to be torn down (DESTROY) must not need a console click first.
            termination_protection=not config.destroy_data,
            **kwargs,
        )
        removal_policy = config.removal_policy
        self.keys = EncryptionKeys(
            self, "Keys", name_prefix=f"{config.prefix}-{config.environment}", removal_policy=removal_policy
        )
        self.lake = DataLake(self, "DataLake", data_key=self.keys.data_key, removal_policy=removal_policy)
        self.personalize_access = PersonalizeAccess(
            self,
            "PersonalizeAccess",
            input_bucket=self.lake.transformed_bucket,
            output_bucket=self.lake.curated_bucket,
            data_key=self.keys.data_key,
        )
        self.personalize = PersonalizeResources(
            self,
            "Personalize",
            config=config,
            data_key=self.keys.data_key,
            personalize_role=self.personalize_access.service_role,
            logs_key=self.keys.logs_key,
            removal_policy=removal_policy,
        )
        self.accepted_versions = AcceptedVersionsTable(
            self, "AcceptedVersions", data_key=self.keys.data_key, removal_policy=removal_policy
        )

        for output_id, value, description in (
            (
                stack_outputs.RAW_BUCKET_NAME,
                self.lake.raw_bucket.bucket_name,
                f"Upload raw ratings under s3://<bucket>/{config.raw_prefix}",
            ),
            (
                stack_outputs.TRANSFORMED_BUCKET_NAME,
                self.lake.transformed_bucket.bucket_name,
                "Glue output, Personalize input",
            ),
            (stack_outputs.CURATED_BUCKET_NAME, self.lake.curated_bucket.bucket_name, "Batch recommendations"),
            (stack_outputs.ACCESS_LOGS_BUCKET_NAME, self.lake.access_logs_bucket.bucket_name, "S3 server access logs"),
            (stack_outputs.DATA_KEY_ARN, self.keys.data_key.key_arn, "KMS key of the data buckets and Personalize"),
            (
                stack_outputs.PERSONALIZE_ROLE_ARN,
                self.personalize_access.service_role.role_arn,
                "Role Personalize assumes",
            ),
            (stack_outputs.DATASET_GROUP_ARN, self.personalize.dataset_group_arn, "Personalize dataset group"),
            (
                stack_outputs.SOLUTION_ARNS,
                Fn.join(stack_outputs.LIST_SEPARATOR, [s.arn for s in self.personalize.solutions.values()]),
                "Personalize solutions trained by each run (config order, as SolutionArnParameterNames)",
            ),
            (
                stack_outputs.SOLUTION_ARN_PARAMETER_NAMES,
                solution_arn_parameter_names(config),
                "SSM parameters holding each solution's ARN (config order); each run reads them",
            ),
            (
                stack_outputs.ACCEPTED_VERSIONS_TABLE_NAME,
                self.accepted_versions.table.table_name,
                "DynamoDB table of the model quality gate: the last accepted solution version and its history",
            ),
        ):
            CfnOutput(self, output_id, value=value, description=description)
