"""The Personalize resources a run trains on: dataset group, interactions schema and dataset, solution.

The solution is replaced whenever its settings change, so the pipeline stack does not hold its ARN: it reads
the SSM parameter `solution_arn_parameter_name(config)` at the start of every run. The parameter lives here,
next to the solution, and CloudFormation updates it in the same deployment that replaces the solution.
"""

from __future__ import annotations

import hashlib
import json

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_personalize as personalize
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from pipeline_contracts.metadata_datasets import DATASET_TYPE, DatasetKind, avro_schema
from pipeline_contracts.solutions import DEFAULT_SOLUTION_NAME
from stacks.config import PipelineConfig
from stacks.nag import acknowledge_wildcard

# The minimum interactions schema: what the Glue job writes (USER_ID,ITEM_ID,TIMESTAMP in seconds).
INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}


def solution_arn_parameter_name(config: PipelineConfig, solution: str = DEFAULT_SOLUTION_NAME) -> str:
    """The SSM String parameter holding the ARN of configured solution `solution`, e.g.
    /pbp/dev/personalize/users-arn (the default solution's: /pbp/dev/personalize/solution-arn, as before)."""
    return f"/{config.prefix}/{config.environment}/personalize/{solution}-arn"


def solution_name_pattern(config: PipelineConfig) -> str:
    """Every solution name this deployment can give (one per settings hash), e.g. pbp-dev-solution-*."""
    return f"{config.resource_name('solution')}-*"


