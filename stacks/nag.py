"""cdk-nag acknowledgments: each names one finding on one construct, with the reason."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def _as_nag_renders(value: Any) -> str:
    # cdk-nag prints a Ref as <Name>, a GetAtt as <Name.Attr>, and any other intrinsic as compact JSON.
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_as_nag_renders(part) for part in parts)
    return json.dumps(value, separators=(",", ":"))


def wildcard_resource_finding(scope: IConstruct, resource: str) -> str:
    """The IAM5 finding id cdk-nag reports for a wildcard `resource` (an ARN, tokens allowed) in a
    policy of `scope`'s stack, e.g. `AwsSolutions-IAM5[Resource::<DataLakeRaw1A2B.Arn>/runs/*]`."""
    return f"AwsSolutions-IAM5[Resource::{_as_nag_renders(cdk.Stack.of(scope).resolve(resource))}]"
