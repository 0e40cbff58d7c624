"""Every sender to a topic or queue of the app can deliver: its resource policy and the key policy
of its KMS key let that sender in, scoped to that sender, and no service gets in unconditioned.

The senders are derived from the templates: the actions of every CloudWatch alarm, the targets of
every EventBridge rule, the dead-letter queue and targets of every Scheduler schedule, and every
IAM policy that publishes or sends to a topic or queue of the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets

from stacks.app_factory import PipelineApp
from tests.deploy_readiness.conftest import SynthesizedApp, synthesized
from tests.deploy_readiness.model import ACCOUNT, FOREIGN_ACCOUNT, PARTITION, REGION, AppModel, Res, allows_action, as_list

SEND_ACTION = {"AWS::SNS::Topic": "sns:Publish", "AWS::SQS::Queue": "sqs:SendMessage"}
# What SNS (for publishers to an encrypted topic) and SQS (for producers to an encrypted queue)
# need from the key: SNS Developer Guide, "Enable compatibility between event sources from AWS
# services and encrypted topics"; SQS Developer Guide, "Key management" (producer permissions).
KEY_ACTIONS_TO_SEND = ("kms:GenerateDataKey", "kms:Decrypt")
# The request context keys each service documents sending, per policy that judges it ("resource":
# the topic/queue policy; "key": the KMS key policy, on the calls SNS/SQS make on its behalf).
# CloudWatch alarms: aws:SourceArn (the alarm) and aws:SourceAccount on both (AWS Knowledge
# Center articles on alarm notifications and on alarms with an encrypted topic; see
# stacks/publishers.py). EventBridge: both on the topic policy
# (EventBridge User Guide, condition keys: aws:SourceArn is the rule); the SNS Developer Guide
# states they are not supported in a KMS key policy for EventBridge to an encrypted topic, so
# nothing can scope that statement. A service missing here fails the check until it is looked up.
SENT_CONTEXT = {
    ("cloudwatch.amazonaws.com", "resource"): ("aws:SourceArn", "aws:SourceAccount"),
    ("cloudwatch.amazonaws.com", "key"): ("aws:SourceArn", "aws:SourceAccount"),
    ("events.amazonaws.com", "resource"): ("aws:SourceArn", "aws:SourceAccount"),
    ("events.amazonaws.com", "key"): (),
}


@dataclass(frozen=True)
class Sender:
    what: str
    target: Res
    action: str
    service: str | None = None  # a service principal sending as itself ...
    source_arn: str | None = None
    role: Res | None = None  # ... or a role of the app

    def context(self, policy: str, account: str = ACCOUNT, source_arn: str | None = None) -> dict[str, str]:
        values = {"aws:SourceArn": source_arn or self.source_arn, "aws:SourceAccount": account}
        return {key: values[key] for key in SENT_CONTEXT[(self.service, policy)]}

    def foreign_context(self, policy: str) -> dict[str, str]:
        """The same request from another account's resource of the same kind."""
        foreign_arn = f"arn:{PARTITION}:{self.service.split('.')[0]}:{REGION}:{FOREIGN_ACCOUNT}:someone-else"
        return self.context(policy, FOREIGN_ACCOUNT, foreign_arn)


def senders(model: AppModel) -> list[Sender]:
    return [*_alarm_senders(model), *_rule_senders(model), *_schedule_senders(model), *_role_senders(model)]


def _sendable(model: AppModel, stack: str, value: object) -> Res | None:
    target = model.target(stack, value)
    return target if model.type_of(target) in SEND_ACTION else None


def _alarm_senders(model: AppModel) -> list[Sender]:
    found = []
    for alarm, resource in model.resources("AWS::CloudWatch::Alarm"):
        properties = resource["Properties"]
        for value in [*properties.get("AlarmActions", []), *properties.get("OKActions", []), *properties.get("InsufficientDataActions", [])]:
            if target := _sendable(model, alarm.stack, value):
                found.append(Sender(f"alarm {alarm}", target, SEND_ACTION[model.type_of(target)], "cloudwatch.amazonaws.com", model.arn_of(alarm)))
    return found