class PersonalizeResources(Construct):
    """Dataset group (encrypted with the data key), schema, interactions dataset and solution.

    The solution is created through the API by a custom resource because the L1 `CfnSolution`
    cannot set `performAutoTraining`, which the API turns on by default: a new, billed solution
    version every 7 days that nobody asked for. Solutions are immutable, so a changed recipe or
    auto-training setting yields a new name, a new solution, and the old one is deleted.

    Attributes:
        dataset_group_arn, dataset_arn, solution_arn, solution_name, solution_arn_parameter,
        metadata_dataset_arns (kind -> ARN of each configured Items / Users dataset)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        data_key: kms.IKey,
        personalize_role: iam.IRole,
        logs_key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self._create_dataset(config, data_key, personalize_role, removal_policy)
        self.metadata_dataset_arns = self._create_metadata_datasets(config, removal_policy)
        self.solution_name = config.resource_name(f"solution-{_settings_tag(config)}")
        self.solution = self._create_solution(config, logs_key)
        self.dataset_group_arn = self.dataset_group.attr_dataset_group_arn
        self.dataset_arn = self.dataset.attr_dataset_arn
        self.solution_arn = self.solution.get_response_field("solutionArn")
        self.solution_arn_parameter = ssm.StringParameter(
            self,
            "SolutionArnParameter",
            parameter_name=solution_arn_parameter_name(config),
            string_value=self.solution_arn,
            description="ARN of the Personalize solution each pipeline run trains (updated when it is replaced)",
        )

    def _create_dataset(
        self, config: PipelineConfig, data_key: kms.IKey, personalize_role: iam.IRole, removal_policy: RemovalPolicy
    ) -> None:
        self.dataset_group = personalize.CfnDatasetGroup(
            self,
            "DatasetGroup",
            name=config.resource_name("interactions"),
            kms_key_arn=data_key.key_arn,
            role_arn=personalize_role.role_arn,
        )
        schema = personalize.CfnSchema(
            self,
            "InteractionsSchema",
            name=config.resource_name("interactions-schema"),
            schema=json.dumps(INTERACTIONS_SCHEMA, separators=(",", ":")),
        )
        self.dataset = personalize.CfnDataset(
            self,
            "InteractionsDataset",
            name=config.resource_name("interactions"),
            dataset_group_arn=self.dataset_group.attr_dataset_group_arn,
            dataset_type="Interactions",
            schema_arn=schema.attr_schema_arn,
        )
        for resource in (self.dataset_group, schema, self.dataset):
            resource.apply_removal_policy(removal_policy)

    def _create_metadata_datasets(
        self, config: PipelineConfig, removal_policy: RemovalPolicy
    ) -> dict[str, str]:
        """An Items / Users schema (generated from the config) and dataset for each configured one. They are
        encrypted with the data key through the dataset group, like the interactions dataset."""
        arns: dict[str, str] = {}
        for spec in config.metadata_datasets:
            dataset_type = DATASET_TYPE[spec.kind]
            schema = personalize.CfnSchema(
                self,
                f"{dataset_type}Schema",
                name=config.resource_name(f"{spec.kind}-schema-{_schema_tag(spec.kind, config)}"),
                schema=json.dumps(avro_schema(spec), separators=(",", ":")),
            )
            dataset = personalize.CfnDataset(
                self,
                f"{dataset_type}Dataset",
                name=config.resource_name(spec.kind),
                dataset_group_arn=self.dataset_group.attr_dataset_group_arn,
                dataset_type=dataset_type,
                schema_arn=schema.attr_schema_arn,
            )
            for resource in (schema, dataset):
                resource.apply_removal_policy(removal_policy)
            arns[spec.kind] = dataset.attr_dataset_arn
        return arns

    def _create_solution(self, config: PipelineConfig, logs_key: kms.IKey) -> cr.AwsCustomResource:
        stack = Stack.of(self)
        create_solution = cr.AwsSdkCall(
            service="Personalize",
            action="createSolution",
            parameters={
                "name": self.solution_name,
                "datasetGroupArn": self.dataset_group.attr_dataset_group_arn,
                "recipeArn": stack.format_arn(
                    service="personalize", region="", account="", resource="recipe", resource_name=config.recipe
                ),
                "performAutoTraining": config.perform_auto_training,
                "performHPO": False,
            },
            physical_resource_id=cr.PhysicalResourceId.from_response("solutionArn"),
        )
        solution_arn_pattern = stack.format_arn(
            service="personalize", resource="solution", resource_name=solution_name_pattern(config)
        )
        solution_arn = stack.format_arn(service="personalize", resource="solution", resource_name=self.solution_name)
        role, log_group = self._custom_resource_role(logs_key)
        solution = cr.AwsCustomResource(
            self,
            "Solution",
            resource_type="Custom::PersonalizeSolution",
            on_create=create_solution,
            on_update=create_solution,
            on_delete=cr.AwsSdkCall(
                service="Personalize",
                action="deleteSolution",
                parameters={"solutionArn": cr.PhysicalResourceIdReference()},
                # A solution deleted by hand must not wedge the stack's deletion.
                ignore_error_codes_matching="ResourceNotFoundException",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["personalize:CreateSolution"],
                        resources=[self.dataset_group.attr_dataset_group_arn, solution_arn],
                    ),
                    # On a settings change CloudFormation deletes the previous solution, whose
                    # name carried the previous settings' hash.
                    iam.PolicyStatement(
                        actions=["personalize:DeleteSolution"],
                        resources=[solution_arn_pattern],
                    ),
                ]
            ),
            role=role,
            install_latest_aws_sdk=False,
            log_group=log_group,
            # Always deleted, even when data is retained: a replaced solution left behind with
            # auto training on would go on training (and billing) weekly. Its trained versions
            # are reproducible from the retained dataset group by the next run.
            removal_policy=RemovalPolicy.DESTROY,
        )
        solution.node.add_dependency(self.dataset)
        acknowledge_wildcard(
            solution,
            solution_arn_pattern,
            "DeleteSolution must reach the solution of the previous settings (its name has another settings hash); "
            "the pattern is limited to this deployment's solution names.",
        )
        return solution

    def _custom_resource_role(self, logs_key: kms.IKey) -> tuple[iam.Role, logs.LogGroup]:
        """Our own role instead of the default one with the AWS managed AWSLambdaBasicExecutionRole: it may
        write to the custom resource's one log group and nothing else."""
        log_group = logs.LogGroup(
            self,
            "SolutionResourceLogs",
            encryption_key=logs_key,
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "SolutionResourceRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Creates and deletes the pipeline's Personalize solution (CloudFormation custom resource)",
        )
        log_group.grant_write(role)
        return role, log_group


def _schema_tag(kind: DatasetKind, config: PipelineConfig) -> str:
    """8 hex digits of a metadata schema: schemas are immutable, so a changed field list gets a new name."""
    spec = config.items_dataset if kind == "items" else config.users_dataset
    assert spec is not None
    return hashlib.sha256(json.dumps(avro_schema(spec), sort_keys=True).encode()).hexdigest()[:8]


def _settings_tag(config: PipelineConfig) -> str:
    """8 hex digits of the solution's settings: a settings change gives a new solution name."""
    settings = {"recipe": config.recipe, "performAutoTraining": config.perform_auto_training}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
