"""Stage 3b, choose modes: each import's and each solution's training mode for this run, from Personalize's own state.

    Choose modes (Lambda run_modes.handler.choose_modes) -> $.modes
        ImportNotPossible -> Choose modes: read the reason -> Fail "ImportNotPossible"
        any other error   -> Choose modes failure: ... (type and message only) -> Fail "ModesNotChosen"

The configured `import_mode` / `training_mode` are refused by Personalize in states every deployment passes
through (a dataset's first import must be FULL; UPDATE needs an ACTIVE version trained FULL), so one function
call after the Transform stage reads that state and writes `$.modes` (shape: `pipeline_contracts/run_modes.py`);
the import stages' `ImportMode` and each solution's `TrainingMode` read it. One call keeps the history small.

IAM (the function's own role): ListDatasetImportJobs and ListSolutionVersions have no resource type in the
Service Authorization Reference (they accept only "*"), so they are granted on "*"; DescribeSolutionVersion on
this deployment's solution versions; SSM GetParameters on the solutions' ARN parameters; S3 ListBucket on the run
folders it sizes and GetObject on the runs' `_summary.json` (SSE-KMS: kms:Decrypt with the data key). With a
cadence (`retrain`), DynamoDB Query on the accepted-versions table (the table's own ARN: Query has no item-level
resource), encrypted with the data key as well.

Cadence: a solution with `retrain` gets FULL, UPDATE or REUSE (lambda_src/run_modes/cadence.py); the function then
also receives the run's start (`$$.Execution.StartTime`, the clock the periods are measured on, as the accepted
versions' `runStartedAt` is) and the execution input (`retrain_now`: `pipeline_cli start --retrain-now`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_contracts import run_layout
from pipeline_contracts.run_modes import IMPORTS, INTERACTIONS, TRAINING, dataset_folder
from stacks.config import PipelineConfig
from stacks.functions import PipelineFunction, powertools_layer
from stacks.nag import acknowledge_wildcard
from stacks.orchestration.personalize_job import personalize_arn
from stacks.orchestration.function_errors import readable_function_error
from stacks.orchestration.stage import Stage, fail_state
from stacks.personalize import solution_arn_parameter_name, solution_name_pattern

JsonPath = sfn.JsonPath
IMPORT_NOT_POSSIBLE_ERROR = "ImportNotPossible"
MODES_ERROR = "ModesNotChosen"
HANDLER = "run_modes.handler.choose_modes"
ACCEPTED_VERSIONS_ENV = "ACCEPTED_VERSIONS_TABLE"  # lambda_src/run_modes/handler.py TABLE_ENV


def import_mode_path(dataset: str) -> str:
    """Where the import stage of `dataset` (interactions, items, users) reads its ImportMode."""
    return f"$.modes.{IMPORTS}.{dataset}.mode"


def interactions_location(config: PipelineConfig, bucket: s3.IBucket) -> str:
    """Where the interactions import reads: the run's interactions/ (`$.run.interactionsUri`), or with etl_incremental
    the folder the modes function chose (`folder`: interactions/ for FULL, interactions-delta/ for INCREMENTAL)."""
    if not config.etl_incremental:
        return JsonPath.string_at("$.run.interactionsUri")
    return JsonPath.format(
        run_layout.run_uri(bucket.bucket_name, "{}", "{}"),
        JsonPath.string_at("$.run.id"),
        JsonPath.string_at(f"$.modes.{IMPORTS}.{INTERACTIONS}.folder"),
    )


def training_mode_path(solution: str) -> str:
    """Where a solution's training stage reads its TrainingMode."""
    return f"$.modes.{TRAINING}.{solution}.mode"


