"""One CloudWatch dashboard for a run's progress and health, so nobody opens five consoles."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from pipeline_contracts import metrics
from stacks.config import PipelineConfig

# The namespace the post-processing functions publish their custom metrics to (Powertools EMF).
POSTPROCESS_METRICS_NAMESPACE = metrics.NAMESPACE
# Runs are weekly by default: hourly points show each run's stages without drowning in empty ones.
PERIOD = Duration.hours(1)


class PipelineDashboard(Construct):
    """Executions, durations, the Glue job, post-processing and Lambda health on one page.

    Attributes:
        dashboard: the CloudWatch dashboard.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        state_machine: sfn.IStateMachine,
        glue_job_name: str,
        functions: Sequence[lambda_.IFunction] = (),
        alarms: Sequence[cloudwatch.IAlarm] = (),
    ) -> None:
        super().__init__(scope, construct_id)

        def glue_metric(name: str, label: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="Glue",
                metric_name=name,
                dimensions_map={"JobName": glue_job_name, "JobRunId": "ALL", "Type": "count"},
                statistic=statistic,
                label=label,
                period=PERIOD,
            )

        def custom_metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=POSTPROCESS_METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={metrics.SERVICE_DIMENSION: config.resource_name("postprocess")},
                statistic="Sum",
                period=PERIOD,
            )

        def graph(title: str, metrics: list[cloudwatch.IMetric], width: int = 8) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=metrics, width=width, height=6)

        widgets: list[cloudwatch.IWidget] = [
            graph(
                "Executions",
                [
                    state_machine.metric_started(period=PERIOD, statistic="Sum", label="started"),
                    state_machine.metric_succeeded(period=PERIOD, statistic="Sum", label="succeeded"),
                    state_machine.metric_failed(period=PERIOD, statistic="Sum", label="failed"),
                    state_machine.metric_timed_out(period=PERIOD, statistic="Sum", label="timed out"),
                ],
            ),
            graph(
                "Execution duration",
                [
                    state_machine.metric_time(period=PERIOD, statistic="Maximum", label="max"),
                    state_machine.metric_time(period=PERIOD, statistic="Average", label="average"),
                ],
            ),
            graph(
                "Glue job",
                [
                    glue_metric("glue.driver.aggregate.elapsedTime", "elapsed (ms)", "Maximum"),
                    glue_metric("glue.driver.aggregate.numFailedTasks", "failed tasks", "Sum"),
                ],
            ),
            graph("Post-processing lines", [custom_metric(name) for name in metrics.POSTPROCESS_METRICS]),
        ]
        if functions:
            widgets.append(
                graph(
                    "Lambda errors and throttles",
                    [
                        metric
                        for function in functions
                        for metric in (
                            function.metric_errors(period=PERIOD, statistic="Sum"),
                            function.metric_throttles(period=PERIOD, statistic="Sum"),
                        )
                    ],
                )
            )
        if alarms:
            widgets.append(
                cloudwatch.AlarmStatusWidget(title="Alarms (freshness included)", alarms=list(alarms), width=8)
            )
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=config.resource_name("pipeline"),
            default_interval=Duration.days(14),
            widgets=[widgets[i : i + 3] for i in range(0, len(widgets), 3)],
        )
