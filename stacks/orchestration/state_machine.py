"""The pipeline's state machine: its stages chained in run order, its role, its logs."""

from __future__ import annotations

from typing import Any, cast
from collections.abc import Callable, Mapping

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.batch_jobs import BatchJobPlanning
from stacks.functions import PipelineFunction, powertools_layer
from stacks.nag import acknowledge_wildcard
from stacks.orchestration.budget import check_history_budget
from stacks.orchestration.solutions import SolutionBranches, SolutionStageFactory, solution_job_name_prefixes
from stacks.personalize import solution_arn_parameter_name
from stacks.orchestration.guard import OverlapGuard
from stacks.orchestration.ledger import promotion_wildcard_reasons
from stacks.orchestration.modes import ChooseModes, import_mode_path, interactions_location
from stacks.orchestration.own_history import JobInOwnHistory
from stacks.orchestration.imports import ParallelImports, folder_uri, job_name_key, metadata_summary, result_key
from stacks.orchestration.personalize_job import JobBounds, PersonalizeJobStage, personalize_arn
from stacks.orchestration.prepare import PrepareRun
from stacks.orchestration.summary import RunSummary
from stacks.orchestration.transform import Transform
from stacks.run_lease import RunLease

JsonPath = sfn.JsonPath
StageFactory = Callable[[Construct], sfn.IChainable]


def state_machine_name(config: PipelineConfig) -> str:
    """The state machine's physical name (fixed: see `PipelineStateMachine`)."""
    return config.resource_name("batch-pipeline")


