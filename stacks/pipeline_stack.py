"""The stateless stack: the Glue job, the state machine, post-processing, schedule, alerting, dashboard."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from pipeline_contracts import stack_outputs
from stacks.config import PipelineConfig
from stacks.dashboard import PipelineDashboard
from stacks.data_stack import DataStack
from stacks.etl import RatingsEtl
from stacks.monitoring import PipelineAlerts, RunNotices
from stacks.nag import acknowledge_wildcard
from stacks.orchestration import PipelineStateMachine
from stacks.orchestration.state_machine import state_machine_name
from stacks.personalize import solution_arn_parameter_names
from stacks.model_gate import ModelGate
from stacks.batch_jobs import BatchJobPlanning
from stacks.functions import powertools_layer
from stacks.postprocess import RunPostProcessing
from stacks.run_lease import RunLease
from stacks.schedule import PipelineSchedule


class PipelineStack(Stack):
    """Everything that can be deleted and redeployed at will; data lives in the `DataStack`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: PipelineConfig, data: DataStack, **kwargs
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="personalize-batch-pipeline: Glue job, state machine, post-processing, schedule and alerting",
            **kwargs,
        )
        keys, lake = data.keys, data.lake
        self.alerts = PipelineAlerts(self, "Alerts", config=config, alerts_key=keys.alerts_key)
        self.notices = RunNotices(self, "Notices", config=config, alerts_key=keys.alerts_key)
        self.etl = RatingsEtl(
            self,
            "Etl",
            config=config,
            raw_bucket=lake.raw_bucket,
            transformed_bucket=lake.transformed_bucket,
            data_key=keys.data_key,
            logs_key=keys.logs_key,
        )
        powertools = powertools_layer(self)
        self.model_gate = ModelGate(
            self,
            "ModelGate",
            config=config,
            table=data.accepted_versions.table,
            data_key=keys.data_key,
            logs_key=keys.logs_key,
            glue_job=self.etl.job,
            layers=[powertools],
        )
        self.batch_planning = BatchJobPlanning(
            self,
            "BatchJobs",
            config=config,
            transformed_bucket=lake.transformed_bucket,
            curated_bucket=lake.curated_bucket,
            data_key=keys.data_key,
            logs_key=keys.logs_key,
            layers=[powertools],
        )
        # The overlap guard's lease: taken by the state machine's first stage, given back at its success end and,
        # in post-processing, at the "Solutions failed" end.
        self.run_lease = RunLease(
            self,
            "RunLease",
            config=config,
            state_machine_name=state_machine_name(config),
            data_key=keys.data_key,
            logs_key=keys.logs_key,
            layers=[powertools],
        )
        self.post_processing = RunPostProcessing(
            self,
            "PostProcessing",
            config=config,
            curated_bucket=lake.curated_bucket,
            transformed_bucket=lake.transformed_bucket,
            data_key=keys.data_key,
            logs_key=keys.logs_key,
            notices_topic=self.notices.topic,
            model_gate=self.model_gate,
            run_lease=self.run_lease,
        )
        self.orchestration = self._orchestration(config, data)
        state_machine = self.orchestration.state_machine
        self._state_machine_access(data)
        self.schedule = PipelineSchedule(
            self, "Schedule", config=config, state_machine=state_machine, alerts_key=keys.alerts_key
        )
        self.alerts.watch(state_machine=state_machine, start_dead_letter_queue=self.schedule.dead_letter_queue)
        self.dashboard = self._dashboard(config)
        self._outputs(config, data)

    def _orchestration(self, config: PipelineConfig, data: DataStack) -> PipelineStateMachine:
        """The state machine, with the stack's post-processing, quality gate, planning functions and lease."""
        keys, lake = data.keys, data.lake
        return PipelineStateMachine(
            self,
            "Orchestration",
            config=config,
            glue_job=self.etl.job,
            transformed_bucket=lake.transformed_bucket,
            curated_bucket=lake.curated_bucket,
            data_key=keys.data_key,
            logs_key=keys.logs_key,
            personalize_role=data.personalize_access.service_role,
            dataset_arn=data.personalize.dataset_arn,
            metadata_dataset_arns=data.personalize.metadata_dataset_arns,
            accepted_versions=data.accepted_versions.table,
            batch_planning=self.batch_planning,
            run_lease=self.run_lease,
            post_process=self.post_processing.stage,
            quality_gate=self.model_gate.gate_stage,
            solution_outputs=self.post_processing.solution_stage,
            summary_fields=self.model_gate.summary_fields(),
        )

    def _state_machine_access(self, data: DataStack) -> None:
        """The notices topic's key for the run summary, and cdk-nag's acknowledgement of the LambdaInvoke grants'
        version wildcards for the functions built in this stack."""
        state_machine = self.orchestration.state_machine
        # The success summary goes to the encrypted notices topic.
        self.notices.allow_publishing(state_machine.role)
        # (The state machine acknowledges its own functions' and the planning functions' version wildcards.)
        for function in [*self.post_processing.functions, *self.model_gate.functions]:
            acknowledge_wildcard(
                state_machine.role,
                f"{function.function_arn}:*",
                "CDK's LambdaInvoke grant includes the function's versions and aliases; it is still this one function.",
            )

    def _dashboard(self, config: PipelineConfig) -> PipelineDashboard:
        return PipelineDashboard(
            self,
            "Dashboard",
            config=config,
            state_machine=self.orchestration.state_machine,
            glue_job_name=self.etl.job.job_name,
            functions=[
                *self.post_processing.functions,
                *self.model_gate.functions,
                *self.batch_planning.functions,
                *self.run_lease.functions,
            ],
            alarms=[self.alerts.freshness_alarm, self.alerts.failed_executions_alarm, self.alerts.dead_letter_alarm],
            state_machine_log_group=self.orchestration.log_group,
        )

    def _outputs(self, config: PipelineConfig, data: DataStack) -> None:
        """The stack outputs the CLI and operators read (names: pipeline_contracts/stack_outputs.py)."""
        for output_id, value, description in (
            (
                stack_outputs.STATE_MACHINE_ARN,
                self.orchestration.state_machine.state_machine_arn,
                "Start a run: python -m pipeline_cli start",
            ),
            (
                stack_outputs.ALERT_TOPIC_ARN,
                self.alerts.topic.topic_arn,
                "Failed runs, undelivered starts and the freshness alarm",
            ),
            (
                stack_outputs.NOTICES_TOPIC_ARN,
                self.notices.topic.topic_arn,
                "The summary of every successful run",
            ),
            (
                stack_outputs.CURATED_BUCKET_NAME,
                data.lake.curated_bucket.bucket_name,
                "Where each run's recommendations land",
            ),
            (stack_outputs.GLUE_JOB_NAME, self.etl.job.job_name, "The ETL job each run starts"),
            (
                stack_outputs.DASHBOARD_NAME,
                self.dashboard.dashboard.dashboard_name,
                "CloudWatch dashboard of the pipeline",
            ),
            (
                stack_outputs.SOLUTION_ARN_PARAMETER_NAMES,
                solution_arn_parameter_names(config),
                "SSM parameters each run reads the solution ARNs from, comma-separated (written by the data stack)",
            ),
        ):
            CfnOutput(self, output_id, value=value, description=description)
