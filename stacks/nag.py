"""cdk-nag acknowledgments: each names one finding on one construct, with the reason."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import IConstruct


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def object_wildcard_finding(bucket: s3.IBucket, key_pattern: str) -> str:
    """The IAM5 finding id cdk-nag reports for `<bucket ARN>/<key_pattern>` in a policy of the
    bucket's own stack, e.g. `AwsSolutions-IAM5[Resource::<DataLakeRaw1A2B.Arn>/runs/*]`."""
    stack = cdk.Stack.of(bucket)
    logical_id = stack.resolve(stack.get_logical_id(bucket.node.default_child))
    return f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{key_pattern}]"
