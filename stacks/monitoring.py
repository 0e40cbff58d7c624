"""Who hears about runs: an encrypted alert topic told about failed runs, undeliverable starts and alarms, and a
separate encrypted notices topic for the success summary of each run.

Two topics, because they have different readers: the alerts want action (paging, a ticket), the notices are for
whoever wants to know that fresh recommendations landed. On one topic, a success summary every run teaches people
to filter the topic, alerts included."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.publishers import ScopedTopicTarget, allow_alarms_to_publish

FAILED_STATUSES = ["FAILED", "TIMED_OUT", "ABORTED"]
# What SNS needs from a publisher to a topic encrypted with a customer managed key (SNS Developer Guide, "Key
# management": kms:GenerateDataKey* and kms:Decrypt). SNS calls KMS on the publisher's behalf, with the topic's
# ARN as encryption context, which scopes the grant to one topic.
PUBLISHER_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]
SNS_TOPIC_CONTEXT = "kms:EncryptionContext:aws:sns:topicArn"


def encrypted_topic(scope: Construct, *, display_name: str, key: kms.IKey, email: str | None) -> sns.Topic:
    """`scope`'s topic (construct id "Topic"), encrypted with `key`, refusing requests without TLS, mailing `email`
    when given."""
    topic = sns.Topic(scope, "Topic", display_name=display_name, master_key=key, enforce_ssl=True)
    if email:
        topic.add_subscription(subscriptions.EmailSubscription(email))
    return topic


class PipelineAlerts(Construct):
    """Who hears about a run that did not succeed, and how.

    Attributes:
        topic: KMS-encrypted SNS topic; e-mail subscription when config gives an address.
        failed_executions_alarm: runs that did not succeed (the rule sends the readable message).
        dead_letter_alarm: starts Scheduler could not deliver; notifies the topic.
        freshness_alarm: no run succeeded for `freshness_max_age_hours`; notifies the topic.
        (all exist once `watch` was called)
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig, alerts_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        name = f"Personalize pipeline {config.environment}"
        self.topic = encrypted_topic(self, display_name=name, key=alerts_key, email=config.notification_email)
        self._config = config
        allow_alarms_to_publish(self.topic, f"{config.prefix}-{config.environment}")

    def watch(self, *, state_machine: sfn.IStateMachine, start_dead_letter_queue: sqs.IQueue) -> None:
        """Alerts on the runs of `state_machine` and on starts that ended in `start_dead_letter_queue`.
        (A method, not constructor arguments: the state machine itself publishes to the topic.)"""
        # The execution status event carries the error and cause; a person reading the e-mail
        # gets them in plain words with the execution to open.
        detail = events.EventField.from_path
        events.Rule(
            self,
            "RunDidNotSucceed",
            description="Tells the alert topic about pipeline executions that failed, timed out or were aborted",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={"stateMachineArn": [state_machine.state_machine_arn], "status": FAILED_STATUSES},
            ),
            targets=[
                ScopedTopicTarget(
                    self.topic,
                    message=events.RuleTargetInput.from_multiline_text(
                        f"Personalize pipeline run {detail('$.detail.name')} ended {detail('$.detail.status')}.\n"
                        f"Error: {detail('$.detail.error')}\n"
                        f"Cause: {detail('$.detail.cause')}\n"
                        f"Execution: {detail('$.detail.executionArn')}\n"
                        f"Started {detail('$.detail.startDate')}, stopped {detail('$.detail.stopDate')} (epoch ms)."
                    ),
                )
            ],
        )

        notify = cloudwatch_actions.SnsAction(self.topic)
        self.failed_executions_alarm = cloudwatch.Alarm(
            self,
            "FailedExecutions",
            alarm_name=self._config.resource_name("runs-not-succeeded"),
            alarm_description="A pipeline execution failed, timed out or was aborted",
            metric=cloudwatch.MathExpression(
                expression="failed + timedOut + aborted",
                using_metrics={
                    "failed": state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
                    "timedOut": state_machine.metric_timed_out(period=Duration.minutes(5), statistic="Sum"),
                    "aborted": state_machine.metric_aborted(period=Duration.minutes(5), statistic="Sum"),
                },
                label="Runs that did not succeed",
                period=Duration.minutes(5),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.dead_letter_alarm = cloudwatch.Alarm(
            self,
            "UndeliveredStarts",
            alarm_name=self._config.resource_name("undelivered-starts"),
            alarm_description="EventBridge Scheduler could not start the pipeline (message in the dead-letter queue)",
            metric=start_dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # Failed runs already reach the topic with their cause through the rule above; the alarm
        # stays silent to avoid a second, less useful e-mail, and serves dashboards and paging.
        self.dead_letter_alarm.add_alarm_action(notify)
        self.freshness_alarm = self._freshness_alarm(state_machine)
        self.freshness_alarm.add_alarm_action(notify)

    def _freshness_alarm(self, state_machine: sfn.IStateMachine) -> cloudwatch.Alarm:
        """Silence is the failure this alarm is for: a schedule that was disabled, starts that never happen, runs that
        hang or fail for weeks. One period as long as the allowed age, summing ExecutionsSucceeded: a window without
        a succeeded run has no data point at all (Step Functions publishes nothing while nothing happens), so missing
        data counts as breaching. A skipped run (overlap guard) also counts as succeeded: it means a run was in
        progress, and that run's own failure is alerted on its own."""
        hours = self._config.freshness_max_age_hours
        return cloudwatch.Alarm(
            self,
            "NoRecentSuccess",
            alarm_name=self._config.resource_name("no-recent-success"),
            alarm_description=f"No pipeline run succeeded in the last {hours} hours: recommendations are getting stale",
            metric=state_machine.metric_succeeded(period=Duration.hours(hours), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )


class RunNotices(Construct):
    """Where each successful run's summary goes (the state machine's "Post-process: announce success").

    Attributes:
        topic: SNS topic encrypted with the alerts key, TLS only; e-mail subscription when `notices_email` is set.
    The state machine is its only publisher, through its role (`allow_publishing`); no service publishes to it,
    so its topic policy holds only the TLS rule."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig, alerts_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self._key = alerts_key
        name = f"Personalize pipeline {config.environment} notices"
        self.topic = encrypted_topic(self, display_name=name, key=alerts_key, email=config.notices_email)

    def allow_publishing(self, role: iam.IRole) -> None:
        """The key use SNS needs from `role` to publish to this topic, and nothing else: through SNS, for this topic
        (the key also encrypts the alert topic and the schedule's dead-letter queue). `sns:Publish` itself comes
        with the state machine's SnsPublish task."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PublishToTheEncryptedNoticesTopic",
                actions=PUBLISHER_KEY_ACTIONS,
                resources=[self._key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"sns.{Stack.of(self).region}.{Stack.of(self).url_suffix}",
                        SNS_TOPIC_CONTEXT: self.topic.topic_arn,
                    }
                },
            )
        )
