"""Stage 5: every configured solution, side by side: training, quality gate, batch jobs, output files.

    Solutions (Parallel, result $.solutions) ─┬─ Solution users (Parallel, one branch; Catch States.ALL)
                                              │     users: read solution ARN -> users training (job loop)
                                              │     -> users quality gate -> users batch: plan jobs
                                              │     -> users batch: each job (Distributed Map, STANDARD children)
                                              │     -> users post-process: list output files / each output file
                                              │     -> users: succeeded          (the solution record)
                                              │   caught: users: failed          (the FAILED record, with the error)
                                              ├─ Solution similar ...
                                              └─ ...

A solution that fails anywhere (training, gate, a batch job, post-processing) ends its own branch with a FAILED
record; the others go on, and the run-level post-processing writes the manifest of all of them and fails the run
naming the failed ones. Each record (README "State data"):

    {"name", "kind", "jobType", "status": "SUCCEEDED", "train": {"Arn"}, "gate", "plan", "batchJobs",
     "processedFiles"}  or  {"name", "kind", "jobType", "status": "FAILED", "error": {"Error", "Cause"}}

Batch jobs: the plan splits the solution's input into jobs within Personalize's limits; a Distributed Map reads
the job list from S3 (`_jobs.json`, so the state stays small however many jobs there are) and runs one STANDARD
child execution per job (a child polls for hours, beyond an Express execution's 5 minutes, and keeps its own
25,000-event history), at most `$.plan.max_concurrency` at once (the solution's share of the per-region quota of
jobs in progress). Inside a child, the whole job is wrapped in a one-branch Parallel whose catch turns any error
into a FAILED job record, so Personalize's failure reason reaches the manifest (a failed child would only give
the Map's generic error).

Quotas: the Map's concurrency keeps the run's own jobs within the quota; jobs of other runs or applications in
the account can still fill it, and then Create answers LimitExceededException, which the job loop's busy retry
absorbs (bounded by busy_retry_max_attempts), as it does for training beyond the solution-version quota.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_contracts import run_layout
from pipeline_contracts.run_modes import REUSE, REUSE_ACTION, REUSE_DECISION, REUSED_VERSION, TRAINING
from pipeline_contracts.solutions import JOB_ARN_RESOURCE_TYPE, JOB_RESOURCE, job_name_prefix_step
from stacks.batch_jobs import BatchJobPlanning
from stacks.config import PipelineConfig, SolutionSpec
from stacks.orchestration.function_errors import readable_function_error
from stacks.orchestration.modes import training_mode_path
from stacks.orchestration.own_history import own_history_map
from stacks.orchestration.personalize_job import JobBounds, PersonalizeJobStage, personalize_arn
from stacks.orchestration.stage import Stage
from stacks.personalize import solution_arn_parameter_name, solution_name_pattern
from stacks.personalize_filters import filter_arn_parameter_name

JsonPath = sfn.JsonPath
SolutionStageFactory = Callable[[Construct, SolutionSpec], sfn.IChainable]
# Fail-state error prefixes, the same for every solution (alarms and callers match one error per step).
TRAINING_ERROR_PREFIX = "Training"
BATCH_JOB_ERROR_PREFIX = "BatchJob"


def train_key(spec: SolutionSpec) -> str:
    """The `$.run` key of a solution's training (solution version) name, e.g. train_users."""
    return f"train_{spec.name}"


def batch_key(spec: SolutionSpec) -> str:
    """The `$.run` key of a solution's batch job name base, e.g. batch_users."""
    return f"batch_{spec.name}"


def solution_job_name_prefixes(config: PipelineConfig) -> dict[str, str]:
    """`$.run` key -> job-name prefix of every solution's training and batch jobs (pbp-dev-train-users, ...)."""
    prefixes: dict[str, str] = {}
    for spec in config.solutions:
        prefixes[train_key(spec)] = config.resource_name(job_name_prefix_step("train", spec.name))
        prefixes[batch_key(spec)] = config.resource_name(job_name_prefix_step("batch", spec.name))
    return prefixes


