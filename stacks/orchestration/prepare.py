"""Stage 2, prepare run: the run id, the Personalize job names and the run's S3 locations, computed once."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_contracts import run_layout
from stacks.orchestration.stage import Stage, fail_state

JsonPath = sfn.JsonPath
SOLUTION_UNAVAILABLE_ERROR = "SolutionArnUnavailable"


class PrepareRun(Stage):
    """Invokes the naming function (`lambda_src/run_names`) with the execution's name, ARN and start time,
    then reads the current solution's ARN from its SSM parameter.

    Writes `$.run`: `id`, one name per key of `job_name_prefixes`, and the run's `interactionsUri`,
    `batchInputUri` (transformed bucket) and `batchOutputUri` (curated bucket); and `$.solution.Arn`.
    A parameter that cannot be read fails the run (SolutionArnUnavailable) before any work is done.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        run_names_function: lambda_.IFunction,
        job_name_prefixes: Mapping[str, str],
        transformed_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        solution_arn_parameter_name: str,
    ) -> None:
        """`job_name_prefixes`: state-data key -> Personalize job-name prefix (e.g. importJobName ->
        pbp-dev-import); the function appends the run's suffix to each. `solution_arn_parameter_name`: the SSM
        parameter the data stack keeps the solution ARN in (read at run time: the solution is replaced when its
        settings change, and a value fixed at deploy time would go stale)."""
        super().__init__(scope, construct_id)
        def uri(bucket: s3.IBucket, entry: str) -> str:
            return JsonPath.format(
                run_layout.run_uri(bucket.bucket_name, "{}", entry), JsonPath.string_at("$.Payload.runId")
            )

        prepare = tasks.LambdaInvoke(
            self,
            "Prepare run",
            lambda_function=run_names_function,
            payload=sfn.TaskInput.from_object(
                {
                    "executionName": JsonPath.execution_name,
                    "executionArn": JsonPath.execution_id,
                    "startTime": JsonPath.execution_start_time,
                    "namePrefixes": dict(job_name_prefixes),
                }
            ),
            result_selector={
                "id": JsonPath.string_at("$.Payload.runId"),
                **{key: JsonPath.string_at(f"$.Payload.{key}") for key in job_name_prefixes},
                "interactionsUri": uri(transformed_bucket, run_layout.INTERACTIONS),
                "batchInputUri": uri(transformed_bucket, run_layout.BATCH_INPUT),
                "batchOutputUri": uri(curated_bucket, run_layout.BATCH_OUTPUT),
            },
            result_path="$.run",
        )
        read_solution = self._read_solution_arn(solution_arn_parameter_name)
        prepare.next(read_solution)
        self._set_flow(prepare, read_solution)

    def _read_solution_arn(self, parameter_name: str) -> tasks.CallAwsService:
        parameter_arn = Stack.of(self).format_arn(
            service="ssm",
            resource="parameter",
            resource_name=parameter_name.lstrip("/"),
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        read = tasks.CallAwsService(
            self,
            "Prepare run: read solution ARN",
            service="ssm",
            action="getParameter",
            iam_action="ssm:GetParameter",
            iam_resources=[parameter_arn],
            parameters={"Name": parameter_name},
            result_selector={"Arn": JsonPath.string_at("$.Parameter.Value")},
            result_path="$.solution",
        )
        read.add_retry(errors=["States.TaskFailed"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
        unavailable = fail_state(
            self,
            "Prepare run: solution ARN unavailable",
            error=SOLUTION_UNAVAILABLE_ERROR,
            cause=f"Cannot read the Personalize solution ARN from SSM parameter {parameter_name} ({{}}). Deploy the "
            "data stack (npx cdk deploy --all): it creates the parameter and updates it whenever the solution is "
            "replaced.",
            values=[JsonPath.string_at("$.solutionError.Cause")],
        )
        read.add_catch(unavailable, errors=["States.ALL"], result_path="$.solutionError")
        return read