def _rule_senders(model: AppModel) -> list[Sender]:
    return [
        Sender(f"rule {rule} target {rule_target['Id']}", target, SEND_ACTION[model.type_of(target)], "events.amazonaws.com", model.arn_of(rule))
        for rule, resource in model.resources("AWS::Events::Rule")
        for rule_target in resource["Properties"].get("Targets", [])
        if (target := _sendable(model, rule.stack, rule_target["Arn"]))
    ]


def _schedule_senders(model: AppModel) -> list[Sender]:
    # EventBridge Scheduler delivers to the target and to the dead-letter queue as the schedule's
    # execution role (Scheduler User Guide, "Configuring a dead-letter queue").
    found = []
    for schedule, resource in model.resources("AWS::Scheduler::Schedule"):
        target_config = resource["Properties"]["Target"]
        role = model.target(schedule.stack, target_config["RoleArn"])
        for value in (target_config["Arn"], target_config.get("DeadLetterConfig", {}).get("Arn")):
            if target := _sendable(model, schedule.stack, value):
                found.append(Sender(f"schedule {schedule}", target, SEND_ACTION[model.type_of(target)], role=role))
    return found


def _role_senders(model: AppModel) -> list[Sender]:
    found = []
    for policy, resource in model.resources("AWS::IAM::Policy"):
        for statement in as_list(resource["Properties"]["PolicyDocument"]["Statement"]):
            for value in as_list(statement.get("Resource", [])):
                target = _sendable(model, policy.stack, value)
                if target and allows_action(statement, SEND_ACTION[model.type_of(target)]):
                    for role_ref in resource["Properties"].get("Roles", []):
                        role = model.target(policy.stack, role_ref)
                        found.append(Sender(f"role {role}", target, SEND_ACTION[model.type_of(target)], role=role))
    return found


def problems(model: AppModel) -> list[str]:
    found = []
    for sender in senders(model):
        check = _service_problems if sender.service else _role_problems
        found += [f"{sender.what} -> {sender.target}: {problem}" for problem in check(model, sender)]
    return found + _unconditioned_service_statements(model)


def _service_problems(model: AppModel, sender: Sender) -> list[str]:
    if (sender.service, "resource") not in SENT_CONTEXT:
        return [f"{sender.service} sends a request context nobody looked up: add it to SENT_CONTEXT from the AWS docs"]
    target_arn = model.arn_of(sender.target)
    statements = [
        (policy.stack, s)
        for policy, s in model.resource_policy_statements(sender.target)
        if sender.service in model.principals(policy.stack, s, "Service")
        and allows_action(s, sender.action)
        and model.covers_resource(policy.stack, s, target_arn)
    ]
    found = _admission_problems(model, sender, "resource", statements)
    key = model.key_of(sender.target)
    if key is not None:
        key_statements = [
            (key.stack, s)
            for s in model.key_policy_statements(key)
            if sender.service in model.principals(key.stack, s, "Service") and all(allows_action(s, a) for a in KEY_ACTIONS_TO_SEND)
        ]
        found += [f"key {key}: {problem}" for problem in _admission_problems(model, sender, "key", key_statements)]
    return found


def _admission_problems(model: AppModel, sender: Sender, policy: str, statements: list[tuple[str, dict]]) -> list[str]:
    """`statements` grant the sender's principal the action; one must admit this sender, and none may
    admit the same request from another account where the service sends something to tell them apart."""
    admitting = [(stack, s) for stack, s in statements if model.conditions_hold(stack, s, sender.context(policy))]
    if not admitting:
        return [f"no {policy} policy statement lets {sender.service} {sender.action} from {sender.source_arn}"]
    if SENT_CONTEXT[(sender.service, policy)] and any(
        model.conditions_hold(stack, s, sender.foreign_context(policy)) for stack, s in statements
    ):
        return [f"the {policy} policy also admits {sender.service} on behalf of another account"]
    return []