class SolutionIam:
    """The IAM resources of one solution: its Personalize solutions, their versions, and its batch jobs."""

    def __init__(self, stack: Stack, config: PipelineConfig, spec: SolutionSpec) -> None:
        pattern = solution_name_pattern(config, spec.name)
        self.solutions = personalize_arn(stack, "solution", pattern)
        self.versions = personalize_arn(stack, "solution", f"{pattern}/*")
        prefix = config.resource_name(job_name_prefix_step("batch", spec.name))
        self.batch_jobs = personalize_arn(stack, JOB_ARN_RESOURCE_TYPE[spec.job_type], f"{prefix}-*")
        self._name = spec.name

    @property
    def wildcard_reasons(self) -> dict[str, str]:
        return {
            self.versions: f"Solution versions of solution {self._name} are created per run; the pattern is that "
            "solution's names in this deployment (one per settings hash).",
            self.batch_jobs: f"Batch jobs of solution {self._name} are named per run and part; the name prefix limits "
            "the role to this deployment's jobs of that solution.",
        }


class JobListReader(sfn.S3JsonItemReader):
    """The ItemReader of one solution's batch-job list (`batch-jobs/<solution>/_jobs.json` of any run). CDK's own
    reader grants s3:GetObject on every object of the bucket; this one may read that list and nothing else."""

    def __init__(self, *, bucket: s3.IBucket, key: str, solution: str) -> None:
        super().__init__(bucket=bucket, key=key)
        self.objects = job_list_objects(bucket, solution)

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        return [iam.PolicyStatement(actions=["s3:GetObject"], resources=[self.objects])]


def job_list_objects(bucket: s3.IBucket, solution: str) -> str:
    """The ARN pattern of one solution's job lists in every run."""
    return bucket.arn_for_objects(
        run_layout.run_key("*", f"{run_layout.BATCH_JOBS}{solution}/{run_layout.BATCH_JOB_LIST}")
    )


