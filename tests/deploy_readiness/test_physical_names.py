"""The pipeline stack can be destroyed and deployed again: every resource of it that carries a
physical name fixed at synth time is deleted with the stack (a retained one keeps its name taken,
and the next create fails with AlreadyExists)."""

from __future__ import annotations

from tests.deploy_readiness.conftest import SynthesizedApp
from tests.deploy_readiness.model import AppModel

# (resource type, property) pairs that end in "Name" without naming the resource, with the reason
# the stack stays redeployable. Empty today: every named resource of the stack is deleted with it.
NOT_A_PHYSICAL_NAME: dict[tuple[str, str], str] = {}


def named_resources(model: AppModel, stack: str) -> list[tuple[str, str]]:
    """(logical id, property) of each resource of `stack` with a literal value in a top-level
    property whose name ends in `Name` (Name, FunctionName, AlarmName, LogGroupName, ...)."""
    return [
        (res.logical_id, prop)
        for res, resource in model.resources()
        if res.stack == stack
        for prop, value in resource.get("Properties", {}).items()
        if prop.endswith("Name") and model.is_literal(stack, value) and (resource["Type"], prop) not in NOT_A_PHYSICAL_NAME
    ]


def problems(model: AppModel, stack: str) -> list[str]:
    resources = model.templates[stack]["Resources"]
    return [
        f"{logical_id} ({resources[logical_id]['Type']}, {prop}) has {policy} {resources[logical_id][policy]}"
        for logical_id, prop in named_resources(model, stack)
        for policy in ("DeletionPolicy", "UpdateReplacePolicy")
        if resources[logical_id].get(policy, "Delete") != "Delete"
    ]


def test_every_named_resource_of_the_pipeline_stack_is_deleted_with_it(variant: SynthesizedApp) -> None:
    named = {logical_id for logical_id, _ in named_resources(variant.model, variant.pipeline_stack)}
    assert len(named) >= 5, named  # the Glue job and security configuration, schedule, alarms, ...
    assert problems(variant.model, variant.pipeline_stack) == []


def test_the_check_catches_a_retained_named_resource(variant: SynthesizedApp) -> None:
    template = variant.model.templates[variant.pipeline_stack]
    (security_configuration,) = [i for i, r in template["Resources"].items() if r["Type"] == "AWS::Glue::SecurityConfiguration"]
    retained = {**template["Resources"][security_configuration], "DeletionPolicy": "Retain"}
    model = AppModel({variant.pipeline_stack: {**template, "Resources": {**template["Resources"], security_configuration: retained}}})
    assert problems(model, variant.pipeline_stack) == [
        f"{security_configuration} (AWS::Glue::SecurityConfiguration, Name) has DeletionPolicy Retain"
    ]
