"""The schedule starts runs with retries and a dead-letter queue; failures reach people readably."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template

from stacks.app_factory import PipelineApp
from tests.support.cdk_app import synth, templates_of
from tests.support.templates import as_list, logical_id_of, only


def test_schedule_starts_the_state_machine_with_retries_and_dlq(pipeline_template: Template) -> None:
    state_machine_id, _ = only(pipeline_template, "AWS::StepFunctions::StateMachine")
    queue_id, _ = only(pipeline_template, "AWS::SQS::Queue")
    _, schedule = only(pipeline_template, "AWS::Scheduler::Schedule")
    properties = schedule["Properties"]
    assert properties["ScheduleExpression"] == "cron(0 3 ? * SUN *)"
    assert properties["ScheduleExpressionTimezone"] == "UTC"
    assert properties["State"] == "ENABLED"
    target = properties["Target"]
    assert target["Arn"] == {"Ref": state_machine_id}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 5}


def test_dead_letter_queue_is_encrypted_with_the_alerts_key(pipeline_template: Template) -> None:
    _, queue = only(pipeline_template, "AWS::SQS::Queue")
    key = json.dumps(queue["Properties"]["KmsMasterKeyId"])
    assert "KeysAlertsKey" in key
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_scheduler_role_is_pinned_to_this_account_and_may_start_only_this_machine(pipeline_template: Template) -> None:
    state_machine_id, _ = only(pipeline_template, "AWS::StepFunctions::StateMachine")
    pipeline_template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Principal": {"Service": "scheduler.amazonaws.com"},
                        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                    }
                ]
            }
        },
    )
    pipeline_template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyName": Match.string_like_regexp("ScheduleStartRole"),
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "states:StartExecution", "Resource": {"Ref": state_machine_id}})]
                )
            },
        },
    )


def test_schedule_can_be_disabled_and_moved(tmp_path) -> None:
    pipeline = synth(
        tmp_path, schedule_enabled=False, schedule_expression="cron(30 1 * * ? *)", schedule_timezone="Europe/Berlin"
    )
    template = templates_of(pipeline)[pipeline.pipeline_stack.stack_name]
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {"State": "DISABLED", "ScheduleExpression": "cron(30 1 * * ? *)", "ScheduleExpressionTimezone": "Europe/Berlin"},
    )
    template.resource_count_is("AWS::SNS::Subscription", 0)


def _topic_ids(app: PipelineApp) -> tuple[str, str]:
    """The logical ids of the alert topic and the notices topic."""
    return logical_id_of(app.pipeline_stack.alerts.topic), logical_id_of(app.pipeline_stack.notices.topic)


def test_alert_and_notices_topics_are_encrypted_tls_only_and_each_mails_its_own_address(
    tmp_path, default_app: PipelineApp, pipeline_template: Template
) -> None:
    alert_id, notices_id = _topic_ids(default_app)
    topics = pipeline_template.find_resources("AWS::SNS::Topic")
    assert set(topics) == {alert_id, notices_id}
    policies = pipeline_template.find_resources("AWS::SNS::TopicPolicy").values()
    for topic_id, topic in topics.items():
        assert "KeysAlertsKey" in json.dumps(topic["Properties"]["KmsMasterKeyId"])
        (policy,) = [p["Properties"] for p in policies if {"Ref": topic_id} in p["Properties"]["Topics"]]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["PolicyDocument"]["Statement"]
        ), topic_id
    pipeline_template.resource_count_is("AWS::SNS::Subscription", 0)
    pipeline = synth(tmp_path, notification_email="ops@example.com", notices_email="team@example.com")
    template = templates_of(pipeline)[pipeline.pipeline_stack.stack_name]
    subscriptions = [s["Properties"] for s in template.find_resources("AWS::SNS::Subscription").values()]
    assert sorted((s["Protocol"], s["Endpoint"], s["TopicArn"]["Ref"]) for s in subscriptions) == [
        ("email", "ops@example.com", alert_id),
        ("email", "team@example.com", notices_id),
    ]


def test_the_state_machine_publishes_only_to_the_notices_topic_with_a_key_grant_scoped_to_it(
    default_app: PipelineApp, pipeline_template: Template
) -> None:
    alert_id, notices_id = _topic_ids(default_app)
    role_id = logical_id_of(default_app.pipeline_stack.orchestration.state_machine.role)
    statements = [
        statement
        for policy in pipeline_template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    publish = [s for s in statements if "sns:Publish" in as_list(s["Action"])]
    assert [s["Resource"] for s in publish] == [{"Ref": notices_id}]
    # The alerts key (which also encrypts the alert topic and the dead-letter queue): one statement, for SNS only.
    (key_use,) = [s for s in statements if "AlertsKey" in json.dumps(s["Resource"])]
    assert sorted(as_list(key_use["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    conditions = key_use["Condition"]["StringEquals"]
    assert conditions["kms:EncryptionContext:aws:sns:topicArn"] == {"Ref": notices_id}
    assert "sns." in json.dumps(conditions["kms:ViaService"])
    assert alert_id not in json.dumps(statements)


def test_failed_runs_send_a_readable_message(default_app: PipelineApp, pipeline_template: Template) -> None:
    state_machine_id, _ = only(pipeline_template, "AWS::StepFunctions::StateMachine")
    topic_id, _ = _topic_ids(default_app)
    rules = [
        rule
        for rule in pipeline_template.find_resources("AWS::Events::Rule").values()
        if rule["Properties"].get("EventPattern", {}).get("source") == ["aws.states"]
    ]
    assert len(rules) == 1
    properties = rules[0]["Properties"]
    assert properties["EventPattern"]["detail"] == {
        "stateMachineArn": [{"Ref": state_machine_id}],
        "status": ["FAILED", "TIMED_OUT", "ABORTED"],
    }
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Ref": topic_id}
    transformer = target["InputTransformer"]
    assert set(transformer["InputPathsMap"].values()) >= {"$.detail.error", "$.detail.cause", "$.detail.name"}
    assert "Cause: <" in transformer["InputTemplate"]


def test_alarms_on_failed_runs_and_undelivered_starts(default_app: PipelineApp, pipeline_template: Template) -> None:
    topic_id, _ = _topic_ids(default_app)
    alarms = pipeline_template.find_resources("AWS::CloudWatch::Alarm")
    by_description = {alarm["Properties"]["AlarmDescription"]: alarm["Properties"] for alarm in alarms.values()}
    failed = by_description["A pipeline execution failed, timed out or was aborted"]
    metric_names = {m["MetricStat"]["Metric"]["MetricName"] for m in failed["Metrics"] if "MetricStat" in m}
    assert metric_names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    assert failed["Threshold"] == 1
    dead_letters = by_description["EventBridge Scheduler could not start the pipeline (message in the dead-letter queue)"]
    assert dead_letters["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert dead_letters["AlarmActions"] == [{"Ref": topic_id}]
