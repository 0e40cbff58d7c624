"""The Personalize resources a run trains on: dataset group, interactions schema and dataset, solution."""

from __future__ import annotations

import hashlib
import json

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_personalize as personalize
from aws_cdk import custom_resources as cr
from constructs import Construct

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


class PersonalizeResources(Construct):
    """Dataset group (encrypted with the data key), schema, interactions dataset and solution.

    The solution is created through the API by a custom resource because the L1 `CfnSolution`
    cannot set `performAutoTraining`, which the API turns on by default: a new, billed solution
    version every 7 days that nobody asked for. Solutions are immutable, so a changed recipe or
    auto-training setting yields a new name, a new solution, and the old one is deleted.

    Attributes:
        dataset_group_arn, dataset_arn, solution_arn, solution_name
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
        stack = Stack.of(self)
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

        settings = {"recipe": config.recipe, "performAutoTraining": config.perform_auto_training}
        settings_tag = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        self.solution_name = config.resource_name(f"solution-{settings_tag}")
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
            service="personalize", resource="solution", resource_name=f"{config.resource_name('solution')}-*"
        )
        solution_log_group = logs.LogGroup(
            self,
            "SolutionResourceLogs",
            encryption_key=logs_key,
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Our own role instead of the default one with the AWS managed AWSLambdaBasicExecutionRole:
        # it may write to this one log group and nothing else.
        solution_resource_role = iam.Role(
            self,
            "SolutionResourceRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Creates and deletes the pipeline's Personalize solution (CloudFormation custom resource)",
        )
        solution_log_group.grant_write(solution_resource_role)
        solution_arn = stack.format_arn(service="personalize", resource="solution", resource_name=self.solution_name)
        self.solution = cr.AwsCustomResource(
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
            role=solution_resource_role,
            install_latest_aws_sdk=False,
            log_group=solution_log_group,
            # Always deleted, even when data is retained: a replaced solution left behind with
            # auto training on would go on training (and billing) weekly. Its trained versions
            # are reproducible from the retained dataset group by the next run.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.solution.node.add_dependency(self.dataset)
        acknowledge_wildcard(
            self.solution,
            solution_arn_pattern,
            "DeleteSolution must reach the solution of the previous settings (its name has another settings hash); "
            "the pattern is limited to this deployment's solution names.",
        )
        self.dataset_group_arn = self.dataset_group.attr_dataset_group_arn
        self.dataset_arn = self.dataset.attr_dataset_arn
        self.solution_arn = self.solution.get_response_field("solutionArn")
