"""One `Custom::PersonalizeFilter` per configured filter (`filters`), served by the data stack's Personalize provider.

A filter cannot be updated, so its Personalize name carries a hash of its expression
(`<prefix>-<env>-<name>-<hash8>`): a changed expression creates a new filter under a new name, the batch jobs switch
to it (the pipeline stack formats the ARN from the same name), and CloudFormation deletes the old one.
"""

from __future__ import annotations

from aws_cdk import Aws, CustomResource, RemovalPolicy, Stack
from constructs import Construct

from pipeline_contracts import personalize_resources as props
from stacks.config import PipelineConfig
from stacks.config_filters import EXPRESSION_HASH_LENGTH, FilterSpec
from stacks.personalize_provider import PersonalizeResourceProvider


def personalize_filter_name(config: PipelineConfig, spec: FilterSpec) -> str:
    """`<prefix>-<env>-<name>-<expression hash>` (at most 16 + 1 + 10 + 1 + 20 + 1 + 8 = 57 characters)."""
    return config.resource_name(f"{spec.name}-{spec.expression_hash8}")


def filter_arn(config: PipelineConfig, name: str) -> str:
    """The ARN of configured filter `name` in the deploying account and region (known before it exists)."""
    personalize_name = personalize_filter_name(config, config.filter_named(name))
    return f"arn:{Aws.PARTITION}:personalize:{Aws.REGION}:{Aws.ACCOUNT_ID}:filter/{personalize_name}"


def filter_resources(
    scope: Construct,
    *,
    config: PipelineConfig,
    dataset_group_arn: str,
    provider: PersonalizeResourceProvider,
) -> dict[str, CustomResource]:
    """Configured name -> its filter resource (GetAtt filterArn)."""
    stack = Stack.of(scope)
    resources: dict[str, CustomResource] = {}
    for spec in config.filters:
        resources[spec.name] = CustomResource(
            scope,
            f"{spec.name}Filter",
            service_token=provider.service_token,
            resource_type=props.FILTER_RESOURCE_TYPE,
            properties={
                props.NAME: personalize_filter_name(config, spec),
                props.DATASET_GROUP_ARN: dataset_group_arn,
                props.FILTER_EXPRESSION: spec.expression,
            },
            # A filter holds no data and is not billed; deleted with the stack so the dataset group can go too.
            removal_policy=RemovalPolicy.DESTROY,
        )
        pattern = stack.format_arn(
            service="personalize",
            resource="filter",
            resource_name=config.resource_name(f"{spec.name}-{'?' * EXPRESSION_HASH_LENGTH}"),
        )
        provider.allow(["personalize:CreateFilter"], [dataset_group_arn, pattern], _REASON.format(name=spec.name))
        provider.allow(
            ["personalize:DescribeFilter", "personalize:DeleteFilter"], [pattern], _REASON.format(name=spec.name)
        )
    return resources


_REASON = (
    "Filter {name!r} is named after a hash of its expression (a changed expression is a new filter and the old one "
    "is deleted); the pattern matches this filter's names only (one '?' per hash character)."
)