def _role_problems(model: AppModel, sender: Sender) -> list[str]:
    found = [] if model.role_allows(sender.role, sender.action, model.arn_of(sender.target)) else [f"role lacks {sender.action}"]
    key = model.key_of(sender.target)
    if key is not None:
        found += [f"role lacks {action} on key {key}" for action in KEY_ACTIONS_TO_SEND if not model.role_allows(sender.role, action, model.arn_of(key))]
        found += [] if model.key_delegates_to_account(key) else [f"key {key} does not let IAM policies grant its use"]
    return found


def _unconditioned_service_statements(model: AppModel) -> list[str]:
    """Allow statements for a service on the policies of the senders' targets and their keys that
    carry no condition, where the service sends keys that could scope them."""
    found = []
    for target in {sender.target for sender in senders(model)}:
        policies = [(f"resource policy of {target}", "resource", stack_s) for stack_s in ((p.stack, s) for p, s in model.resource_policy_statements(target))]
        key = model.key_of(target)
        if key is not None:
            policies += [(f"key policy of {key}", "key", (key.stack, s)) for s in model.key_policy_statements(key)]
        for where, policy, (stack, statement) in policies:
            for service in model.principals(stack, statement, "Service"):
                scopable = SENT_CONTEXT.get((service, policy), ("unknown",))
                if statement["Effect"] == "Allow" and "Condition" not in statement and scopable:
                    found.append(f"{where}: {service} allowed without a condition ({statement.get('Sid', 'no Sid')})")
    return found


def test_every_sender_to_a_topic_or_queue_is_admitted_and_scoped(variant: SynthesizedApp) -> None:
    assert senders(variant.model), "the app has alarms, a rule and a schedule that send somewhere"
    assert problems(variant.model) == []


def test_senders_cover_alarms_rules_schedules_and_roles(variant: SynthesizedApp) -> None:
    kinds = {sender.what.split()[0] for sender in senders(variant.model)}
    assert kinds == {"alarm", "rule", "schedule", "role"}


def _add_careless_senders(app: PipelineApp) -> None:
    """What a hurried change would add: an alarm without a deployment name and a rule using CDK's
    own SnsTopic target (unconditioned grants on the topic and its key)."""
    stack = app.pipeline_stack
    topic = stack.alerts.topic
    alarm = cloudwatch.Alarm(
        stack, "CarelessAlarm", metric=stack.orchestration.state_machine.metric_started(), threshold=1, evaluation_periods=1
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    events.Rule(stack, "CarelessRule", event_pattern=events.EventPattern(source=["aws.states"]), targets=[events_targets.SnsTopic(topic)])


def test_the_check_catches_a_new_unnamed_alarm_and_an_unscoped_rule_target(tmp_path: Path) -> None:
    found = problems(synthesized(tmp_path, "broken", change=_add_careless_senders).model)
    assert any(p.startswith("alarm pbp-dev-pipeline/CarelessAlarm") and "no resource policy statement" in p for p in found), found
    assert any(p.startswith("alarm pbp-dev-pipeline/CarelessAlarm") and "key pbp-dev-data/" in p for p in found), found
    assert any("events.amazonaws.com allowed without a condition" in p and p.startswith("resource policy") for p in found), found


def test_the_check_catches_a_publisher_removed_from_the_topic_policy(variant: SynthesizedApp) -> None:
    model = AppModel({name: _without_cloudwatch_publish(template) for name, template in variant.model.templates.items()})
    found = problems(model)
    assert found and all("no resource policy statement lets cloudwatch.amazonaws.com" in p for p in found), found


def _without_cloudwatch_publish(template: dict) -> dict:
    copy = {**template, "Resources": dict(template["Resources"])}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::SNS::TopicPolicy":
            document = resource["Properties"]["PolicyDocument"]
            kept = [s for s in document["Statement"] if "cloudwatch.amazonaws.com" not in str(s.get("Principal"))]
            copy["Resources"][logical_id] = {**resource, "Properties": {**resource["Properties"], "PolicyDocument": {**document, "Statement": kept}}}
    return copy
