"""cdk-nag acknowledgments: each names one finding on one construct, with the reason."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import jsii
from constructs import IConstruct, IValidation


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def acknowledge_wildcard(construct: IConstruct, resource: str, reason: str) -> None:
    """Acknowledges cdk-nag's AwsSolutions-IAM5 finding for the wildcard `resource` (an ARN pattern,
    tokens allowed) in a policy of `construct`, e.g. `AwsSolutions-IAM5[Resource::<Raw1A2B.Arn>/runs/*]`.

    The finding id is how cdk-nag prints the resolved resource, and a resource of another stack is
    only known as an output reference once CDK has resolved cross-stack references; so the id is
    computed in the validation phase, which runs after that and before the cdk-nag plugin."""
    construct.node.add_validation(_WildcardAcknowledgment(construct, resource, reason))


def as_nag_prints(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag prints it in a finding id (its flattenCfnReference)."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(as_nag_prints(part) for part in parts)
    if isinstance(value, dict) and "Fn::Sub" in value:
        return as_nag_prints(value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        return f"<{as_nag_prints(resource)}.{as_nag_prints(attribute)}>"
    if isinstance(value, dict) and "Fn::ImportValue" in value:
        return as_nag_prints(value["Fn::ImportValue"])
    if isinstance(value, dict) and "Ref" in value:
        return f"<{as_nag_prints(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))


@jsii.implements(IValidation)
class _WildcardAcknowledgment:
    def __init__(self, construct: IConstruct, resource: str, reason: str) -> None:
        self._construct, self._resource, self._reason = construct, resource, reason
        self._done = False

    def validate(self) -> list[str]:
        if not self._done:  # validations may run more than once per synth
            resolved = cdk.Stack.of(self._construct).resolve(self._resource)
            acknowledge(self._construct, f"AwsSolutions-IAM5[Resource::{as_nag_prints(resolved)}]", self._reason)
            self._done = True
        return []
