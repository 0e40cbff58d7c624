"""The pipeline's state machine: its stages chained in run order, its role, its logs."""

from __future__ import annotations

from typing import Any
from collections.abc import Callable, Mapping

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.functions import PipelineFunction
from stacks.nag import acknowledge_wildcard
from stacks.orchestration.budget import check_history_budget
from stacks.personalize import solution_arn_parameter_name, solution_name_pattern
from stacks.orchestration.guard import OverlapGuard
from stacks.orchestration.imports import ParallelImports, folder_uri, job_name_key, metadata_summary, result_key
from stacks.orchestration.personalize_job import JobBounds, PersonalizeJobStage
from stacks.orchestration.prepare import PrepareRun
from stacks.orchestration.summary import RunSummary
from stacks.orchestration.transform import Transform

JsonPath = sfn.JsonPath
StageFactory = Callable[[Construct], sfn.IChainable]


class PipelineStateMachine(Construct):
    """The scheduled run: guard, prepare, Glue transform, Personalize import, training, batch inference,
    [post-processing], summary.

    Attributes: `state_machine`, `log_group` (the state machine's, KMS-encrypted), `run_names_function`,
    `job_name_prefixes` (Personalize job-name prefixes, also used to scope IAM).

    `post_process(scope)`, if given, returns the stage (e.g. a fragment) to run after the batch job is ACTIVE
    and before the summary; it receives the full state data and must keep `$.run`, `$.glue`, `$.import`,
    `$.train` and `$.batch` (write results with a ResultPath of its own).

    `quality_gate(scope)`, if given, returns the stage to run after training and before batch inference; it must
    write `$.gate.solutionVersionArn`, the solution version the batch job then uses. `summary_fields`: more fields
    of the execution's output (name -> JSONPath value), e.g. the gate's decision.
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
        post_process: StageFactory | None = None,
        quality_gate: StageFactory | None = None,
        summary_fields: Mapping[str, Any] | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
    ) -> None:
        super().__init__(scope, construct_id)
        check_history_budget(config)
        self._stack = Stack.of(self)
        # The physical name is fixed so the role can be scoped to this state machine's ARN without a
        # dependency cycle (the role would otherwise need the ARN of the machine that needs the role).
        state_machine_name = config.resource_name("batch-pipeline")
        self.job_name_prefixes = {
            "importJobName": config.resource_name("import"),
            "solutionVersionName": config.resource_name("train"),
            "batchInferenceJobName": config.resource_name("batch"),
            # One prefix per configured Items / Users import (e.g. pbp-dev-items-import), so IAM can tell them apart.
            **{job_name_key(kind): config.resource_name(f"{kind}-import") for kind in metadata_dataset_arns or {}},
        }
        self.log_group = self._log_group(state_machine_name, logs_key, log_retention)
        self.run_names_function = PipelineFunction(
            self,
            "RunNames",
            handler="run_names.handler.handle",
            description="Derives the run id and Personalize job names from the execution (pure function)",
            logs_key=logs_key,
        ).function
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

        run = (
            sfn.Chain.start(OverlapGuard(self, "Guard", state_machine_arn=self._own_arn(state_machine_name)))
            .next(
                PrepareRun(
                    self,
                    "Prepare",
                    run_names_function=self.run_names_function,
                    job_name_prefixes=self.job_name_prefixes,
                    transformed_bucket=transformed_bucket,
                    curated_bucket=curated_bucket,
                    solution_arn_parameter_name=solution_arn_parameter_name(config, config.solutions[0].name),
                )
            )
            .next(Transform(self, "Transform", glue_job=glue_job))
            .next(jobs.imports_stage())
            .next(jobs.training_stage())
        )
        if quality_gate is not None:
            run = run.next(quality_gate(self))
        # With a gate, the batch job uses the version the gate chose (the candidate, or the last accepted one).
        run = run.next(jobs.batch_inference_stage("$.gate.solutionVersionArn" if quality_gate else "$.train.Arn"))
        if post_process is not None:
            run = run.next(post_process(self))
        run = run.next(
            RunSummary(self, "Summary", extra={**metadata_summary(jobs.metadata_kinds), **(summary_fields or {})})
        )

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            comment="Glue transform, then Personalize import, training and batch inference for one run",
            definition_body=sfn.DefinitionBody.from_chainable(run),
            timeout=Duration.hours(config.execution_timeout_hours),
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        self._acknowledge_wildcards(
            {
                "*": "Step Functions log delivery (logs:*LogDelivery, logs:Describe*) and X-Ray tracing accept no "
                "narrower resource.",
                **jobs.wildcard_reasons,
                f"{self.run_names_function.function_arn}:*": "CDK's LambdaInvoke grant includes the naming function's "
                "versions and aliases; it is still this one function.",
            }
        )

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

    def _acknowledge_wildcards(self, reasons: Mapping[str, str]) -> None:
        for resource, reason in reasons.items():
            acknowledge_wildcard(self.state_machine.role, resource, reason)


def personalize_arn(stack: Stack, resource: str, name: str) -> str:
    return stack.format_arn(
        service="personalize", resource=resource, resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )


class _PersonalizeJobs:
    """The three Personalize job stages and the IAM resource patterns they share."""

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
        # The solution is read at run time (it is replaced when its settings change), so IAM names every
        # solution this deployment can create, and their versions.
        pattern = solution_name_pattern(config, config.solutions[0].name)
        self._solutions = personalize_arn(stack, "solution", pattern)
        self._solution_versions = personalize_arn(stack, "solution", f"{pattern}/*")
        self._data_key, self._role = data_key, personalize_role
        self._import_jobs = personalize_arn(stack, "dataset-import-job", job_name_prefixes["importJobName"] + "-*")
        self._batch_jobs = personalize_arn(
            stack, "batch-inference-job", job_name_prefixes["batchInferenceJobName"] + "-*"
        )
        self._pass_role = iam.PolicyStatement(
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
            self._batch_jobs: "Batch inference jobs are named per run; the name prefix limits the role to this "
            "deployment's jobs.",
            self._solutions: "The solution is replaced when its settings change (its name carries a settings hash) "
            "and read at run time; the pattern is limited to this deployment's solution names.",
            self._solution_versions: "Solution versions are created per run under this deployment's solution.",
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

    def import_stage(self) -> PersonalizeJobStage:
        return self._stage(
            "Import",
            resource="DatasetImportJob",
            result_key="import",
            label="Import",
            create_parameters={
                "JobName": JsonPath.string_at("$.run.importJobName"),
                "DatasetArn": self._dataset_arn,
                "DataSource": {"DataLocation": JsonPath.string_at("$.run.interactionsUri")},
                "RoleArn": self._role.role_arn,
                "ImportMode": self._config.import_mode,
            },
            create_resources=[self._dataset_arn, self._import_jobs],
            describe_resources=[self._import_jobs],
            create_statements=[self._pass_role],
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

    def metadata_import_stage(self, kind: str) -> PersonalizeJobStage:
        """The Items or Users import: the run's folder into that dataset, IAM scoped to it and its job names."""
        dataset_arn, jobs = self._metadata_dataset_arns[kind], self._metadata_import_jobs[kind]
        label = f"{kind.title()} import"
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
                "ImportMode": self._config.import_mode,
            },
            create_resources=[dataset_arn, jobs],
            describe_resources=[jobs],
            create_statements=[self._pass_role],
        )

    def training_stage(self) -> PersonalizeJobStage:
        return self._stage(
            "Training",
            resource="SolutionVersion",
            result_key="train",
            label="Training",
            create_parameters={
                "Name": JsonPath.string_at("$.run.solutionVersionName"),
                "SolutionArn": JsonPath.string_at("$.solution.Arn"),
                "TrainingMode": self._config.training_mode,
            },
            create_resources=[self._solutions],
            describe_resources=[self._solution_versions],
        )

    def batch_inference_stage(self, solution_version_path: str) -> PersonalizeJobStage:
        return self._stage(
            "BatchInference",
            resource="BatchInferenceJob",
            result_key="batch",
            label="Batch inference",
            create_parameters=batch_inference_parameters(
                self._config, self._data_key, self._role, solution_version_path
            ),
            create_resources=[self._batch_jobs, self._solutions, self._solution_versions],
            describe_resources=[self._batch_jobs],
            create_statements=[self._pass_role],
        )


