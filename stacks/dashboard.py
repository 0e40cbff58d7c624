"""One CloudWatch dashboard for a run's progress and health, so nobody opens five consoles."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from pipeline_contracts import metrics
from stacks.config import PipelineConfig

# The namespace the post-processing functions publish their custom metrics to (Powertools EMF).
POSTPROCESS_METRICS_NAMESPACE = metrics.NAMESPACE
# Runs are weekly by default: hourly points show each run's stages without drowning in empty ones.
PERIOD = Duration.hours(1)
# The stage words of a solution's state names (pipeline_cli/stages.py reads the same ones from the history):
# "<name>: read solution ARN" (no word: the branch's own steps), "<name> training: ...", "<name> batch job: ..."
# (the batch jobs' child executions, which log to the same group), ...
SOLUTION_STAGE_WORDS = ("training", "quality gate", "batch job", "batch", "post-process")
RUNS_PER_SOLUTION_WIDGET = 20


def solution_stages_query(solution: str) -> list[str]:
    """A Logs Insights query over the state machine's log group (level ALL): one row per run and stage of
    `solution` (a blank stage: the branch's own steps, reading its solution ARN and its end), with when it started,
    its last event and the type of that event (a `...Failed` type: the stage failed there).

    State names of the solution start with its name (lower case, then ':' or a stage word); run-level states
    start with a capital letter, so the default solution "solution" does not match "Solutions"."""
    words = "|".join(f" {word}" for word in SOLUTION_STAGE_WORDS)
    name = rf"^{solution}({words})?: "
    return [
        "fields @timestamp, type, details.name as state",
        f"| filter ispresent(details.name) and details.name like /{name}/",
        f"| parse details.name /^{solution}(?<stage>{words})?: (?<step>.*)$/",
        "| parse execution_arn /:(?<run>[^:]+)$/",
        "| stats min(@timestamp) as started, max(@timestamp) as last_event, latest(state) as last_state, "
        "latest(type) as last_event_type by run, stage",
        "| sort started desc",
        f"| limit {RUNS_PER_SOLUTION_WIDGET * (len(SOLUTION_STAGE_WORDS) + 1)}",
    ]


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
        state_machine_log_group: logs.ILogGroup | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        widgets: list[cloudwatch.IWidget] = [
            *_execution_graphs(state_machine),
            _glue_job_graph(glue_job_name),
            _postprocess_graph(config),
        ]
        if functions:
            widgets.append(_lambda_health_graph(functions))
        if alarms:
            widgets.append(
                cloudwatch.AlarmStatusWidget(title="Alarms (freshness included)", alarms=list(alarms), width=8)
            )
        rows = [widgets[i : i + 3] for i in range(0, len(widgets), 3)]
        if state_machine_log_group is not None:
            solution_tables = _solution_stage_tables(config, state_machine_log_group)
            rows += [solution_tables[i : i + 2] for i in range(0, len(solution_tables), 2)]
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=config.resource_name("pipeline"),
            default_interval=Duration.days(14),
            widgets=rows,
        )


def _graph(title: str, graph_metrics: list[cloudwatch.IMetric], width: int = 8) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=graph_metrics, width=width, height=6)


def _execution_graphs(state_machine: sfn.IStateMachine) -> list[cloudwatch.IWidget]:
    """The executions' outcomes and durations."""
    return [
        _graph(
            "Executions",
            [
                state_machine.metric_started(period=PERIOD, statistic="Sum", label="started"),
                state_machine.metric_succeeded(period=PERIOD, statistic="Sum", label="succeeded"),
                state_machine.metric_failed(period=PERIOD, statistic="Sum", label="failed"),
                state_machine.metric_timed_out(period=PERIOD, statistic="Sum", label="timed out"),
            ],
        ),
        _graph(
            "Execution duration",
            [
                state_machine.metric_time(period=PERIOD, statistic="Maximum", label="max"),
                state_machine.metric_time(period=PERIOD, statistic="Average", label="average"),
            ],
        ),
    ]


def _glue_job_graph(glue_job_name: str) -> cloudwatch.IWidget:
    def glue_metric(name: str, label: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="Glue",
            metric_name=name,
            dimensions_map={"JobName": glue_job_name, "JobRunId": "ALL", "Type": "count"},
            statistic=statistic,
            label=label,
            period=PERIOD,
        )

    return _graph(
        "Glue job",
        [
            glue_metric("glue.driver.aggregate.elapsedTime", "elapsed (ms)", "Maximum"),
            glue_metric("glue.driver.aggregate.numFailedTasks", "failed tasks", "Sum"),
        ],
    )


def _postprocess_graph(config: PipelineConfig) -> cloudwatch.IWidget:
    """The post-processing functions' custom metrics (pipeline_contracts/metrics.py: lines processed, errored)."""
    return _graph(
        "Post-processing lines",
        [
            cloudwatch.Metric(
                namespace=POSTPROCESS_METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={metrics.SERVICE_DIMENSION: config.resource_name("postprocess")},
                statistic="Sum",
                period=PERIOD,
            )
            for name in metrics.POSTPROCESS_METRICS
        ],
    )


def _lambda_health_graph(functions: Sequence[lambda_.IFunction]) -> cloudwatch.IWidget:
    return _graph(
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


def _solution_stage_tables(config: PipelineConfig, log_group: logs.ILogGroup) -> list[cloudwatch.IWidget]:
    """One table per solution: each run's stages of it, from the state machine's own log events (the solutions run
    in parallel, so execution-level metrics cannot tell them apart)."""
    return [
        cloudwatch.LogQueryWidget(
            title=f"Solution {spec.name} ({spec.output_kind.name}): stages per run",
            log_group_names=[log_group.log_group_name],
            query_lines=solution_stages_query(spec.name),
            view=cloudwatch.LogQueryVisualizationType.TABLE,
            width=12,
            height=6,
        )
        for spec in config.solutions
    ]
