"""One `Custom::PersonalizeSolution` per configured solution, served by the data stack's Personalize provider.

Kept at the construct path of the former AwsCustomResource (`<id>/Resource/Default`), so the logical id and the
resource type stay and an upgraded stack updates the resource in place: the provider sees an Update whose name
matches its physical id (the solution ARN) and creates nothing.
"""

from __future__ import annotations

from aws_cdk import CustomResource, RemovalPolicy, Stack
from constructs import Construct

from pipeline_contracts import personalize_resources as props
from stacks.config import SolutionSpec
from stacks.personalize_provider import PersonalizeResourceProvider


def training_data_properties(spec: SolutionSpec) -> dict[str, str]:
    """EventType / EventValueThreshold, only when configured (a solution without them keeps its properties)."""
    properties = {}
    if spec.event_type is not None:
        properties[props.EVENT_TYPE] = spec.event_type
    if spec.event_value_threshold is not None:
        properties[props.EVENT_VALUE_THRESHOLD] = event_value_threshold_text(spec.event_value_threshold)
    return properties


def event_value_threshold_text(threshold: float) -> str:
    """solutionConfig.eventValueThreshold is a string in the API: 3.5 -> "3.5", 4.0 -> "4"."""
    return format(threshold, "g")


def solution_resource(
    scope: Construct,
    construct_id: str,
    *,
    spec: SolutionSpec,
    name: str,
    name_pattern: str,
    dataset_group_arn: str,
    provider: PersonalizeResourceProvider,
) -> CustomResource:
    """The solution `name` (`<prefix>-<env>-<name>-<settings hash>`) of `spec`; `name_pattern` matches every
    name the solution had (earlier settings), which a settings change deletes."""
    stack = Stack.of(scope)
    holder = Construct(scope, construct_id)
    resource = CustomResource(
        holder,
        "Resource",
        service_token=provider.service_token,
        resource_type=props.SOLUTION_RESOURCE_TYPE,
        properties={
            props.NAME: name,
            props.DATASET_GROUP_ARN: dataset_group_arn,
            props.RECIPE_ARN: stack.format_arn(
                service="personalize", region="", account="", resource="recipe", resource_name=spec.recipe
            ),
            props.PERFORM_AUTO_TRAINING: spec.perform_auto_training,
            **training_data_properties(spec),
        },
        # Always deleted, even when data is retained: a solution left behind with auto training on would go on
        # training (and billing) weekly. Its trained versions are reproducible from the retained dataset group.
        removal_policy=RemovalPolicy.DESTROY,
    )

    def solution_arn(solution_name: str) -> str:
        return stack.format_arn(service="personalize", resource="solution", resource_name=solution_name)

    provider.allow(["personalize:CreateSolution"], [dataset_group_arn, solution_arn(name)])
    # Describe (adopting a retried create, watching a deletion), stop a training that blocks the delete, delete:
    # on every name of this solution, since a settings change deletes the solution of the previous settings.
    provider.allow(
        ["personalize:DescribeSolution", "personalize:DeleteSolution"],
        [solution_arn(name_pattern)],
        f"Solution {spec.name!r} of the previous settings (its name has another settings hash) is deleted after a "
        "settings change; the pattern matches that solution's names only (one '?' per hash character).",
    )
    provider.allow(
        ["personalize:StopSolutionVersionCreation"],
        [solution_arn(f"{name_pattern}/*")],
        f"A training version of solution {spec.name!r} (any settings hash) blocks DeleteSolution until it is "
        "stopped; versions are named by Personalize under the solution.",
    )
    return resource
