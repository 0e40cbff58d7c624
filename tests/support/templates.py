"""Reading synthesized templates: resources, logical ids, IAM statements, the resolved state machine.

Accepts a template as `aws_cdk.assertions.Template` or as its JSON (a dict), whichever a test holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from constructs import IConstruct

from stacks.app_factory import PipelineApp
from pipeline_rehearsal import FakeCloud, resolve_definition

TemplateLike = Template | Mapping[str, Any]


def _json(template: TemplateLike) -> Mapping[str, Any]:
    return template.to_json() if isinstance(template, Template) else template


def resources(template: TemplateLike, resource_type: str) -> dict[str, dict[str, Any]]:
    """The resources of one type, by logical id."""
    return {
        logical_id: resource
        for logical_id, resource in _json(template)["Resources"].items()
        if resource["Type"] == resource_type
    }


def only(template: TemplateLike, resource_type: str) -> tuple[str, dict[str, Any]]:
    """The one resource of a type, as (logical id, resource)."""
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {list(found)}"
    return next(iter(found.items()))


def logical_id(template: TemplateLike, resource_type: str, path_fragment: str) -> str:
    """The one resource of a type whose construct path contains `path_fragment` (needs path metadata)."""
    matches = [
        found
        for found, resource in resources(template, resource_type).items()
        if path_fragment in resource["Metadata"]["aws:cdk:path"]
    ]
    assert len(matches) == 1, f"expected one {resource_type} at *{path_fragment}*, found {matches}"
    return matches[0]


def logical_id_starting_with(template: TemplateLike, prefix: str) -> str:
    """The one resource whose logical id starts with `prefix` (for stacks synthesized without path metadata)."""
    (found,) = [candidate for candidate in _json(template)["Resources"] if candidate.startswith(prefix)]
    return found


def logical_id_of(construct: IConstruct) -> str:
    """The logical id of a construct's CloudFormation resource (its default child for an L2)."""
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    assert isinstance(element, cdk.CfnElement), f"{construct.node.path} has no CloudFormation resource"
    stack = cdk.Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(element)))


def as_list(value: Any) -> list[Any]:
    """IAM allows one action or resource instead of a list of one."""
    return value if isinstance(value, list) else [value]


def role_statements(template: TemplateLike, role_id: str) -> list[dict[str, Any]]:
    """The statements of every `AWS::IAM::Policy` attached to the role with this logical id."""
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"].get("Roles", [])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def bucket_policy_statements(template: TemplateLike, bucket_id: str) -> list[dict[str, Any]]:
    """The statements of the bucket policy of the bucket with this logical id."""
    (policy,) = [
        policy
        for policy in resources(template, "AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Action -> the resources the statements allow it on (each as sorted JSON, so tokens compare)."""
    result: dict[str, set[str]] = {}
    for statement in statements:
        for action in as_list(statement["Action"]):
            result.setdefault(action, set()).update(json.dumps(r, sort_keys=True) for r in as_list(statement["Resource"]))
    return result


def pipeline_definition(pipeline: PipelineApp, templates: Mapping[str, TemplateLike]) -> dict[str, Any]:
    """The pipeline stack's state machine definition as deployed: every Ref, GetAtt and cross-stack
    reference to the data stack resolved to consistent fake names (see `FakeCloud`).
    `templates`: the app's templates by stack name (`cdk_app.templates_of`)."""
    template = _json(templates[pipeline.pipeline_stack.stack_name])
    data_stack = pipeline.data_stack.stack_name
    cloud = FakeCloud(template, stacks={data_stack: _json(templates[data_stack])})
    return resolve_definition(template, cloud=cloud)


def nested_machines(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The state machines inside a state: a Map's iterator or item processor, a Parallel's branches."""
    candidates = [state.get("Iterator"), state.get("ItemProcessor"), *state.get("Branches", [])]
    return [machine for machine in candidates if machine]


def all_states(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state of an ASL definition by name, the nested ones (Map, Parallel) included."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        found[name] = state
        for machine in nested_machines(state):
            found.update(all_states(machine))
    return found


def past_function_error_reader(states: Mapping[str, Mapping[str, Any]], name: str) -> str:
    """Where a catch that goes to state `name` ends up: the state after `readable_function_error`'s Choice (its
    Default, where a plain-text cause goes) when `name` is that Choice, `name` itself otherwise."""
    state = states[name]
    if state["Type"] == "Choice" and name.endswith(": function error?"):
        return str(state["Default"])
    return name
