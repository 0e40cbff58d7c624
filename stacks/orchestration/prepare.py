"""Stage 2, prepare run: the run id, the Personalize job names and the run's S3 locations, computed once."""

from __future__ import annotations

from typing import Mapping

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.orchestration.stage import Stage

JsonPath = sfn.JsonPath


class PrepareRun(Stage):
    """Invokes the naming function (`lambda_src/run_names`) with the execution's name, ARN and start time.

    Writes `$.run`: `id`, one name per key of `job_name_prefixes`, and the run's `interactionsUri`,
    `batchInputUri` (transformed bucket) and `batchOutputUri` (curated bucket).
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
    ) -> None:
        """`job_name_prefixes`: state-data key -> Personalize job-name prefix (e.g. importJobName ->
        pbp-dev-import); the function appends the run's suffix to each."""
        super().__init__(scope, construct_id)
        run_uri = "s3://{bucket}/runs/{{}}/{folder}/"

        def uri(bucket: s3.IBucket, folder: str) -> str:
            return JsonPath.format(
                run_uri.format(bucket=bucket.bucket_name, folder=folder), JsonPath.string_at("$.Payload.runId")
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
                "interactionsUri": uri(transformed_bucket, "interactions"),
                "batchInputUri": uri(transformed_bucket, "batch-input"),
                "batchOutputUri": uri(curated_bucket, "batch-output"),
            },
            result_path="$.run",
        )
        self._set_flow(prepare, prepare)