def batch_inference_parameters(
    config: PipelineConfig, data_key: kms.IKey, personalize_role: iam.IRole, solution_version_path: str = "$.train.Arn"
) -> dict[str, Any]:
    """CreateBatchInferenceJob's parameters: the run's input and output folders, both encrypted with the data
    key, and the optional filter and exploration settings of the config."""
    parameters: dict[str, Any] = {
        "JobName": JsonPath.string_at("$.run.batchInferenceJobName"),
        "SolutionVersionArn": JsonPath.string_at(solution_version_path),
        "NumResults": config.num_results,
        "JobInput": {
            "S3DataSource": {"Path": JsonPath.string_at("$.run.batchInputUri"), "KmsKeyArn": data_key.key_arn}
        },
        "JobOutput": {
            "S3DataDestination": {"Path": JsonPath.string_at("$.run.batchOutputUri"), "KmsKeyArn": data_key.key_arn}
        },
        "RoleArn": personalize_role.role_arn,
    }
    exploration: dict[str, str] = {}
    if config.exploration_weight is not None:
        exploration["explorationWeight"] = format(config.exploration_weight, "g")
    if config.exploration_item_age_cut_off_days is not None:
        exploration["explorationItemAgeCutOff"] = str(config.exploration_item_age_cut_off_days)
    if config.filter_arn:
        parameters["FilterArn"] = config.filter_arn
    if exploration:
        parameters["BatchInferenceJobConfig"] = {"ItemExplorationConfig": exploration}
    return parameters
