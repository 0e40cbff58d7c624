"""No key policy names a principal created in the same template: KMS rejects a key policy whose
principal it cannot see yet (MalformedPolicyDocumentException), and a role created in the same
deployment may not be visible when the key is created or updated. Grant on the role's side."""

from __future__ import annotations

from stacks.dependencies import referenced_logical_ids
from tests.deploy_readiness.conftest import SynthesizedApp
from tests.deploy_readiness.model import AppModel, as_list


def problems(model: AppModel) -> list[str]:
    found = []
    for key, resource in model.resources("AWS::KMS::Key"):
        same_template = set(model.templates[key.stack]["Resources"])
        for statement in as_list(resource["Properties"]["KeyPolicy"]["Statement"]):
            named = referenced_logical_ids(statement.get("Principal", {})) & same_template
            found += [f"{key}: statement {statement.get('Sid', '(no Sid)')} names {name}" for name in sorted(named)]
    return found


def test_no_key_policy_names_a_principal_of_its_own_template(variant: SynthesizedApp) -> None:
    assert any(True for _ in variant.model.resources("AWS::KMS::Key"))
    assert problems(variant.model) == []


def test_the_check_catches_a_role_named_in_a_key_policy(variant: SynthesizedApp) -> None:
    (stack, template), role = next(
        ((key.stack, variant.model.templates[key.stack]), role)
        for key, _ in variant.model.resources("AWS::KMS::Key")
        for role, _ in variant.model.resources("AWS::IAM::Role")
        if role.stack == key.stack
    )
    resources = dict(template["Resources"])
    key_id = next(i for i, r in resources.items() if r["Type"] == "AWS::KMS::Key")
    statement = {"Sid": "RoleByName", "Effect": "Allow", "Principal": {"AWS": {"Fn::GetAtt": [role.logical_id, "Arn"]}}, "Action": "kms:Decrypt", "Resource": "*"}
    key = resources[key_id]
    policy = key["Properties"]["KeyPolicy"]
    resources[key_id] = {**key, "Properties": {**key["Properties"], "KeyPolicy": {**policy, "Statement": [*policy["Statement"], statement]}}}
    assert problems(AppModel({stack: {**template, "Resources": resources}})) == [f"{stack}/{key_id}: statement RoleByName names {role.logical_id}"]
