"""The schedule starts runs with retries and a dead-letter queue; failures reach people readably."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template

from tests.support.cdk_app import synth, templates_of
from tests.support.templates import only


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


def test_alert_topic_is_encrypted_and_mails_when_configured(tmp_path, pipeline_template: Template) -> None:
    _, topic = only(pipeline_template, "AWS::SNS::Topic")
    assert "KeysAlertsKey" in json.dumps(topic["Properties"]["KmsMasterKeyId"])
    pipeline_template.resource_count_is("AWS::SNS::Subscription", 0)
    pipeline = synth(tmp_path, notification_email="ops@example.com")
    template = templates_of(pipeline)[pipeline.pipeline_stack.stack_name]
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})


def test_failed_runs_send_a_readable_message(pipeline_template: Template) -> None:
    state_machine_id, _ = only(pipeline_template, "AWS::StepFunctions::StateMachine")
    topic_id, _ = only(pipeline_template, "AWS::SNS::Topic")
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


def test_alarms_on_failed_runs_and_undelivered_starts(pipeline_template: Template) -> None:
    topic_id, _ = only(pipeline_template, "AWS::SNS::Topic")
    alarms = pipeline_template.find_resources("AWS::CloudWatch::Alarm")
    by_description = {alarm["Properties"]["AlarmDescription"]: alarm["Properties"] for alarm in alarms.values()}
    failed = by_description["A pipeline execution failed, timed out or was aborted"]
    metric_names = {m["MetricStat"]["Metric"]["MetricName"] for m in failed["Metrics"] if "MetricStat" in m}
    assert metric_names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    assert failed["Threshold"] == 1
    dead_letters = by_description["EventBridge Scheduler could not start the pipeline (message in the dead-letter queue)"]
    assert dead_letters["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert dead_letters["AlarmActions"] == [{"Ref": topic_id}]
