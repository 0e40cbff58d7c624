"""The Personalize resources a run trains on: dataset group, interactions schema and dataset, one solution per
configured `solutions` entry (README "Solutions").

A solution is replaced whenever its settings change, so the pipeline stack does not hold its ARN: it reads the SSM
parameter `solution_arn_parameter_name(config, name)` of each solution at the start of every run. The parameters
live here, next to the solutions, and CloudFormation updates each in the same deployment that replaces its solution.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_personalize as personalize
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct, IDependable

from pipeline_contracts.metadata_datasets import DATASET_TYPE, DatasetKind, avro_schema
from pipeline_contracts.solutions import DEFAULT_SOLUTION_NAME
from pipeline_contracts.stack_outputs import LIST_SEPARATOR
from stacks.config import PipelineConfig, SolutionSpec
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


def solution_arn_parameter_name(config: PipelineConfig, name: str) -> str:
    """The SSM String parameter holding solution `name`'s current ARN, e.g. /pbp/dev/personalize/users-arn.
    The default solution ("solution") keeps the name it had before there were several: .../solution-arn."""
    return f"/{config.prefix}/{config.environment}/personalize/{name}-arn"


def solution_arn_parameter_names(config: PipelineConfig) -> str:
    """Every solution's parameter, comma-separated in config order: the `SolutionArnParameterNames` output of both
    stacks (the doctor compares them)."""
    return LIST_SEPARATOR.join(solution_arn_parameter_name(config, spec.name) for spec in config.solutions)


def solution_name_pattern(config: PipelineConfig, name: str) -> str:
    """Every Personalize name solution `name` can have (one per settings hash), e.g. pbp-dev-users-????????.

    IAM's `?` matches exactly one character: the 8 of the settings hash. A `*` would let the pattern of a
    solution named `users` match `users_eu`'s solutions too (pbp-dev-users_eu-<hash> starts with pbp-dev-users)."""
    return f"{config.resource_name(name)}-{'?' * SETTINGS_HASH_LENGTH}"


def personalize_solution_name(config: PipelineConfig, spec: SolutionSpec) -> str:
    """The Personalize name of `spec`'s solution: `<prefix>-<env>-<name>-<settings hash>`."""
    return config.resource_name(f"{spec.name}-{settings_hash8(spec)}")


SETTINGS_HASH_LENGTH = 8


def settings_hash8(spec: SolutionSpec) -> str:
    """8 hex digits of a solution's immutable settings: a settings change gives a new solution name. Over the
    recipe and performAutoTraining only, as before there were several solutions, so the default solution keeps
    its name (and is not replaced) on upgrade."""
    settings = {"recipe": spec.recipe, "performAutoTraining": spec.perform_auto_training}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:SETTINGS_HASH_LENGTH]


@dataclass(frozen=True)
class DeployedSolution:
    """One configured solution as the data stack deploys it."""

    name: str
    """The configured name (`SolutionSpec.name`)."""
    personalize_name: str
    """`<prefix>-<env>-<name>-<settings hash>`."""
    arn: str
    """The solution's ARN (a token: it is known once the custom resource has created it)."""
    parameter: ssm.StringParameter
    """The SSM parameter holding `arn`, which each run reads."""
    resource: cr.AwsCustomResource


