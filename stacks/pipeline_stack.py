"""The stateless stack: the Glue job, the state machine, its schedule and its alerting."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.data_stack import DataStack
from stacks.etl import RatingsEtl
from stacks.monitoring import PipelineAlerts
from stacks.orchestration import PipelineStateMachine
from stacks.schedule import PipelineSchedule

# Output names the operator CLI (pipeline_cli) looks up; keep them in step with it.
STATE_MACHINE_ARN_OUTPUT = "StateMachineArn"
ALERT_TOPIC_ARN_OUTPUT = "AlertTopicArn"
CURATED_BUCKET_OUTPUT = "CuratedBucketName"


class PipelineStack(Stack):
    """Everything that can be deleted and redeployed at will; data lives in the `DataStack`."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig, data: DataStack, **kwargs) -> None:
        super().__init__(
            scope,
            construct_id,
            description="personalize-batch-pipeline: Glue job, state machine, schedule and alerting",
            **kwargs,
        )
        keys, lake = data.keys, data.lake
        self.etl = RatingsEtl(
            self,
            "Etl",
            config=config,
            raw_bucket=lake.raw_bucket,
            transformed_bucket=lake.transformed_bucket,
            data_key=keys.data_key,
            logs_key=keys.logs_key,
        )
        self.orchestration = PipelineStateMachine(
            self,
            "Orchestration",
            config=config,
            glue_job=self.etl.job,
            transformed_bucket=lake.transformed_bucket,
            curated_bucket=lake.curated_bucket,
            data_key=keys.data_key,
            logs_key=keys.logs_key,
            personalize_role=data.personalize_access.service_role,
            dataset_group_arn=data.personalize.dataset_group_arn,
            dataset_arn=data.personalize.dataset_arn,
            solution_arn=data.personalize.solution_arn,
            solution_name=data.personalize.solution_name,
        )
        state_machine = self.orchestration.state_machine
        self.schedule = PipelineSchedule(
            self, "Schedule", config=config, state_machine=state_machine, alerts_key=keys.alerts_key
        )
        self.alerts = PipelineAlerts(
            self,
            "Alerts",
            config=config,
            state_machine=state_machine,
            start_dead_letter_queue=self.schedule.dead_letter_queue,
            alerts_key=keys.alerts_key,
        )

        for output_id, value, description in (
            (STATE_MACHINE_ARN_OUTPUT, state_machine.state_machine_arn, "Start a run: python -m pipeline_cli start"),
            (ALERT_TOPIC_ARN_OUTPUT, self.alerts.topic.topic_arn, "Failure and dead-letter notifications"),
            (CURATED_BUCKET_OUTPUT, lake.curated_bucket.bucket_name, "Where each run's recommendations land"),
            ("GlueJobName", self.etl.job.job_name, "The ETL job each run starts"),
        ):
            CfnOutput(self, output_id, value=value, description=description)
