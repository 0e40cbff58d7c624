"""Who may publish to the encrypted alert topic, and how each grant is scoped.

An `AWS::SNS::TopicPolicy` replaces SNS's default topic policy, so every AWS service that publishes
to the topic needs its own Allow there, and, the topic being encrypted with a customer managed
key, in that key's policy too (SNS Developer Guide, "Enable compatibility between event sources
from AWS services and encrypted topics"). Each grant is pinned to the sender by what the service
sends with the request:

- CloudWatch alarms send `aws:SourceArn` (the alarm's ARN) and `aws:SourceAccount` to SNS (AWS
  Knowledge Center, "CloudWatch alarm does not send SNS notifications": scope with aws:SourceArn),
  and source conditions are shown for the KMS statement too (Knowledge Center, "configure a
  CloudWatch alarm with an encrypted SNS topic"); verify alarm delivery after a first deploy.
- EventBridge sends `aws:SourceArn` (the rule's ARN) and `aws:SourceAccount` to SNS; the SNS guide
  states that these keys are *not* supported in a KMS key policy for EventBridge publishing to an
  encrypted topic, so its key statement has no source condition (a condition there would make
  every delivery fail). The topic policy, scoped to the rule, is what admits the publisher.

Alarms are scoped by name (`<prefix>-<environment>-*`), not by a list of ARNs: the key lives in the
data stack, which cannot reference the pipeline stack's alarms (the pipeline already depends on
it; the reverse reference would be a cycle), and the topic uses the same pattern so that both
gates admit the same alarms. Every alarm of this deployment is named with the prefix
(`PipelineConfig.resource_name`); an alarm of another deployment in the account has another prefix.
"""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import IConstruct

CLOUDWATCH = "cloudwatch.amazonaws.com"
EVENTBRIDGE = "events.amazonaws.com"
# What SNS needs from the key for a publisher (SNS Developer Guide, the section named above).
PUBLISH_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]


def alarm_arn_pattern(scope: IConstruct, name_prefix: str) -> str:
    """ArnLike pattern of every alarm of this deployment (named `<name_prefix>-...`) in this account and region."""
    return cdk.Stack.of(scope).format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name=f"{name_prefix}-*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )


def _source(arn_operator: str, source_arn: str) -> dict:
    return {arn_operator: {"aws:SourceArn": source_arn}, "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}}


def alarms_key_statement(scope: IConstruct, name_prefix: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="AlarmsOfThisDeploymentPublishToEncryptedTopics",
        principals=[iam.ServicePrincipal(CLOUDWATCH)],
        actions=PUBLISH_KEY_ACTIONS,
        resources=["*"],
        conditions=_source("ArnLike", alarm_arn_pattern(scope, name_prefix)),
    )


def eventbridge_key_statement() -> iam.PolicyStatement:
    # No aws:SourceArn / aws:SourceAccount: not supported here for EventBridge (see the module doc).
    return iam.PolicyStatement(
        sid="EventBridgePublishesToEncryptedTopics",
        principals=[iam.ServicePrincipal(EVENTBRIDGE)],
        actions=PUBLISH_KEY_ACTIONS,
        resources=["*"],
    )


def allow_alarms_to_publish(topic: sns.ITopic, name_prefix: str) -> None:
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AlarmsOfThisDeploymentPublish",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions=_source("ArnLike", alarm_arn_pattern(topic, name_prefix)),
        )
    )


@jsii.implements(events.IRuleTarget)
class ScopedTopicTarget:
    """An SNS topic as a rule target, allowed to receive from that one rule only.

    CDK's `events_targets.SnsTopic` grants `events.amazonaws.com` on the topic (and its key)
    without any condition, which would let any rule in any account publish; this target adds
    instead a topic-policy statement pinned to the rule's ARN and account."""

    def __init__(self, topic: sns.ITopic, message: events.RuleTargetInput) -> None:
        self._topic, self._message = topic, message

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        self._topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"Rule{rule.node.id}Publishes",
                principals=[iam.ServicePrincipal(EVENTBRIDGE)],
                actions=["sns:Publish"],
                resources=[self._topic.topic_arn],
                conditions=_source("ArnEquals", rule.rule_ref.rule_arn),
            )
        )
        return events.RuleTargetConfig(arn=self._topic.topic_arn, input=self._message)
