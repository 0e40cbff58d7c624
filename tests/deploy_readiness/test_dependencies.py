"""DependsOn holds only what a reference does not already order (cfn-lint W3005), and whatever runs
as a role right after it is created still waits for the role's policies."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from stacks.dependencies import prune_redundant_dependencies, referenced_logical_ids
from tests.deploy_readiness.conftest import SynthesizedApp
from tests.deploy_readiness.model import AppModel, as_list

# Resources that can run as their role the moment they exist (an invocation, a started execution):
# their role's policies must be in place first.
RUN_AS_ROLE = {"AWS::Lambda::Function": "Role", "AWS::StepFunctions::StateMachine": "RoleArn"}


def redundant_dependencies(model: AppModel) -> list[str]:
    return [
        f"{res} depends on {dependency}, which it references"
        for res, resource in model.resources()
        for dependency in _depends_on(resource)
        if dependency in referenced_logical_ids(resource.get("Properties", {}))
    ]


def missing_policy_dependencies(model: AppModel) -> list[str]:
    """A role's policy must exist before anything runs as the role: ordered before the function or
    state machine itself, or before every resource that uses it (as CDK's AwsCustomResource does
    for its singleton function, whose role gets a policy per custom resource)."""
    found = []
    for res, resource in model.resources(*RUN_AS_ROLE):
        role = model.target(res.stack, resource["Properties"][RUN_AS_ROLE[resource["Type"]]])
        policies = [
            policy.logical_id
            for policy, p in model.resources("AWS::IAM::Policy")
            if policy.stack == res.stack and role in [model.target(policy.stack, r) for r in p["Properties"].get("Roles", [])]
        ]
        users = [_depends_on(r) for u, r in model.resources() if u.stack == res.stack and res.logical_id in referenced_logical_ids(r.get("Properties", {}))]
        found += [
            f"{res} runs as {role} before its policy {policy}"
            for policy in policies
            if policy not in _depends_on(resource) and not (users and all(policy in depends_on for depends_on in users))
        ]
    return found


def _depends_on(resource: dict) -> list[str]:
    return as_list(resource.get("DependsOn", []))


def test_no_resource_depends_on_what_it_references(variant: SynthesizedApp) -> None:
    assert redundant_dependencies(variant.model) == []


def test_functions_and_state_machines_wait_for_their_role_policies(variant: SynthesizedApp) -> None:
    assert any(True for _ in variant.model.resources(*RUN_AS_ROLE))
    assert missing_policy_dependencies(variant.model) == []


def _function_stack(prune: bool) -> dict:
    """A function whose role has a policy, as aws-cdk-lib builds it, and another role that depends
    on the function without referencing it."""
    stack = cdk.Stack(cdk.App(), "Probe")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
    function = lambda_.Function(
        stack, "Function", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler", code=lambda_.Code.from_inline("x"), role=role
    )
    other = iam.Role(stack, "Other", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    other.node.add_dependency(function)
    if prune:
        prune_redundant_dependencies(stack)
    return Template.from_stack(stack).to_json()["Resources"]


def _ids(resources: dict, type_: str) -> list[str]:
    return [logical_id for logical_id, r in resources.items() if r["Type"] == type_]


def test_pruning_removes_exactly_the_referenced_dependencies() -> None:
    before, after = _function_stack(prune=False), _function_stack(prune=True)
    (function,) = _ids(after, "AWS::Lambda::Function")
    (policy,) = _ids(after, "AWS::IAM::Policy")
    role, other = sorted(_ids(after, "AWS::IAM::Role"), key=lambda i: not i.startswith("Role"))
    assert sorted(before[function]["DependsOn"]) == sorted([policy, role])  # what aws-cdk-lib writes
    assert after[function]["DependsOn"] == [policy]  # the referenced role goes, the policy stays
    assert after[other]["DependsOn"] == before[other]["DependsOn"] == [function]  # not referenced: kept
    assert {k: v for k, v in after.items() if k != function} == {k: v for k, v in before.items() if k != function}


def test_the_checks_catch_a_redundant_and_a_missing_dependency() -> None:
    unpruned = _function_stack(prune=False)
    (function,) = _ids(unpruned, "AWS::Lambda::Function")
    (role,) = [i for i in _ids(unpruned, "AWS::IAM::Role") if i.startswith("Role")]
    assert redundant_dependencies(AppModel({"Probe": {"Resources": unpruned}})) == [f"Probe/{function} depends on {role}, which it references"]
    without_dependencies = {**unpruned, function: {k: v for k, v in unpruned[function].items() if k != "DependsOn"}}
    (policy,) = _ids(unpruned, "AWS::IAM::Policy")
    assert missing_policy_dependencies(AppModel({"Probe": {"Resources": without_dependencies}})) == [
        f"Probe/{function} runs as Probe/{role} before its policy {policy}"
    ]
