"""When runs start: an EventBridge Scheduler schedule with retries and an encrypted dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.nag import acknowledge

# A start that cannot be delivered within an hour is stale: the next scheduled run is the better one.
START_RETRY_ATTEMPTS = 5
START_MAX_EVENT_AGE = Duration.hours(1)
DEAD_LETTER_RETENTION = Duration.days(14)


class PipelineSchedule(Construct):
    """Starts the state machine on the configured cron and time zone (disabled if config says so).

    Attributes:
        schedule: the Scheduler schedule.
        role: the role Scheduler starts executions with.
        dead_letter_queue: starts Scheduler gave up on; alarmed on by the monitoring construct.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        state_machine: sfn.IStateMachine,
        alerts_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "StartDeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=alerts_key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the schedule's target; a DLQ of a DLQ would hold nothing.",
        )
        # Our own role (the target grants it StartExecution and SendMessage) so that it can also
        # be granted the key of the encrypted dead-letter queue.
        self.role = iam.Role(
            self,
            "StartRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
            description="Lets EventBridge Scheduler start the Personalize batch pipeline",
        )
        # Sending to an SSE-KMS queue needs exactly these two (SQS's documented producer permissions).
        alerts_key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        target = targets.StepFunctionsStartExecution(
            state_machine,
            role=self.role,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=START_RETRY_ATTEMPTS,
            max_event_age=START_MAX_EVENT_AGE,
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule_name=config.resource_name("pipeline"),
            description="Starts the Personalize batch pipeline",
            schedule=scheduler.ScheduleExpression.expression(
                config.schedule_expression, TimeZone.of(config.schedule_timezone)
            ),
            target=target,
            enabled=config.schedule_enabled,
        )