class PipelineStateMachine(Construct):
    """The scheduled run: guard, prepare, Glue transform, choose modes (`modes.py`), Personalize imports, every
    solution side by side (training, quality gate, batch jobs, its output files: `solutions.py`), [post-processing],
    summary.

    Attributes: `state_machine`, `log_group` (the state machine's, KMS-encrypted), `run_names_function`,
    `run_modes_function` (chooses each import's and training's mode),
    `batch_planning` (the planning functions), `run_lease` (the overlap guard's lease),
    `job_name_prefixes` (Personalize job-name prefixes, also used to scope IAM).

    `quality_gate(scope, spec)`, if given, returns a solution's stage to run after its training and before its
    batch jobs; it must write `$.gate.solutionVersionArn`, the solution version the jobs then use.
    `solution_outputs(scope, spec)`, if given, returns a solution's post-processing after its batch jobs (reads
    `$.batchJobs`, writes `$.outputFiles` and `$.processedFiles`).
    `post_process(scope)`, if given, returns the run-level stage after "Solutions" and before the summary (the
    pipeline stack always gives it: it reads the solution records, and a FAILED one fails the run there as
    "Solutions failed"; a machine built without it, as some tests do, only records a solution's failure); it
    receives the full state data (`$.run`, `$.glue`, `$.import`, `$.solutions`) and writes with ResultPaths of
    its own. `summary_fields`: more fields of the execution's output (name -> JSONPath value).
    `batch_planning`: the planning functions (built here when not given).
    `accepted_versions`: the accepted-versions table (stacks/model_registry.py), required when a solution has a
    retrain cadence (the modes function reads it).
    `run_lease`: the overlap guard's lease (built here when not given); the stack gives it when post-processing must
    release it too (on the "Solutions failed" end). It must be the lease of this state machine (`state_machine_name`).
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
        dataset_arn: str,
        metadata_dataset_arns: Mapping[str, str] | None = None,
        accepted_versions: dynamodb.ITable | None = None,
        batch_planning: BatchJobPlanning | None = None,
        run_lease: RunLease | None = None,
        post_process: StageFactory | None = None,
        quality_gate: SolutionStageFactory | None = None,
        solution_outputs: SolutionStageFactory | None = None,
        summary_fields: Mapping[str, Any] | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
    ) -> None:
        super().__init__(scope, construct_id)
        check_history_budget(config)
        self._stack = Stack.of(self)
        # The physical name is fixed so the role can be scoped to this state machine's ARN without a
        # dependency cycle (the role would otherwise need the ARN of the machine that needs the role).
        name = state_machine_name(config)
        self.job_name_prefixes = _job_name_prefixes(config, metadata_dataset_arns or {})
        self.log_group = self._log_group(name, logs_key, log_retention)
        self.run_names_function = self._run_names_function(logs_key)
        jobs = _PersonalizeJobs(
            self,
            config=config,
            job_name_prefixes=self.job_name_prefixes,
            dataset_arn=dataset_arn,
            metadata_dataset_arns=metadata_dataset_arns or {},
            transformed_bucket=transformed_bucket,
            data_key=data_key,
            personalize_role=personalize_role,
        )
        self.batch_planning = batch_planning or self._batch_planning(
            config, transformed_bucket=transformed_bucket, curated_bucket=curated_bucket, data_key=data_key,
            logs_key=logs_key)  # fmt: skip
        self.run_lease = self._lease(run_lease, config=config, name=name, data_key=data_key, logs_key=logs_key)
        solutions = SolutionBranches(
            self,
            "Solutions",
            config=config,
            bounds=JobBounds.of(config),
            planning=self.batch_planning,
            curated_bucket=curated_bucket,
            data_key=data_key,
            personalize_role=personalize_role,
            pass_role=jobs.pass_role,
            quality_gate=quality_gate,
            outputs=solution_outputs,
        )
        modes = ChooseModes(
            self, "Modes", config=config, transformed_bucket=transformed_bucket, data_key=data_key, logs_key=logs_key,
            dataset_arns={"interactions": dataset_arn, **(metadata_dataset_arns or {})},
            accepted_versions=accepted_versions)  # fmt: skip
        self.run_modes_function = modes.function
        before_solutions = (
            sfn.Chain.start(OverlapGuard(self, "Guard", run_lease=self.run_lease))
            .next(self._prepare(config, transformed_bucket=transformed_bucket, curated_bucket=curated_bucket))
            .next(Transform(self, "Transform", glue_job=glue_job, incremental=config.etl_incremental))
            .next(modes)
            .next(jobs.imports_stage())
        )
        run = self._after_imports(
            before_solutions.next(solutions),
            post_process=post_process,
            summary_extra={**metadata_summary(jobs.metadata_kinds), **(summary_fields or {})},
        )
        self.state_machine = self._state_machine(name, run, config)
        promotion = promotion_wildcard_reasons(config.etl_incremental and post_process is not None, transformed_bucket)
        self._acknowledge_wildcards({**jobs.wildcard_reasons, **solutions.wildcard_reasons, **promotion})
        self._distributed_map_access(name, data_key)

    def _run_names_function(self, logs_key: kms.IKey) -> lambda_.IFunction:
        return PipelineFunction(
            self,
            "RunNames",
            handler="run_names.handler.handle",
            description="Derives the run id and Personalize job names from the execution (pure function)",
            logs_key=logs_key,
        ).function

    def _batch_planning(
        self,
        config: PipelineConfig,
        *,
        transformed_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
    ) -> BatchJobPlanning:
        """The batch-planning functions, when the stack gives none (it gives them with the Powertools layer it
        shares)."""
        return BatchJobPlanning(
            self,
            "BatchJobs",
            config=config,
            transformed_bucket=transformed_bucket,
            curated_bucket=curated_bucket,
            data_key=data_key,
            logs_key=logs_key,
            layers=[self._powertools()],
        )

    def _prepare(
        self, config: PipelineConfig, *, transformed_bucket: s3.IBucket, curated_bucket: s3.IBucket
    ) -> PrepareRun:
        return PrepareRun(
            self,
            "Prepare",
            run_names_function=self.run_names_function,
            job_name_prefixes=self.job_name_prefixes,
            transformed_bucket=transformed_bucket,
            curated_bucket=curated_bucket,
            solution_arn_parameter_names=[solution_arn_parameter_name(config, spec.name) for spec in config.solutions],
        )

    def _after_imports(
        self, run: sfn.Chain, *, post_process: StageFactory | None, summary_extra: Mapping[str, Any]
    ) -> sfn.Chain:
        """The run-level post-processing, if given, then the summary."""
        if post_process is not None:
            run = run.next(post_process(self))
        return run.next(RunSummary(self, "Summary", run_lease=self.run_lease, extra=summary_extra))

    def _state_machine(self, name: str, run: sfn.IChainable, config: PipelineConfig) -> sfn.StateMachine:
        return sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            comment="Glue transform, Personalize imports, then every solution's training and batch jobs for one run",
            definition_body=sfn.DefinitionBody.from_chainable(run),
            timeout=Duration.hours(config.execution_timeout_hours),
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )

    def _powertools(self) -> lambda_.ILayerVersion:
        """The Powertools layer for the functions built here (one construct, however many ask)."""
        existing = self.node.try_find_child("Powertools")
        return cast(lambda_.ILayerVersion, existing) if existing is not None else powertools_layer(self)

    def _lease(
        self, given: RunLease | None, *, config: PipelineConfig, name: str, data_key: kms.IKey, logs_key: kms.IKey
    ) -> RunLease:
        if given is None:
            return RunLease(
                self,
                "RunLease",
                config=config,
                state_machine_name=name,
                data_key=data_key,
                logs_key=logs_key,
                layers=[self._powertools()],
            )
        if given.state_machine_name != name:
            raise ValueError(
                f"run_lease is the lease of state machine {given.state_machine_name!r}, not of {name!r}: its "
                "acquire function could not describe this machine's executions"
            )
        return given

    def _log_group(self, state_machine_name: str, logs_key: kms.IKey, retention: logs.RetentionDays) -> logs.LogGroup:
        # Log groups go with the stack (this construct lives in the redeployable pipeline stack; a retained log
        # group with a fixed name would block the next deploy). The /aws/vendedlogs/ prefix lets log delivery use
        # one wildcard entry in the size-limited CloudWatch Logs resource policy instead of one per log group.
        return logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{state_machine_name}",
            encryption_key=logs_key,
            retention=retention,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _own_arn(self, state_machine_name: str) -> str:
        return self._stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _distributed_map_access(
        self, state_machine_name: str, data_key: kms.IKey
    ) -> None:
        """What the solutions' Distributed Maps need: read the job lists, run their child executions.

        The ItemReader reads `_jobs.json` (SSE-KMS with the data key; the S3 grant is the reader's own, see
        `JobListReader`). The Map starts, describes, stops and redrives its child
        executions: CDK grants that in a policy of its own that references the state machine, so the machine
        cannot wait for it; the same statements go into the role's default policy instead (the machine's name is
        fixed, so its ARN is known without a reference), which the machine waits for."""
        data_key.grant(self.state_machine, "kms:Decrypt")
        if self.state_machine.node.try_find_child("DistributedMapPolicy") is None:
            return
        self.state_machine.node.try_remove_child("DistributedMapPolicy")

        def executions(pattern: str) -> str:
            return self._stack.format_arn(
                service="states", resource="execution", resource_name=pattern, arn_format=ArnFormat.COLON_RESOURCE_NAME
            )

        # As CDK's DistributedMapPolicy (aws-stepfunctions, StateMachine), with the fixed name.
        children, redrives = executions(f"{state_machine_name}:*"), executions(f"{state_machine_name}/*:*")
        for actions, resource in (
            (["states:StartExecution"], self._own_arn(state_machine_name)),
            (["states:DescribeExecution", "states:StopExecution"], children),
            (["states:RedriveExecution"], redrives),
        ):
            self.state_machine.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[resource]))
        for resource in (children, redrives):
            acknowledge_wildcard(
                self.state_machine.role,
                resource,
                "A Distributed Map describes, stops and redrives its child executions, named at run time under this "
                "state machine only.",
            )

    def _acknowledge_wildcards(self, stage_reasons: Mapping[str, str]) -> None:
        """The role's IAM wildcards, each with the reason cdk-nag is told: the stages' own, and those of log
        delivery, tracing and the LambdaInvoke grants."""
        functions = [
            self.run_names_function,
            self.run_modes_function,
            *self.batch_planning.functions,
            *self.run_lease.functions,
        ]
        reasons = {
            "*": "Step Functions log delivery (logs:*LogDelivery, logs:Describe*) and X-Ray tracing accept no "
            "narrower resource.",
            **stage_reasons,
            **{
                f"{function.function_arn}:*": "CDK's LambdaInvoke grant includes the function's versions and "
                "aliases; it is still this one function."
                for function in functions
            },
        }
        for resource, reason in reasons.items():
            acknowledge_wildcard(self.state_machine.role, resource, reason)


def _job_name_prefixes(config: PipelineConfig, metadata_dataset_arns: Mapping[str, str]) -> dict[str, str]:
    """The Personalize job-name prefixes, each key the `$.run` field of a job name (IAM scopes each job by one)."""
    return {
        "importJobName": config.resource_name("import"),
        # train_<name> / batch_<name> per solution (pbp-dev-train-users, pbp-dev-batch-users): IAM scopes each
        # solution's jobs by its prefix.
        **solution_job_name_prefixes(config),
        # One prefix per configured Items / Users import (e.g. pbp-dev-items-import), so IAM can tell them apart.
        **{job_name_key(kind): config.resource_name(f"{kind}-import") for kind in metadata_dataset_arns},
    }


class _PersonalizeJobs:
    """The import stages (interactions, Items / Users) and the IAM resource patterns they share (each
    solution's training and batch jobs are in `solutions.py`)."""

    def __init__(
        self,
        scope: Construct,
        *,
        config: PipelineConfig,
        job_name_prefixes: Mapping[str, str],
        dataset_arn: str,
        metadata_dataset_arns: Mapping[str, str],
        transformed_bucket: s3.IBucket,
        data_key: kms.IKey,
        personalize_role: iam.IRole,
    ) -> None:
        stack = Stack.of(scope)
        self._metadata_dataset_arns, self._transformed_bucket = dict(metadata_dataset_arns), transformed_bucket
        self._metadata_import_jobs = {
            kind: personalize_arn(stack, "dataset-import-job", job_name_prefixes[job_name_key(kind)] + "-*")
            for kind in metadata_dataset_arns
        }
        self._scope, self._config, self._bounds = scope, config, JobBounds.of(config)
        self._dataset_arn = dataset_arn
        self._data_key, self._role = data_key, personalize_role
        self._import_jobs = personalize_arn(stack, "dataset-import-job", job_name_prefixes["importJobName"] + "-*")
        self.pass_role = iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[personalize_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
        )

    @property
    def wildcard_reasons(self) -> dict[str, str]:
        """The stages' IAM wildcards, each with the reason cdk-nag is told."""
        return {
            self._import_jobs: "Import jobs are named per run; the name prefix limits the role to this "
            "deployment's jobs.",
            **{
                jobs: f"{kind.title()} import jobs are named per run; the name prefix limits the role to this "
                "deployment's jobs of that dataset."
                for kind, jobs in self._metadata_import_jobs.items()
            },
        }

    @property
    def metadata_kinds(self) -> tuple[str, ...]:
        return tuple(self._metadata_dataset_arns)

    def _stage(self, construct_id: str, **props: Any) -> PersonalizeJobStage:
        return PersonalizeJobStage(self._scope, construct_id, bounds=self._bounds, **props)

    def import_stage(self) -> JobInOwnHistory:
        """The interactions import, polled in a child execution of its own (`own_history.py`)."""
        return JobInOwnHistory(self._scope, "ImportChild", label="Import", stage=self._interactions_import(),
                               result_key="import")

    def _interactions_import(self) -> PersonalizeJobStage:
        return self._stage(
            "Import",
            resource="DatasetImportJob",
            result_key="import",
            label="Import",
            create_parameters={
                "JobName": JsonPath.string_at("$.run.importJobName"),
                "DatasetArn": self._dataset_arn,
                "DataSource": {"DataLocation": interactions_location(self._config, self._transformed_bucket)},
                "RoleArn": self._role.role_arn,
                "ImportMode": JsonPath.string_at(import_mode_path("interactions")),
            },
            create_resources=[self._dataset_arn, self._import_jobs],
            describe_resources=[self._import_jobs],
            create_statements=[self.pass_role],
        )

    def imports_stage(self) -> sfn.IChainable:
        """The interactions import alone, or in parallel with each configured Items / Users import."""
        if not self._metadata_dataset_arns:
            return self.import_stage()
        return ParallelImports(
            self._scope,
            "Imports",
            interactions=self.import_stage(),
            kinds=self.metadata_kinds,
            metadata_stage=self.metadata_import_stage,
            transformed_bucket=self._transformed_bucket,
        )

    def metadata_import_stage(self, kind: str) -> JobInOwnHistory:
        """The Items or Users import: the run's folder into that dataset, IAM scoped to it and its job names,
        polled in a child execution of its own."""
        label = f"{kind.title()} import"
        return JobInOwnHistory(self._scope, label.replace(" ", "") + "Child", label=label,
                               stage=self._metadata_import(kind, label), result_key=result_key(kind))

    def _metadata_import(self, kind: str, label: str) -> PersonalizeJobStage:
        dataset_arn, jobs = self._metadata_dataset_arns[kind], self._metadata_import_jobs[kind]
        return self._stage(
            label.replace(" ", ""),
            resource="DatasetImportJob",
            result_key=result_key(kind),
            label=label,
            create_parameters={
                "JobName": JsonPath.string_at(f"$.run.{job_name_key(kind)}"),
                "DatasetArn": dataset_arn,
                "DataSource": {"DataLocation": folder_uri(self._transformed_bucket, kind)},
                "RoleArn": self._role.role_arn,
                "ImportMode": JsonPath.string_at(import_mode_path(kind)),
            },
            create_resources=[dataset_arn, jobs],
            describe_resources=[jobs],
            create_statements=[self.pass_role],
        )

