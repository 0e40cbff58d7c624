"""The pipeline's Step Functions state machine: Glue transform, then Personalize import, training and batch inference.

One run (Standard workflow, JSONPath):

    overlap guard -> prepare run (names) -> Glue job (.sync) -> import -> training -> batch inference
    -> [post_process hook] -> summary -> Succeed

Personalize has no `.sync` integration and no job-state events, so each Personalize stage is built by one
helper (`_personalize_stage`) into the same visible shape:

    <Stage>: start  (reset counters)
    <Stage>: create job  --busy--> <Stage>: busy?  --bound--> Fail "<Stage>Blocked"
         |                           '-> <Stage>: count busy retry -> <Stage>: wait while busy -> create job
         v
    <Stage>: wait -> <Stage>: describe job -> <Stage>: job status?  -- ACTIVE --> next stage
                                                  |-- CREATE FAILED / CREATE STOPPED --> Fail "<Stage>Failed"
                                                  |-- polled for job_max_wait_hours --> Fail "<Stage>TimedOut"
                                                  '-> <Stage>: count poll -> <Stage>: wait

Counters live in the state data (`$.counters.busy`, `$.counters.polls`, incremented with `States.MathAdd`), so
every bound is visible in the graph and in the execution history.

Polling: a fixed interval (`status_poll_seconds`, default 45 s). The detection lag of a fixed interval is
uniform in [0, interval], so 45 s keeps the mean near 22 s and the worst case under 60 s, while one poll costs
4 state transitions and 11 history events: a 3-hour training run stays near 1,200 transitions, and even a run
that polls for the whole execution timeout (24 h) stays under the 25,000-event history limit, which the
construct checks at synth time for any configuration (`_check_history_budget`).

Names (see `lambda_src/run_names`): a tiny Lambda function computes them once, in the "Prepare run" state, from the
execution's name, ARN and start time. Intrinsic functions cannot do it: ASL has no substring, character
replacement or length function, so they can hash the execution (a name made only of hex) but cannot include a
sanitised, shortened execution name. The function is pure, so a redrive (which keeps the earlier output
anyway) or any re-evaluation yields the same names.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.config import ConfigError, PipelineConfig
from stacks.functions import PipelineFunction
from stacks.nag import acknowledge_wildcard

JsonPath = sfn.JsonPath

# Step Functions Standard workflows fail an execution whose history passes this many events.
HISTORY_EVENT_LIMIT = 25_000
# History events of one poll: Wait (entered, exited) + Describe task (entered, scheduled, started,
# succeeded, exited) + Choice (entered, exited) + counting Pass (entered, exited). A busy retry costs the same.
EVENTS_PER_LOOP = 11
# Events outside the loops (guard, naming, Glue, the three stages' straight paths, summary), rounded up.
EVENTS_OUTSIDE_LOOPS = 150
# The busy-error names the Create calls treat as "try again later".
BUSY_ERRORS = ("Personalize.ResourceInUseException", "Personalize.LimitExceededException")
# Status values (README: ACTIVE is done, CREATE FAILED / CREATE STOPPED failed, anything else still running).
FAILED_STATUSES = ("CREATE FAILED", "CREATE STOPPED")


def _sdk_action(api: str) -> str:
    """CreateDatasetImportJob -> createDatasetImportJob (the aws-sdk integration's action name)."""
    return api[0].lower() + api[1:]


def _duration_text(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _check_history_budget(config: PipelineConfig) -> None:
    """Fails synth when a run that loops until its execution timeout could pass the history-event limit.

    Without this, such a run would die with Step Functions' own history-limit error instead of the
    pipeline's bounded, named failures.
    """
    shortest_loop = min(config.status_poll_seconds, config.busy_retry_seconds)
    loops = math.ceil(config.execution_timeout_hours * 3600 / shortest_loop)
    worst = EVENTS_OUTSIDE_LOOPS + EVENTS_PER_LOOP * loops
    if worst > HISTORY_EVENT_LIMIT:
        needed = math.ceil(EVENTS_PER_LOOP * config.execution_timeout_hours * 3600 / (HISTORY_EVENT_LIMIT - EVENTS_OUTSIDE_LOOPS))
        key = "status_poll_seconds" if config.status_poll_seconds <= config.busy_retry_seconds else "busy_retry_seconds"
        raise ConfigError(
            f"cdk.json context key '{key}' has value {shortest_loop!r}; allowed: at least {needed} with "
            f"execution_timeout_hours={config.execution_timeout_hours} (a run polling that long would write about "
            f"{worst} history events, over the Step Functions limit of {HISTORY_EVENT_LIMIT})"
        )


@dataclass(frozen=True)
class _PersonalizeJob:
    """What differs between the three Personalize stages; `_personalize_stage` builds the rest.

    The API names follow from `resource` (e.g. DatasetImportJob: createDatasetImportJob,
    describeDatasetImportJob, DatasetImportJobArn in both, the DatasetImportJob object in the Describe result).
    """

    resource: str  # e.g. DatasetImportJob
    key: str  # state-data key ($.<key>)
    label: str  # state-name prefix, e.g. "Import"
    create_parameters: Mapping[str, Any]
    create_resources: Sequence[str]
    describe_resources: Sequence[str]
    create_statements: Sequence[iam.PolicyStatement] = field(default_factory=tuple)

    @property
    def create_api(self) -> str:
        return f"Create{self.resource}"

    @property
    def describe_api(self) -> str:
        return f"Describe{self.resource}"

    @property
    def arn_field(self) -> str:
        return f"{self.resource}Arn"

    @property
    def noun(self) -> str:
        """For messages: DatasetImportJob -> Dataset import job."""
        return re.sub(r"(?<!^)([A-Z])", lambda m: " " + m.group(1).lower(), self.resource)

    @property
    def error_prefix(self) -> str:
        return self.label.title().replace(" ", "")


def _personalize_stage(
    scope: Construct, config: PipelineConfig, job: _PersonalizeJob, then: sfn.IChainable
) -> sfn.IChainable:
    """One Personalize stage: a bounded busy-retry loop around Create, then a bounded polling loop until the
    job is ACTIVE (-> `then`), failed, or polled for job_max_wait_hours. Returns the stage's first state."""
    label, arn_path = job.label, f"$.{job.key}.Arn"
    described = f"$.{job.key}.describe.{job.resource}"
    status_path, reason_path = f"{described}.Status", f"{described}.FailureReason"
    busy_count, poll_count = JsonPath.number_at("$.counters.busy"), JsonPath.number_at("$.counters.polls")

    def counters(busy: Any, polls: Any, name: str) -> sfn.Pass:
        return sfn.Pass(scope, name, parameters={"busy": busy, "polls": polls}, result_path="$.counters")

    def fail(name: str, error: str, message: str, *paths: str) -> sfn.Fail:
        """A Fail state whose cause is `message` with each {} replaced by the value at the next path."""
        return sfn.Fail(
            scope,
            f"{label}: {name}",
            error=f"{job.error_prefix}{error}",
            cause_path=JsonPath.format(message, *(JsonPath.string_at(path) for path in paths)),
        )

    start = sfn.Pass(
        scope, f"{label}: start", result=sfn.Result.from_object({"busy": 0, "polls": 0}), result_path="$.counters"
    )

    # Create, retried while Personalize reports busy; at most busy_retry_max_attempts calls.
    create = tasks.CallAwsService(
        scope,
        f"{label}: create job",
        service="personalize",
        action=_sdk_action(job.create_api),
        iam_action=f"personalize:{job.create_api}",
        parameters=dict(job.create_parameters),
        iam_resources=list(job.create_resources),
        additional_iam_statements=list(job.create_statements),
        result_selector={"Arn": JsonPath.string_at(f"$.{job.arn_field}")},
        result_path=f"$.{job.key}",
    )
    attempts, pause = config.busy_retry_max_attempts, config.busy_retry_seconds
    blocked = fail(
        "still busy",
        "Blocked",
        f"{job.create_api} was refused as busy {attempts} times in a row over "
        f"{_duration_text((attempts - 1) * pause)} of retries, so the run gave up. Last error: {{}}",
        "$.counters.lastError.Cause",
    )
    retry_busy = (
        counters(JsonPath.math_add(busy_count, 1), poll_count, f"{label}: count busy retry")
        .next(sfn.Wait(scope, f"{label}: wait while busy", time=sfn.WaitTime.duration(Duration.seconds(pause))))
        .next(create)
    )
    create.add_catch(
        sfn.Choice(scope, f"{label}: busy?")
        .when(sfn.Condition.number_greater_than_equals("$.counters.busy", attempts - 1), blocked)
        .otherwise(retry_busy),
        errors=list(BUSY_ERRORS),
        result_path="$.counters.lastError",
    )

    # Poll until the job leaves its running states; at most ceil(job_max_wait / poll) describes.
    wait = sfn.Wait(
        scope, f"{label}: wait", time=sfn.WaitTime.duration(Duration.seconds(config.status_poll_seconds))
    )
    describe = tasks.CallAwsService(
        scope,
        f"{label}: describe job",
        service="personalize",
        action=_sdk_action(job.describe_api),
        iam_action=f"personalize:{job.describe_api}",
        parameters={job.arn_field: JsonPath.string_at(arn_path)},
        iam_resources=list(job.describe_resources),
        result_path=f"$.{job.key}.describe",
    )
    # A read, safe to repeat: transient service errors should not end a run that has waited for hours.
    describe.add_retry(errors=["States.TaskFailed"], interval=Duration.seconds(5), max_attempts=3, backoff_rate=2)
    polls = math.ceil(config.job_max_wait_hours * 3600 / config.status_poll_seconds)
    is_failed = sfn.Condition.or_(*(sfn.Condition.string_equals(status_path, s) for s in FAILED_STATUSES))
    failed_with_reason = fail(
        "job failed", "Failed", f"{job.noun} {{}} ended {{}}: {{}}", arn_path, status_path, reason_path
    )
    failed_without_reason = fail(
        "job ended", "Failed", f"{job.noun} {{}} ended {{}} without a failure reason", arn_path, status_path
    )
    timed_out = fail(
        "timed out",
        "TimedOut",
        f"{job.noun} {{}} was still {{}} after {polls} polls over "
        f"{_duration_text(polls * config.status_poll_seconds)} (job_max_wait_hours is {config.job_max_wait_hours})",
        arn_path,
        status_path,
    )
    status = (
        sfn.Choice(scope, f"{label}: job status?")
        .when(sfn.Condition.string_equals(status_path, "ACTIVE"), then)
        .when(sfn.Condition.and_(is_failed, sfn.Condition.is_present(reason_path)), failed_with_reason)
        .when(is_failed, failed_without_reason)
        .when(sfn.Condition.number_greater_than_equals("$.counters.polls", polls - 1), timed_out)
        .otherwise(counters(busy_count, JsonPath.math_add(poll_count, 1), f"{label}: count poll").next(wait))
    )
    create.next(wait)
    wait.next(describe).next(status)
    return start.next(create)


class PipelineStateMachine(Construct):
    """The scheduled run: guard, naming, Glue transform, Personalize import, training, batch inference.

    Attributes: `state_machine`, `log_group` (the state machine's, KMS-encrypted), `run_names_function`,
    `job_name_prefixes` (Personalize job-name prefixes, also used to scope IAM).

    `post_process(scope)`, if given, returns the states to run after the batch job is ACTIVE and before the
    summary; they receive the full state data and must keep `$.run`, `$.glue`, `$.import`, `$.train` and
    `$.batch` (write results with a ResultPath of their own).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        glue_job: glue.IJob,
        transformed_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        personalize_role: iam.IRole,
        dataset_group_arn: str,
        dataset_arn: str,
        solution_arn: str,
        solution_name: str,
        post_process: Callable[[Construct], sfn.IChainable] | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
    ) -> None:
        super().__init__(scope, construct_id)
        _check_history_budget(config)
        stack = Stack.of(self)
        # None of the six Personalize actions takes the dataset group as its resource (the dataset, the jobs and
        # the solution are scoped instead); it is kept for hooks and consumers.
        self.dataset_group_arn = dataset_group_arn
        # The physical name is fixed so the role can be scoped to this state machine's ARN without a
        # dependency cycle (the role would otherwise need the ARN of the machine that needs the role).
        state_machine_name = config.resource_name("batch-pipeline")
        own_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.job_name_prefixes = {
            "importJobName": config.resource_name("import"),
            "solutionVersionName": config.resource_name("train"),
            "batchInferenceJobName": config.resource_name("batch"),
        }

        def personalize_arn(resource: str, name: str) -> str:
            return stack.format_arn(
                service="personalize", resource=resource, resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
            )

        import_jobs = personalize_arn("dataset-import-job", self.job_name_prefixes["importJobName"] + "-*")
        batch_jobs = personalize_arn("batch-inference-job", self.job_name_prefixes["batchInferenceJobName"] + "-*")
        # Built from the name, not the (cross-stack) ARN token, so the IAM pattern reads plainly in the
        # template and in the cdk-nag acknowledgment.
        solution_versions = personalize_arn("solution", f"{solution_name}/*")
        pass_role = iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[personalize_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
        )

        # 6. Summary (after the optional post-processing hook).
        summary = sfn.Pass(
            self,
            "Summarize run",
            parameters={
                "status": "SUCCEEDED",
                "runId": JsonPath.string_at("$.run.id"),
                "glueJobRunId": JsonPath.string_at("$.glue.JobRunId"),
                "datasetImportJobArn": JsonPath.string_at("$.import.Arn"),
                "solutionVersionArn": JsonPath.string_at("$.train.Arn"),
                "batchInferenceJobArn": JsonPath.string_at("$.batch.Arn"),
                "outputPrefix": JsonPath.string_at("$.run.batchOutputUri"),
            },
        ).next(sfn.Succeed(self, "Run succeeded"))
        after_batch: sfn.IChainable = summary
        if post_process is not None:
            after_batch = sfn.Chain.start(post_process(self)).next(summary)

        # 3, 4, 5. The Personalize stages: import, training, batch inference.
        batch_config: dict[str, str] = {}
        if config.exploration_weight is not None:
            batch_config["explorationWeight"] = format(config.exploration_weight, "g")
        if config.exploration_item_age_cut_off_days is not None:
            batch_config["explorationItemAgeCutOff"] = str(config.exploration_item_age_cut_off_days)
        batch_parameters: dict[str, Any] = {
            "JobName": JsonPath.string_at("$.run.batchInferenceJobName"),
            "SolutionVersionArn": JsonPath.string_at("$.train.Arn"),
            "NumResults": config.num_results,
            "JobInput": {
                "S3DataSource": {"Path": JsonPath.string_at("$.run.batchInputUri"), "KmsKeyArn": data_key.key_arn}
            },
            "JobOutput": {
                "S3DataDestination": {"Path": JsonPath.string_at("$.run.batchOutputUri"), "KmsKeyArn": data_key.key_arn}
            },
            "RoleArn": personalize_role.role_arn,
        }
        if config.filter_arn:
            batch_parameters["FilterArn"] = config.filter_arn
        if batch_config:
            batch_parameters["BatchInferenceJobConfig"] = {"ItemExplorationConfig": batch_config}
        jobs = [
            _PersonalizeJob(
                resource="DatasetImportJob",
                key="import",
                label="Import",
                create_parameters={
                    "JobName": JsonPath.string_at("$.run.importJobName"),
                    "DatasetArn": dataset_arn,
                    "DataSource": {"DataLocation": JsonPath.string_at("$.run.interactionsUri")},
                    "RoleArn": personalize_role.role_arn,
                    "ImportMode": config.import_mode,
                },
                create_resources=[dataset_arn, import_jobs],
                describe_resources=[import_jobs],
                create_statements=[pass_role],
            ),
            _PersonalizeJob(
                resource="SolutionVersion",
                key="train",
                label="Training",
                create_parameters={
                    "Name": JsonPath.string_at("$.run.solutionVersionName"),
                    "SolutionArn": solution_arn,
                    "TrainingMode": config.training_mode,
                },
                create_resources=[solution_arn],
                describe_resources=[solution_versions],
            ),
            _PersonalizeJob(
                resource="BatchInferenceJob",
                key="batch",
                label="Batch inference",
                create_parameters=batch_parameters,
                create_resources=[batch_jobs, solution_arn, solution_versions],
                describe_resources=[batch_jobs],
                create_statements=[pass_role],
            ),
        ]
        first_stage = after_batch
        for job in reversed(jobs):  # built back to front, so each stage knows where ACTIVE leads
            first_stage = _personalize_stage(self, config, job, then=first_stage)

        # 2. Glue transform (.sync); the job writes <transformed>/runs/<run id>/...
        transform = tasks.GlueStartJobRun(
            self,
            "Transform (Glue)",
            glue_job_name=glue_job.job_name,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            arguments=sfn.TaskInput.from_object({"--run_id": JsonPath.string_at("$.run.id")}),
            result_path="$.glue",
        )
        transform.add_catch(
            sfn.Fail(
                self,
                "Transform failed",
                error="TransformFailed",
                cause_path=JsonPath.format(
                    "Glue job run failed for run {}: {}",
                    JsonPath.string_at("$.run.id"),
                    JsonPath.string_at("$.glueError.Cause"),
                ),
            ),
            errors=["States.ALL"],
            result_path="$.glueError",
        )
        transform_done = sfn.Pass(
            self,
            "Transform done",
            parameters={"JobRunId": JsonPath.string_at("$.glue.Id"), "JobRunState": JsonPath.string_at("$.glue.JobRunState")},
            result_path="$.glue",
        ).next(first_stage)
        transform_checked = (
            sfn.Choice(self, "Transform succeeded?")
            .when(sfn.Condition.string_equals("$.glue.JobRunState", "SUCCEEDED"), transform_done)
            .otherwise(
                sfn.Fail(
                    self,
                    "Transform did not succeed",
                    error="TransformFailed",
                    cause_path=JsonPath.format(
                        "Glue job run {} ended {}: {}",
                        JsonPath.string_at("$.glue.Id"),
                        JsonPath.string_at("$.glue.JobRunState"),
                        JsonPath.json_to_string(JsonPath.object_at("$.glue")),
                    ),
                )
            )
        )

        # Log groups go with the stack (this construct lives in the redeployable pipeline stack; a retained log
        # group with a fixed name would block the next deploy). The /aws/vendedlogs/ prefix lets log delivery use
        # one wildcard entry in the size-limited CloudWatch Logs resource policy instead of one per log group.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{state_machine_name}",
            encryption_key=logs_key,
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )

        # 1b. Names for this run, computed once (lambda_src/run_names).
        self.run_names_function = PipelineFunction(
            self,
            "RunNames",
            handler="run_names.handler.handle",
            description="Derives the run id and Personalize job names from the execution (pure function)",
            logs_key=logs_key,
        ).function
        run_uri = "s3://{bucket}/runs/{{}}/{folder}/"
        prepare = tasks.LambdaInvoke(
            self,
            "Prepare run",
            lambda_function=self.run_names_function,
            payload=sfn.TaskInput.from_object(
                {
                    "executionName": JsonPath.execution_name,
                    "executionArn": JsonPath.execution_id,
                    "startTime": JsonPath.execution_start_time,
                    "namePrefixes": self.job_name_prefixes,
                }
            ),
            result_selector={
                "id": JsonPath.string_at("$.Payload.runId"),
                **{key: JsonPath.string_at(f"$.Payload.{key}") for key in self.job_name_prefixes},
                "interactionsUri": JsonPath.format(
                    run_uri.format(bucket=transformed_bucket.bucket_name, folder="interactions"),
                    JsonPath.string_at("$.Payload.runId"),
                ),
                "batchInputUri": JsonPath.format(
                    run_uri.format(bucket=transformed_bucket.bucket_name, folder="batch-input"),
                    JsonPath.string_at("$.Payload.runId"),
                ),
                "batchOutputUri": JsonPath.format(
                    run_uri.format(bucket=curated_bucket.bucket_name, folder="batch-output"),
                    JsonPath.string_at("$.Payload.runId"),
                ),
            },
            result_path="$.run",
        )
        prepare.next(transform).next(transform_checked)

        # 1a. Overlap guard: the oldest RUNNING execution proceeds, every newer one ends as skipped.
        list_running = tasks.CallAwsService(
            self,
            "List running executions",
            service="sfn",
            action="listExecutions",
            iam_action="states:ListExecutions",
            iam_resources=[own_arn],
            parameters={
                "StateMachineArn": JsonPath.state_machine_id,
                "StatusFilter": "RUNNING",
                "MaxResults": 1000,
            },
            result_selector={
                "count": JsonPath.array_length(JsonPath.list_at("$.Executions")),
                "running": JsonPath.list_at("$.Executions[*].ExecutionArn"),
            },
            result_path="$.guard",
        )
        list_running.add_retry(errors=["States.TaskFailed"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
        skipped = sfn.Pass(
            self,
            "Skip: another run is active",
            parameters={
                "status": "SKIPPED",
                "reason": JsonPath.format(
                    "Another execution of this state machine is still running: {}", JsonPath.string_at("$.guard.oldest")
                ),
            },
        ).next(sfn.Succeed(self, "Skipped"))
        find_oldest = sfn.Pass(
            self,
            "Find oldest running",
            parameters={
                # listExecutions returns the newest first, so the last item is the oldest running execution.
                # (CDK's array_get_item takes a literal index only, hence the intrinsic written out.)
                "oldest": JsonPath.string_at("States.ArrayGetItem($.guard.running, States.MathAdd($.guard.count, -1))"),
                "self": JsonPath.execution_id,
            },
            result_path="$.guard",
        ).next(
            sfn.Choice(self, "Oldest running is this one?")
            .when(sfn.Condition.string_equals_json_path("$.guard.oldest", "$.guard.self"), prepare)
            .otherwise(skipped)
        )
        guard = list_running.next(
            sfn.Choice(self, "Other runs active?")
            .when(sfn.Condition.number_greater_than("$.guard.count", 1), find_oldest)
            .otherwise(prepare)
        )

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            comment="Glue transform, then Personalize import, training and batch inference for one run",
            definition_body=sfn.DefinitionBody.from_chainable(guard),
            timeout=Duration.hours(config.execution_timeout_hours),
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        self._acknowledge_wildcards(
            {
                "*": "Step Functions log delivery (logs:*LogDelivery, logs:Describe*) and X-Ray tracing accept no "
                "narrower resource.",
                import_jobs: "Import jobs are named per run; the name prefix limits the role to this deployment's jobs.",
                batch_jobs: "Batch inference jobs are named per run; the name prefix limits the role to this "
                "deployment's jobs.",
                solution_versions: "Solution versions are created per run under this one solution.",
                f"{self.run_names_function.function_arn}:*": "CDK's LambdaInvoke grant includes the naming function's "
                "versions and aliases; it is still this one function.",
            }
        )

    def _acknowledge_wildcards(self, reasons: Mapping[str, str]) -> None:
        for resource, reason in reasons.items():
            acknowledge_wildcard(self.state_machine.role, resource, reason)