class SolutionBranches(Stage):
    """The Parallel "Solutions": one wrapped branch per configured solution (config order) -> `$.solutions`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        bounds: JobBounds,
        planning: BatchJobPlanning,
        curated_bucket: s3.IBucket,
        data_key: kms.IKey,
        personalize_role: iam.IRole,
        pass_role: iam.PolicyStatement,
        quality_gate: SolutionStageFactory | None = None,
        outputs: SolutionStageFactory | None = None,
    ) -> None:
        """`quality_gate(scope, spec)`: the solution's gate stage (writes `$.gate.solutionVersionArn`, the version
        its batch jobs use; without it they use the trained version). `outputs(scope, spec)`: the solution's
        post-processing (reads `$.batchJobs`, writes `$.outputFiles` and `$.processedFiles`)."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._config, self._bounds, self._planning = config, bounds, planning
        self._data_key, self._role, self._pass_role = data_key, personalize_role, pass_role
        self._curated = curated_bucket
        self._quality_gate, self._outputs = quality_gate, outputs
        self.iam = {spec.name: SolutionIam(stack, config, spec) for spec in config.solutions}
        parallel = sfn.Parallel(
            self,
            "Solutions",
            comment="Every configured solution trains and runs its batch jobs side by side",
            result_path="$.solutions",
        )
        for spec in config.solutions:
            parallel.branch(self._solution(spec))
        self._set_flow(parallel, parallel)

    @property
    def wildcard_reasons(self) -> dict[str, str]:
        return {
            **{
                resource: reason
                for access in self.iam.values()
                for resource, reason in access.wildcard_reasons.items()
            },
            **{
                job_list_objects(self._planning.transformed_bucket, spec.name): f"The Distributed Map of solution "
                f"{spec.name} reads its batch-job list (_jobs.json) of the run, whose folder is named at run time; "
                "the pattern is that file in every run, read only."
                for spec in self._config.solutions
            },
        }

    # One solution ------------------------------------------------------------------------------------------------
    def _solution(self, spec: SolutionSpec) -> sfn.IChainable:
        name = spec.name
        read: sfn.Chain = sfn.Chain.start(self._read_solution_arn(spec))
        if spec.filter:  # read per run as the solution's ARN is: the data stack's update switches it
            read = read.next(self._read_filter_arn(spec))
        trained: sfn.Chain = sfn.Chain.start(self._training(spec))
        if self._quality_gate is not None:
            trained = trained.next(self._quality_gate(self, spec))
        plan = self._planning.plan_task(self, spec, job_name_base=f"$.run.{batch_key(spec)}")
        if spec.retrain.on:
            body = read.next(self._train_or_reuse(spec, trained, plan))
        else:
            body = read.next(trained).next(plan)
        body = body.next(self._each_job(spec))
        if self._outputs is not None:
            body = body.next(self._outputs(self, spec))
        body = body.next(self._succeeded(spec))
        wrapper = sfn.Parallel(
            self,
            f"Solution {name}",
            comment=f"Solution {name}: any error ends this solution only, with a FAILED record",
            output_path="$[0]",
        )
        wrapper.branch(body)
        failed = sfn.Pass(self, f"{name}: failed", parameters=self._failed_record(spec))
        wrapper.add_catch(
            readable_function_error(self, f"{name}: failed", error_path="$.solutionError", then=failed),
            errors=["States.ALL"],
            result_path="$.solutionError",
        )
        # The branch runs in a child execution of its own, so its training's polls (and its gate, planning and
        # output files) do not share the run's history with the other solutions (`own_history.py`).
        hand_over, child = own_history_map(
            self,
            name,
            body=wrapper,
            comment=f"Solution {name} runs in a child execution with a history of its own; its result is the "
            "solution record",
            output_path="$[0]",
        )
        # The child always ends with a record (its Parallel catches every error); the Map itself fails only when
        # its child could not run at all (e.g. StartExecution refused), which still ends this solution only.
        child.add_catch(
            sfn.Pass(self, f"{name}: failed: no child execution", parameters=self._failed_record(spec)),
            errors=["States.ALL"],
            result_path="$.solutionError",
        )
        return hand_over

    def _failed_record(self, spec: SolutionSpec) -> dict[str, Any]:
        """The FAILED record of a solution, with the error its catch put in `$.solutionError`."""
        return {
            **self._identity(spec),
            "status": "FAILED",
            "error": {
                "Error": JsonPath.string_at("$.solutionError.Error"),
                "Cause": JsonPath.string_at("$.solutionError.Cause"),
            },
        }

    def _filter_of(self, spec: SolutionSpec) -> dict[str, Any]:
        """The filter the solution's batch jobs used, for the manifest and the notice: the one the run read, or
        `filter_arn` (made outside this app) for user recommendations without their own."""
        if spec.filter:
            return {"filter": {"Arn": JsonPath.string_at("$.filter.Arn")}}
        if self._config.filter_arn and spec.output_kind.name == "user_recommendations":
            return {"filter": {"Arn": self._config.filter_arn}}
        return {}

    def _succeeded(self, spec: SolutionSpec) -> sfn.Pass:
        """The solution's SUCCEEDED record (its child execution's result)."""
        return sfn.Pass(
            self,
            f"{spec.name}: succeeded",
            parameters={
                **self._identity(spec),
                "status": "SUCCEEDED",
                "train": {"Arn": JsonPath.string_at("$.train.Arn")},
                **({"gate": JsonPath.object_at("$.gate")} if self._quality_gate is not None else {}),
                "plan": JsonPath.object_at("$.plan"),
                **self._filter_of(spec),
                "batchJobs": JsonPath.list_at("$.batchJobs"),
                **({"processedFiles": JsonPath.list_at("$.processedFiles")} if self._outputs is not None else {}),
            },
        )

    def _train_or_reuse(self, spec: SolutionSpec, trained: sfn.Chain, then: sfn.IChainable) -> sfn.Chain:
        """A solution with a cadence: "train or reuse?" reads its mode; REUSE skips the training and the gate and
        writes what they would have (`$.train.Arn` and `$.gate`: the last accepted version, 0 training hours, an
        action the acceptance records nothing for), then both ways go on to `then` (the batch planning)."""
        name, decision = spec.name, f"$.modes.{TRAINING}.{spec.name}"
        reuse: sfn.Chain = sfn.Chain.start(
            sfn.Pass(
                self,
                f"{name} training: reuse the accepted version",
                parameters={"Arn": JsonPath.string_at(f"{decision}.{REUSED_VERSION}"), "reused": True},
                result_path="$.train",
            )
        )
        if self._quality_gate is not None:
            reuse = reuse.next(
                sfn.Pass(
                    self,
                    f"{name} quality gate: reused, nothing to judge",
                    parameters={
                        "decision": REUSE_DECISION,
                        "accepted": True,
                        "action": REUSE_ACTION,
                        "solutionVersionArn": JsonPath.string_at(f"{decision}.{REUSED_VERSION}"),
                        "lastAcceptedVersionArn": JsonPath.string_at(f"{decision}.{REUSED_VERSION}"),
                        "solutionArn": JsonPath.string_at("$.solution.Arn"),
                        "reason": JsonPath.string_at(f"{decision}.reason"),
                        "firstRun": False,
                        "usedFallback": False,
                        "trainingHours": 0,
                    },
                    result_path="$.gate",
                )
            )
        choice = sfn.Choice(self, f"{name} training: train or reuse?").when(
            sfn.Condition.string_equals(training_mode_path(name), REUSE), reuse
        ).otherwise(trained)
        return choice.afterwards().next(then)

    @staticmethod
    def _identity(spec: SolutionSpec) -> dict[str, str]:
        return {"name": spec.name, "kind": spec.output_kind.name, "jobType": spec.job_type}

    def _read_solution_arn(self, spec: SolutionSpec) -> tasks.CallAwsService:
        parameter = solution_arn_parameter_name(self._config, spec.name)
        return self._read_parameter(f"{spec.name}: read solution ARN", parameter, "$.solution")

    def _read_filter_arn(self, spec: SolutionSpec) -> tasks.CallAwsService:
        assert spec.filter is not None
        parameter = filter_arn_parameter_name(self._config, spec.filter)
        return self._read_parameter(f"{spec.name}: read filter ARN", parameter, "$.filter")

    def _read_parameter(self, state_name: str, parameter: str, result_path: str) -> tasks.CallAwsService:
        """An SSM String parameter the data stack writes, read into `result_path` as {"Arn": value}."""
        read = tasks.CallAwsService(
            self,
            state_name,
            service="ssm",
            action="getParameter",
            iam_action="ssm:GetParameter",
            iam_resources=[
                Stack.of(self).format_arn(
                    service="ssm",
                    resource="parameter",
                    resource_name=parameter.lstrip("/"),
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
            parameters={"Name": parameter},
            result_selector={"Arn": JsonPath.string_at("$.Parameter.Value")},
            result_path=result_path,
        )
        read.add_retry(errors=["States.TaskFailed"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
        return read

    def _training(self, spec: SolutionSpec) -> PersonalizeJobStage:
        access = self.iam[spec.name]
        return PersonalizeJobStage(
            self,
            f"Training-{spec.name}",
            resource="SolutionVersion",
            result_key="train",
            label=f"{spec.name} training",
            error_prefix=TRAINING_ERROR_PREFIX,
            subject=f"Solution {spec.name}: ",
            create_parameters={
                "Name": JsonPath.string_at(f"$.run.{train_key(spec)}"),
                "SolutionArn": JsonPath.string_at("$.solution.Arn"),
                "TrainingMode": JsonPath.string_at(training_mode_path(spec.name)),
            },
            create_resources=[access.solutions],
            describe_resources=[access.versions],
            bounds=self._bounds,
        )

    # Batch jobs --------------------------------------------------------------------------------------------------
    def _each_job(self, spec: SolutionSpec) -> sfn.DistributedMap:
        name = spec.name
        version = "$.gate.solutionVersionArn" if self._quality_gate is not None else "$.train.Arn"
        each_job = sfn.DistributedMap(
            self,
            f"{name} batch: each job",
            comment=f"One child execution per batch job of solution {name}, within its share of the job quota",
            item_reader=JobListReader(
                bucket=self._planning.transformed_bucket, key=JsonPath.string_at("$.plan.jobs_key"), solution=name
            ),
            max_concurrency_path=JsonPath.string_at("$.plan.max_concurrency"),
            map_execution_type=sfn.StateMachineType.STANDARD,
            item_selector={
                "job": JsonPath.object_at("$$.Map.Item.Value"),
                "solutionVersionArn": JsonPath.string_at(version),
                **({"filterArn": JsonPath.string_at("$.filter.Arn")} if spec.filter else {}),
                "planKey": JsonPath.string_at("$.plan.plan_key"),
                "inputBucket": JsonPath.string_at("$.plan.input_bucket"),
            },
            result_path="$.batchJobs",
        )
        each_job.item_processor(self._job(spec))
        return each_job

    def _job(self, spec: SolutionSpec) -> sfn.IChainable:
        """One child execution: place the input if the plan copies it, run the job, report it either way."""
        name = spec.name
        job_stage = self._batch_job_stage(spec)

        def record(state: str, **fields: Any) -> sfn.Pass:
            """The job's record (the Map's result for it): its part and name, and `fields`."""
            job = {"part": JsonPath.number_at("$.job.part"), "jobName": JsonPath.string_at("$.job.job_name")}
            return sfn.Pass(self, f"{name} batch job: {state}", parameters={**job, **fields})

        done = record("done", arn=JsonPath.string_at("$.batch.Arn"), status="ACTIVE")
        place = self._planning.place_task(self, spec)
        place.next(job_stage)
        body = (
            sfn.Choice(self, f"{name} batch job: place input?")
            .when(sfn.Condition.boolean_equals("$.job.copy", True), place)
            .otherwise(job_stage)
        )
        job_stage.next(done)
        wrapper = sfn.Parallel(self, f"{name} batch job", output_path="$[0]")
        wrapper.branch(body)
        failed = record(
            "failed",
            status="FAILED",
            error=JsonPath.string_at("$.jobError.Error"),
            cause=JsonPath.string_at("$.jobError.Cause"),
        )
        # The job's own failures (Personalize's reason, the busy loop's give-up) are plain text; placing its input
        # is a function, whose error is read down to its type and message.
        wrapper.add_catch(
            readable_function_error(self, f"{name} batch job: failure", error_path="$.jobError", then=failed),
            errors=["States.ALL"],
            result_path="$.jobError",
        )
        return wrapper

    def _batch_job_stage(self, spec: SolutionSpec) -> PersonalizeJobStage:
        access = self.iam[spec.name]
        return PersonalizeJobStage(
            self,
            f"BatchJob-{spec.name}",
            resource=JOB_RESOURCE[spec.job_type],
            result_key="batch",
            label=f"{spec.name} batch job",
            error_prefix=BATCH_JOB_ERROR_PREFIX,
            subject=f"Solution {spec.name}: ",
            create_parameters=batch_job_parameters(self._config, spec, self._data_key, self._role),
            create_resources=[access.batch_jobs, access.versions],
            describe_resources=[access.batch_jobs],
            create_statements=[self._pass_role],
            bounds=self._bounds,
        )


def batch_job_parameters(
    config: PipelineConfig, spec: SolutionSpec, data_key: kms.IKey, personalize_role: iam.IRole
) -> dict[str, Any]:
    """CreateBatchInferenceJob's / CreateBatchSegmentJob's parameters for one job item of the plan (child
    execution input `$.job`): its input and output folders, both encrypted with the data key; the filter and
    exploration settings of the config for user recommendations only (the other kinds have no such options)."""
    parameters: dict[str, Any] = {
        "JobName": JsonPath.string_at("$.job.job_name"),
        "SolutionVersionArn": JsonPath.string_at("$.solutionVersionArn"),
        "NumResults": spec.num_results,
        "JobInput": {"S3DataSource": {"Path": JsonPath.string_at("$.job.input_uri"), "KmsKeyArn": data_key.key_arn}},
        "JobOutput": {
            "S3DataDestination": {"Path": JsonPath.string_at("$.job.output_uri"), "KmsKeyArn": data_key.key_arn}
        },
        "RoleArn": personalize_role.role_arn,
    }
    if spec.filter:  # the filter the data stack created for this solution, as the run read it (`$.filter`)
        parameters["FilterArn"] = JsonPath.string_at("$.filterArn")
    if spec.output_kind.name != "user_recommendations":
        return parameters
    exploration: dict[str, str] = {}
    if config.exploration_weight is not None:
        exploration["explorationWeight"] = format(config.exploration_weight, "g")
    if config.exploration_item_age_cut_off_days is not None:
        exploration["explorationItemAgeCutOff"] = str(config.exploration_item_age_cut_off_days)
    if config.filter_arn and not spec.filter:
        parameters["FilterArn"] = config.filter_arn
    if exploration:
        parameters["BatchInferenceJobConfig"] = {"ItemExplorationConfig": exploration}
    return parameters