class ChooseModes(Stage):
    """Invokes the modes function once with the run's id and what the config asks for; writes `$.modes`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        transformed_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        dataset_arns: Mapping[str, str],
        accepted_versions: dynamodb.ITable | None = None,
    ) -> None:
        """`dataset_arns`: dataset -> ARN, interactions first, then each configured Items / Users dataset.
        `accepted_versions`: the accepted-versions table, which a solution's cadence reads (required with one)."""
        super().__init__(scope, construct_id)
        cadenced = {spec.name: spec.retrain.as_dict() for spec in config.solutions if spec.retrain.on}
        if cadenced and accepted_versions is None:
            raise ValueError(
                f"solutions {', '.join(cadenced)} have a retrain cadence: ChooseModes needs the accepted-versions table"
            )
        self.function = self._function(
            config, transformed_bucket, data_key, logs_key, list(dataset_arns), accepted_versions if cadenced else None
        )
        task = tasks.LambdaInvoke(
            self,
            "Choose modes",
            lambda_function=self.function,
            payload=sfn.TaskInput.from_object(_payload(config, transformed_bucket, dataset_arns, cadenced)),
            payload_response_only=True,
            result_path="$.modes",
        )
        read_reason = sfn.Pass(
            self,
            "Choose modes: read the reason",
            parameters={"reason": JsonPath.string_to_json(JsonPath.string_at("$.modesError.Cause"))},
            result_path="$.modesReason",
        )
        read_reason.next(
            fail_state(
                self,
                "Choose modes: import not possible",
                error=IMPORT_NOT_POSSIBLE_ERROR,
                cause="Run {}: {}",
                values=[JsonPath.string_at("$.run.id"), JsonPath.string_at("$.modesReason.reason.errorMessage")],
            )
        )
        task.add_catch(read_reason, errors=[IMPORT_NOT_POSSIBLE_ERROR], result_path="$.modesError")
        failed = fail_state(
            self,
            "Choose modes failed",
            error=MODES_ERROR,
            cause="Run {}: the import and training modes could not be chosen: {}",
            values=[JsonPath.string_at("$.run.id"), JsonPath.string_at("$.modesError.Cause")],
        )
        task.add_catch(
            readable_function_error(self, "Choose modes failure", error_path="$.modesError", then=failed),
            errors=["States.ALL"],
            result_path="$.modesError",
        )
        self._set_flow(task, task)

    def _function(
        self,
        config: PipelineConfig,
        bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        datasets: list[str],
        acceptances: dynamodb.ITable | None,
    ) -> lambda_.IFunction:
        """The function, with a role that may read what it decides from and nothing else (see the module docstring)."""
        stack = Stack.of(self)
        part = PipelineFunction(
            self,
            "RunModes",
            handler=HANDLER,
            description="Chooses the run's import and training modes from Personalize's own state",
            logs_key=logs_key,
            timeout=Duration.minutes(1),
            environment={
                "POWERTOOLS_SERVICE_NAME": config.resource_name("run-modes"),
                **({ACCEPTED_VERSIONS_ENV: acceptances.table_name} if acceptances is not None else {}),
            },
            layers=[powertools_layer(self)],
        )
        role = part.role
        # No resource type exists for these two List actions: "*" is the only resource they accept.
        _allow(role, ["personalize:ListDatasetImportJobs", "personalize:ListSolutionVersions"], ["*"],
               "ListDatasetImportJobs and ListSolutionVersions support no resource-level permissions (Service "
               "Authorization Reference: no resource type); the function only reads them.")
        versions = [
            personalize_arn(stack, "solution", f"{solution_name_pattern(config, spec.name)}/*")
            for spec in config.solutions
        ]
        _allow(role, ["personalize:DescribeSolutionVersion"], versions,
               "Solution versions are created per run; the pattern is this deployment's solutions.")
        parameters = [
            stack.format_arn(service="ssm", resource="parameter", resource_name=name.lstrip("/"),
                             arn_format=ArnFormat.SLASH_RESOURCE_NAME)
            for name in (solution_arn_parameter_name(config, spec.name) for spec in config.solutions)
        ]
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ssm:GetParameters"], resources=parameters))
        folders = [dataset_folder(name) for name in datasets]
        if config.etl_incremental:  # the delta's size decides whether it fits an INCREMENTAL import
            folders.append(run_layout.INTERACTIONS_DELTA)
        prefixes = [run_layout.run_key("*", folder) + "*" for folder in folders]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": prefixes}},
            )
        )
        summaries = bucket.arn_for_objects(run_layout.run_key("*", run_layout.SUMMARY))
        _allow(role, ["s3:GetObject"], [summaries],
               "Run folders are named per execution (runs/<run>/); the pattern is the runs' _summary.json only.")
        if acceptances is not None:  # the history items of each solution (Query; the table is under the data key)
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=["dynamodb:Query"], resources=[acceptances.table_arn])
            )
        data_key.grant(role, "kms:Decrypt")
        return part.function


def _payload(
    config: PipelineConfig, bucket: s3.IBucket, dataset_arns: Mapping[str, str], cadenced: Mapping[str, Any]
) -> dict[str, Any]:
    """The modes function's input (lambda_src/run_modes/handler.py): the configured modes, each cadenced solution's
    `retrain`, and with a cadence the run's start and the execution input (`retrain_now`)."""
    clock = {"run_started_at": JsonPath.execution_start_time,
             "execution_input": JsonPath.object_at("$$.Execution.Input")}  # fmt: skip
    return {
        "run_id": JsonPath.string_at("$.run.id"),
        "bucket": bucket.bucket_name,
        "imports": {name: {"dataset_arn": arn, "configured": config.import_mode} for name, arn in dataset_arns.items()},
        "solutions": {
            spec.name: {
                "parameter": solution_arn_parameter_name(config, spec.name),
                "configured": spec.training_mode,
                **({"retrain": cadenced[spec.name]} if spec.name in cadenced else {}),
            }
            for spec in config.solutions
        },
        **({"incremental_etl": True} if config.etl_incremental else {}),
        **(clock if cadenced else {}),
    }


def _allow(role: iam.IRole, actions: list[str], resources: list[str], reason: str) -> None:
    role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
    for resource in resources:
        if "*" in resource:
            acknowledge_wildcard(role, resource, reason)
