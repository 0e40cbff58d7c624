"""One `Custom::PersonalizeFilter` per configured filter (`filters`), served by the data stack's Personalize provider.

A filter cannot be updated, so its Personalize name carries a hash of its expression
(`<prefix>-<env>-<name>-<hash8>`): a changed expression creates a new filter under a new name, and CloudFormation
deletes the old one in the clean-up of the data stack's update. The filter's current ARN is kept in an SSM parameter
(`filter_arn_parameter_name`) that the same update rewrites before that clean-up, and every run reads it (as it reads
the solutions' ARNs), so the batch jobs switch to the new filter with the data stack alone: no deployment order of
the two stacks leaves the pipeline pointing at a deleted filter. What remains: a run that read the old ARN before
the update and creates a batch job after the clean-up fails that job (docs/operations.md, "Changing settings").
"""

from __future__ import annotations

from aws_cdk import CustomResource, RemovalPolicy, Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from pipeline_contracts import personalize_resources as props
from stacks.config import PipelineConfig
from stacks.config_filters import EXPRESSION_HASH_LENGTH, FilterSpec
from stacks.personalize_provider import PersonalizeResourceProvider


def personalize_filter_name(config: PipelineConfig, spec: FilterSpec) -> str:
    """`<prefix>-<env>-<name>-<expression hash>` (at most 16 + 1 + 10 + 1 + 20 + 1 + 8 = 57 characters)."""
    return config.resource_name(f"{spec.name}-{spec.expression_hash8}")


def filter_arn_parameter_name(config: PipelineConfig, name: str) -> str:
    """The SSM String parameter holding configured filter `name`'s current ARN, e.g.
    /pbp/dev/personalize/filter-unrated-arn (a solution's is /pbp/dev/personalize/<solution>-arn; solution names
    have no '-', so the two never collide)."""
    return f"/{config.prefix}/{config.environment}/personalize/filter-{name}-arn"


def filter_name_pattern(config: PipelineConfig, name: str) -> str:
    """Every Personalize name configured filter `name` can have (one per expression hash; IAM's `?` is one
    character)."""
    return config.resource_name(f"{name}-{'?' * EXPRESSION_HASH_LENGTH}")


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
        ssm.StringParameter(
            scope,
            f"{spec.name}FilterArnParameter",
            parameter_name=filter_arn_parameter_name(config, spec.name),
            string_value=resources[spec.name].get_att_string(props.FILTER_ARN_ATTRIBUTE),
            description=f"ARN of the Personalize filter {spec.name!r} the batch jobs use (updated when it is replaced)",
        )
        pattern = stack.format_arn(
            service="personalize", resource="filter", resource_name=filter_name_pattern(config, spec.name)
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
