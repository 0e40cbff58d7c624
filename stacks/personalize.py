"""The Personalize resources a run trains on: dataset group, interactions schema and dataset, the Items / Users
datasets (`stacks/personalize_datasets.py`), one solution per configured `solutions` entry
(`stacks/personalize_solutions.py`, README "Solutions"), all custom ones served by one provider
(`stacks/personalize_provider.py`).

A solution is replaced whenever its settings change, so the pipeline stack does not hold its ARN: it reads the SSM
parameter `solution_arn_parameter_name(config, name)` of each solution at the start of every run. The parameters
live here, next to the solutions, and CloudFormation updates each in the same deployment that replaces its solution.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from aws_cdk import CfnDeletionPolicy, CustomResource, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_personalize as personalize
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from pipeline_contracts import personalize_resources as props
from pipeline_contracts.solutions import DEFAULT_SOLUTION_NAME
from pipeline_contracts.stack_outputs import LIST_SEPARATOR
from stacks.config import PipelineConfig, SolutionSpec
from stacks.personalize_datasets import metadata_datasets
from stacks.personalize_filters import filter_resources
from stacks.personalize_provider import PersonalizeResourceProvider
from stacks.personalize_solutions import event_value_threshold_text, solution_resource

# The interactions schema: what the Glue job writes (USER_ID,ITEM_ID,TIMESTAMP in seconds,EVENT_TYPE,EVENT_VALUE).
# The same for every configuration, because Personalize cannot replace an Item interactions dataset's schema
# ("Replacing a dataset's schema": not for Item interactions datasets): EVENT_TYPE is always written (a column or
# default_event_type), EVENT_VALUE is nullable (empty without raw_event_value_column). README "Filters and event
# types" has the one-time upgrade of a stack deployed with the earlier three-field schema.
INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
    ],
    "version": "1.0",
}
# The schema's name: a schema cannot change, and the three-field one of earlier versions had the name without suffix.
INTERACTIONS_SCHEMA_SUFFIX = "interactions-schema-events"
# The dataset's name changes with the schema: CloudFormation replaces a dataset whose SchemaArn changes, and refuses
# to replace a resource whose name stays the same.
INTERACTIONS_DATASET_SUFFIX = "interactions-events"


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
    settings: dict[str, object] = {"recipe": spec.recipe, "performAutoTraining": spec.perform_auto_training}
    # Create-only too; in the hash only when set, so that a solution without them keeps its name.
    if spec.event_type is not None:
        settings["eventType"] = spec.event_type
    if spec.event_value_threshold is not None:
        settings["eventValueThreshold"] = event_value_threshold_text(spec.event_value_threshold)
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
    resource: CustomResource


class PersonalizeResources(Construct):
    """Dataset group (encrypted with the data key), schema, interactions dataset, the configured Items / Users
    datasets, and one solution per configured solution (`config.solutions`), each with the SSM parameter holding its
    ARN.

    Solutions and metadata datasets are custom resources of one provider (`PersonalizeResourceProvider`): the L1
    `CfnSolution` cannot set `performAutoTraining`, which the API turns on by default (a new, billed solution version
    every 7 days that nobody asked for), and an `AWS::Personalize::Dataset` cannot take a new schema in place.
    Solutions are immutable, so a changed recipe or auto-training setting yields a new name, a new solution, and the
    old one is deleted (after stopping a training that would block the delete).

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
        self.provider = PersonalizeResourceProvider(self, "ResourceProvider", logs_key=logs_key)
        datasets = metadata_datasets(
            self, config=config, dataset_group=self.dataset_group, provider=self.provider, removal_policy=removal_policy
        )
        self.metadata_dataset_arns = {kind: dataset.ref for kind, dataset in datasets.items()}
        self.filters = filter_resources(
            self, config=config, dataset_group_arn=self.dataset_group.attr_dataset_group_arn, provider=self.provider
        )
        for resource in self.filters.values():  # a filter reads its datasets' fields
            for dataset in (self.dataset, *datasets.values()):
                resource.node.add_dependency(dataset)
        self.dataset_group_arn = self.dataset_group.attr_dataset_group_arn
        self.dataset_arn = self.dataset.attr_dataset_arn
        self.solutions: dict[str, DeployedSolution] = {}
        previous: CustomResource | None = None
        for spec in config.solutions:
            solution = solution_resource(
                self,
                _construct_id(spec, "Solution"),
                spec=spec,
                name=personalize_solution_name(config, spec),
                name_pattern=solution_name_pattern(config, spec.name),
                dataset_group_arn=self.dataset_group.attr_dataset_group_arn,
                provider=self.provider,
            )
            # Solutions train on the datasets: created after all of them (a segment recipe needs the Items dataset).
            for dataset in (self.dataset, *datasets.values()):
                solution.node.add_dependency(dataset)
            # One CreateSolution at a time: Personalize limits its API calls per second (CreateSolution's
            # LimitExceededException); chained, N solutions cost N short calls in sequence instead of a deployment
            # that fails on a burst.
            if previous is not None:
                solution.node.add_dependency(previous)
            previous = solution
            arn = solution.get_att_string(props.SOLUTION_ARN_ATTRIBUTE)
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
            name=config.resource_name(INTERACTIONS_SCHEMA_SUFFIX),
            schema=json.dumps(INTERACTIONS_SCHEMA, separators=(",", ":")),
        )
        # The interactions dataset stays an AWS::Personalize::Dataset: its schema is fixed (the same for every
        # configuration), and Personalize cannot replace the schema of an interactions dataset anyway.
        self.dataset = personalize.CfnDataset(
            self,
            "InteractionsDataset",
            name=config.resource_name(INTERACTIONS_DATASET_SUFFIX),
            dataset_group_arn=self.dataset_group.attr_dataset_group_arn,
            dataset_type="Interactions",
            schema_arn=schema.attr_schema_arn,
        )
        for resource in (self.dataset_group, schema, self.dataset):
            resource.apply_removal_policy(removal_policy)
        # A replaced interactions dataset has the new one's ARN (dataset/<group>/INTERACTIONS): deleting the "old"
        # one after a replacement would delete the new one. Never delete on replacement (docs/operations.md,
        # "Upgrading to the event-type interactions schema").
        self.dataset.cfn_options.update_replace_policy = CfnDeletionPolicy.RETAIN


def _construct_id(spec: SolutionSpec, what: str) -> str:
    """The default solution keeps its construct ids (`Solution`, `SolutionArnParameter`), so an upgraded stack
    updates its resources in place instead of replacing them; others get `<name><what>`, e.g. usersSolution
    (the name as configured: distinct names give distinct ids)."""
    if spec.name == DEFAULT_SOLUTION_NAME:
        return what
    return spec.name + what