class PersonalizeResources(Construct):
    """Dataset group (encrypted with the data key), schema, interactions dataset, and one solution per configured
    solution (`config.solutions`), each with the SSM parameter holding its ARN.

    A solution is created through the API by a custom resource because the L1 `CfnSolution`
    cannot set `performAutoTraining`, which the API turns on by default: a new, billed solution
    version every 7 days that nobody asked for. Solutions are immutable, so a changed recipe or
    auto-training setting yields a new name, a new solution, and the old one is deleted.

    Attributes:
        dataset_group_arn, dataset_arn, metadata_dataset_arns (kind -> ARN of each configured Items / Users
        dataset), solutions (name -> `DeployedSolution`, in config order); solution_arn and
        solution_arn_parameter: those of the first solution (the default one when `solutions` is not set)
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
        self.dataset_group_arn = self.dataset_group.attr_dataset_group_arn
        self.dataset_arn = self.dataset.attr_dataset_arn
        role, log_group = self._custom_resource_role(logs_key)
        self.solutions: dict[str, DeployedSolution] = {}
        # Solutions train on the datasets: created after all of them (a segment recipe needs the Items dataset).
        previous: IDependable | None = None
        for spec in config.solutions:
            solution = self._create_solution(config, spec, role, log_group)
            for dataset in self.node.children:
                if isinstance(dataset, personalize.CfnDataset):
                    solution.node.add_dependency(dataset)
            # One CreateSolution at a time: the calls are quick, but Personalize limits its API calls per second
            # (CreateSolution's LimitExceededException), which the custom resource does not retry; chained, N
            # solutions cost N short calls in sequence instead of a deployment that fails on a burst.
            # (Between the custom resources themselves, not their policies: see below.)
            if previous is not None:
                _custom_resource_of(solution).node.add_dependency(previous)
            previous = _custom_resource_of(solution)
            arn = solution.get_response_field("solutionArn")
            parameter = ssm.StringParameter(
                self,
                _construct_id(spec, "SolutionArnParameter"),
                parameter_name=solution_arn_parameter_name(config, spec.name),
                string_value=arn,
                description=f"ARN of the Personalize solution {spec.name!r} each pipeline run trains "
                "(updated when it is replaced)",
            )
            self.solutions[spec.name] = DeployedSolution(
                name=spec.name,
                personalize_name=personalize_solution_name(config, spec),
                arn=arn,
                parameter=parameter,
                resource=solution,
            )
        # All custom resources run in one provider function whose role holds every solution's policy: each waits
        # for all of them, so no call runs while the role is still being assembled (IAM is eventually consistent).
        for deployed in self.solutions.values():
            for other in self.solutions.values():
                if other is not deployed:
                    _custom_resource_of(deployed.resource).node.add_dependency(_policy_of(other.resource))
        first = next(iter(self.solutions.values()))
        self.solution_arn = first.arn
        self.solution_name = first.personalize_name
        self.solution_arn_parameter = first.parameter

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

    def _create_solution(
        self, config: PipelineConfig, spec: SolutionSpec, role: iam.IRole, log_group: logs.ILogGroup
    ) -> cr.AwsCustomResource:
        stack = Stack.of(self)
        name = personalize_solution_name(config, spec)
        create_solution = cr.AwsSdkCall(
            service="Personalize",
            action="createSolution",
            parameters={
                "name": name,
                "datasetGroupArn": self.dataset_group.attr_dataset_group_arn,
                "recipeArn": stack.format_arn(
                    service="personalize", region="", account="", resource="recipe", resource_name=spec.recipe
                ),
                "performAutoTraining": spec.perform_auto_training,
                "performHPO": False,
            },
            physical_resource_id=cr.PhysicalResourceId.from_response("solutionArn"),
        )
        solution_arn_pattern = stack.format_arn(
            service="personalize", resource="solution", resource_name=solution_name_pattern(config, spec.name)
        )
        solution_arn = stack.format_arn(service="personalize", resource="solution", resource_name=name)
        solution = cr.AwsCustomResource(
            self,
            _construct_id(spec, "Solution"),
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
            # This resource's own statements: its solution's names only. (Every AwsCustomResource of a stack
            # runs in one shared provider function, so the role holds the union: the configured solutions.)
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
        acknowledge_wildcard(
            solution,
            solution_arn_pattern,
            f"DeleteSolution must reach solution {spec.name!r} of the previous settings (its name has another "
            "settings hash); the pattern matches that solution's names only (one '?' per hash character).",
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
            description="Creates and deletes the pipeline's Personalize solutions (CloudFormation custom resources)",
        )
        log_group.grant_write(role)
        return role, log_group


def _schema_tag(kind: DatasetKind, config: PipelineConfig) -> str:
    """8 hex digits of a metadata schema: schemas are immutable, so a changed field list gets a new name."""
    spec = config.items_dataset if kind == "items" else config.users_dataset
    assert spec is not None
    return hashlib.sha256(json.dumps(avro_schema(spec), sort_keys=True).encode()).hexdigest()[:8]


def _custom_resource_of(resource: cr.AwsCustomResource) -> IConstruct:
    """The CloudFormation custom resource itself (not its policy): a dependency added to the whole construct would
    order its policy too, and policies waiting for custom resources that wait for policies form a cycle."""
    return resource.node.find_child("Resource").node.default_child or resource.node.find_child("Resource")


def _policy_of(resource: cr.AwsCustomResource) -> IConstruct:
    """The IAM policy CDK attaches to the shared provider role for `resource` (its statements)."""
    return resource.node.find_child("CustomResourcePolicy")


def _construct_id(spec: SolutionSpec, what: str) -> str:
    """The default solution keeps its construct ids (`Solution`, `SolutionArnParameter`), so an upgraded stack
    updates its resources in place instead of replacing them; others get `<name><what>`, e.g. usersSolution
    (the name as configured: distinct names give distinct ids)."""
    if spec.name == DEFAULT_SOLUTION_NAME:
        return what
    return spec.name + what
