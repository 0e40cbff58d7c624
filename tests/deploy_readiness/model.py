"""A read-only model of an app's synthesized templates: what refers to what across stacks, and what
a policy statement allows, evaluated offline the way IAM would for one request.

Values are rendered to strings with the pseudo parameters filled in (`ACCOUNT`, `REGION`) and
every resource attribute as a symbol `<stack/LogicalId.Attribute>`, so that an ARN built by a
policy (an `Fn::Join`, a cross-stack `Fn::GetStackOutput`) and the ARN of the resource it means
render the same.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any, Iterator

from stacks.dependencies import referenced_logical_ids

ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"
FOREIGN_ACCOUNT = "999999999999"
ACCOUNT_ROOT = f"arn:{PARTITION}:iam::{ACCOUNT}:root"
_PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}
# How a resource's own ARN is obtained in a template (Ref returns the ARN for these types).
_ARN_BY_REF = {"AWS::SNS::Topic"}


@dataclass(frozen=True)
class Res:
    """One resource of the app: its stack and logical id."""

    stack: str
    logical_id: str

    def __str__(self) -> str:
        return f"{self.stack}/{self.logical_id}"


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


class AppModel:
    def __init__(self, templates: dict[str, dict]) -> None:
        self.templates = templates

    # --- resources and references -------------------------------------------------------------
    def resources(self, *types: str) -> Iterator[tuple[Res, dict]]:
        for stack, template in self.templates.items():
            for logical_id, resource in template.get("Resources", {}).items():
                if not types or resource["Type"] in types:
                    yield Res(stack, logical_id), resource

    def resource(self, res: Res) -> dict:
        return self.templates[res.stack]["Resources"][res.logical_id]

    def type_of(self, res: Res | None) -> str | None:
        return self.resource(res)["Type"] if res else None

    def properties(self, res: Res) -> dict:
        return self.resource(res).get("Properties", {})

    def target(self, stack: str, value: Any) -> Res | None:
        """The resource a value refers to (Ref, Fn::GetAtt, or through another stack's output)."""
        if not isinstance(value, dict):
            return None
        if isinstance(value.get("Ref"), str) and value["Ref"] not in _PSEUDO and value["Ref"] in self.templates[stack]["Resources"]:
            return Res(stack, value["Ref"])
        if isinstance(value.get("Fn::GetAtt"), list):
            return Res(stack, value["Fn::GetAtt"][0])
        exported = self._exported(stack, value)
        return self.target(*exported) if exported else None

    def _exported(self, stack: str, value: dict) -> tuple[str, Any] | None:
        """(producing stack, output value) of a cross-stack reference."""
        if "Fn::GetStackOutput" in value:
            reference = value["Fn::GetStackOutput"]
            producer = self.render(stack, reference["StackName"])
            return producer, self.templates[producer]["Outputs"][reference["OutputName"]]["Value"]
        if "Fn::ImportValue" in value:
            name = self.render(stack, value["Fn::ImportValue"])
            for producer, template in self.templates.items():
                for output in template.get("Outputs", {}).values():
                    if "Export" in output and self.render(producer, output["Export"]["Name"]) == name:
                        return producer, output["Value"]
        return None

    def render(self, stack: str, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and isinstance(value.get("Ref"), str):
            name = value["Ref"]
            return _PSEUDO.get(name, stack if name == "AWS::StackName" else f"<{stack}/{name}>")
        if isinstance(value, dict) and isinstance(value.get("Fn::GetAtt"), list):
            logical_id, attribute = value["Fn::GetAtt"]
            return f"<{stack}/{logical_id}.{attribute}>"
        if isinstance(value, dict) and "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(self.render(stack, part) for part in parts)
        exported = self._exported(stack, value) if isinstance(value, dict) else None
        if exported:
            return self.render(*exported)
        return json.dumps(value, sort_keys=True)

    def is_literal(self, stack: str, value: Any) -> bool:
        """A value fixed at synth time (a string, or one built from strings and pseudo parameters)."""
        references = referenced_logical_ids(value) - set(_PSEUDO)
        return not references and "<" not in self.render(stack, value)

    def arn_of(self, res: Res) -> str:
        resource = self.resource(res)
        if resource["Type"] == "AWS::CloudWatch::Alarm" and "AlarmName" in resource["Properties"]:
            name = self.render(res.stack, resource["Properties"]["AlarmName"])
            return f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
        return f"<{res}>" if resource["Type"] in _ARN_BY_REF else f"<{res}.Arn>"

    # --- policies ------------------------------------------------------------------------------
    def resource_policy_statements(self, target: Res) -> list[tuple[Res, dict]]:
        """Statements of the SNS topic / SQS queue policies attached to `target`."""
        attachments = {"AWS::SNS::TopicPolicy": "Topics", "AWS::SQS::QueuePolicy": "Queues"}
        return [
            (policy, statement)
            for policy, resource in self.resources(*attachments)
            if target in [self.target(policy.stack, t) for t in resource["Properties"][attachments[resource["Type"]]]]
            for statement in as_list(resource["Properties"]["PolicyDocument"]["Statement"])
        ]

    def key_policy_statements(self, key: Res) -> list[dict]:
        return as_list(self.properties(key)["KeyPolicy"]["Statement"])

    def identity_statements(self, role: Res) -> list[tuple[str, dict]]:
        """(stack, statement) of every identity policy of a role: inline, AWS::IAM::Policy, managed."""
        found = [(role.stack, s) for p in self.properties(role).get("Policies", []) for s in as_list(p["PolicyDocument"]["Statement"])]
        for policy, resource in self.resources("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            if role in [self.target(policy.stack, r) for r in resource["Properties"].get("Roles", [])]:
                found += [(policy.stack, s) for s in as_list(resource["Properties"]["PolicyDocument"]["Statement"])]
        return found

    def role_allows(self, role: Res, action: str, resource_arn: str) -> bool:
        return any(
            allows_action(statement, action) and self.covers_resource(stack, statement, resource_arn)
            for stack, statement in self.identity_statements(role)
        )

    def covers_resource(self, stack: str, statement: dict, arn: str) -> bool:
        return any(_like(self.render(stack, pattern), arn) for pattern in as_list(statement.get("Resource", [])))

    def key_of(self, res: Res) -> Res | None:
        """The customer managed key a topic or queue is encrypted with."""
        key_id = self.properties(res).get("KmsMasterKeyId")
        return self.target(res.stack, key_id) if key_id is not None else None

    def key_delegates_to_account(self, key: Res) -> bool:
        """Whether the key policy lets IAM policies of this account grant the key's use."""
        return any(
            statement["Effect"] == "Allow"
            and ACCOUNT_ROOT in self.principals(key.stack, statement, "AWS")
            and allows_action(statement, "kms:*")
            and "Condition" not in statement
            for statement in self.key_policy_statements(key)
        )

    def principals(self, stack: str, statement: dict, kind: str) -> list[str]:
        principal = statement.get("Principal", {})
        if principal == "*":
            return ["*"]
        return [self.render(stack, value) for value in as_list(principal.get(kind, []))]

    def conditions_hold(self, stack: str, statement: dict, context: dict[str, str]) -> bool:
        """Whether every condition of `statement` is met by a request carrying exactly `context`;
        a condition on a key the request does not carry fails (unless ...IfExists)."""
        carried = {key.lower(): value for key, value in context.items()}
        for operator, tests in statement.get("Condition", {}).items():
            for key, expected in tests.items():
                actual = carried.get(key.lower())
                if actual is None:
                    if not operator.endswith("IfExists"):
                        return False
                    continue
                patterns = [self.render(stack, value) for value in as_list(expected)]
                if not any(_compare(operator, pattern, actual) for pattern in patterns):
                    return False
        return True


def allows_action(statement: dict, action: str) -> bool:
    """An Allow statement whose actions cover `action` (IAM wildcards, case-insensitive)."""
    return statement.get("Effect") == "Allow" and any(
        fnmatch.fnmatchcase(action.lower(), pattern.lower()) or pattern.lower() == action.lower()
        for pattern in as_list(statement.get("Action", []))
    )


def _like(pattern: str, value: str) -> bool:
    return pattern == value or fnmatch.fnmatchcase(value, pattern)


def _compare(operator: str, pattern: str, actual: str) -> bool:
    base = operator.removesuffix("IfExists")
    if base in ("StringEquals", "ArnEquals", "Bool"):
        return pattern == actual
    if base in ("StringLike", "ArnLike"):
        return _like(pattern, actual)
    return False  # an operator this model does not evaluate never counts as met
