"""Stage 2, prepare run: the run id, the Personalize job names and the run's S3 locations, computed once; and
every configured solution's ARN parameter checked, so a missing one fails the run before the ETL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_contracts import run_layout
from stacks.orchestration.function_errors import readable_function_error
from stacks.orchestration.stage import NEXT_STAGE, ExitChoice, Stage, fail_state

JsonPath = sfn.JsonPath
SOLUTION_UNAVAILABLE_ERROR = "SolutionArnUnavailable"
PREPARE_FAILED_ERROR = "PrepareRunFailed"
PARAMETERS_PER_CALL = 10  # SSM GetParameters: at most 10 names per request


def _result_path(index: int) -> str:
    """Where the check of the `index`th group of parameters writes (`$.solutionParameters`, then ...2, ...)."""
    return "$.solutionParameters" + (str(index + 1) if index else "")


class PrepareRun(Stage):
    """Invokes the naming function (`lambda_src/run_names`) with the execution's name, ARN and start time,
    then checks that every configured solution's ARN parameter exists.

    Writes `$.run`: `id`, one name per key of `job_name_prefixes`, and the run's `interactionsUri`,
    `batchInputUri` (transformed bucket) and `batchOutputUri` (curated bucket); and `$.solutionParameters`
    (`missing`: the parameters that do not exist). A missing parameter, or one that cannot be read, fails the
    run (SolutionArnUnavailable) before the Glue job runs; each solution reads its own ARN when it starts. A
    failure of the naming function fails the run (PrepareRunFailed) with its type and message.
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
        solution_arn_parameter_names: Sequence[str],
    ) -> None:
        """`job_name_prefixes`: state-data key -> Personalize job-name prefix (e.g. importJobName ->
        pbp-dev-import); the function appends the run's suffix to each. `solution_arn_parameter_names`: the SSM
        parameters the data stack keeps the solutions' ARNs in (read at run time: a solution is replaced when its
        settings change, and a value fixed at deploy time would go stale)."""
        super().__init__(scope, construct_id)
        prepare = self._prepare_task(
            run_names_function,
            job_name_prefixes=job_name_prefixes,
            transformed_bucket=transformed_bucket,
            curated_bucket=curated_bucket,
        )
        names = list(solution_arn_parameter_names)
        checks, unavailable = self._parameter_checks(names)
        chain: sfn.TaskStateBase = prepare
        for check in checks:
            chain.next(check)
            chain = check
        self._set_flow(prepare, self._every_parameter_exists(checks, unavailable))

    def _prepare_task(
        self,
        run_names_function: lambda_.IFunction,
        *,
        job_name_prefixes: Mapping[str, str],
        transformed_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
    ) -> tasks.LambdaInvoke:
        """The naming function's call, writing `$.run`; its failure fails the run (PrepareRunFailed)."""

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
        not_prepared = fail_state(
            self,
            "Prepare run failed",
            error=PREPARE_FAILED_ERROR,
            cause="Could not prepare run names and locations for execution {}: {}",
            values=[JsonPath.execution_name, JsonPath.string_at("$.prepareError.Cause")],
        )
        prepare.add_catch(
            readable_function_error(self, "Prepare run failure", error_path="$.prepareError", then=not_prepared),
            errors=["States.ALL"],
            result_path="$.prepareError",
        )
        return prepare

    def _parameter_checks(self, names: list[str]) -> tuple[list[tasks.CallAwsService], sfn.Fail]:
        """The GetParameters calls (at most 10 names each: one call per 10 solutions, one for most configurations),
        and the end a call that fails leads to (SolutionArnUnavailable)."""
        chunks = [names[start : start + PARAMETERS_PER_CALL] for start in range(0, len(names), PARAMETERS_PER_CALL)]
        checks = [self._check_parameters(chunk, index) for index, chunk in enumerate(chunks)]
        unavailable = fail_state(
            self,
            "Prepare run: solution ARN unavailable",
            error=SOLUTION_UNAVAILABLE_ERROR,
            cause=f"Cannot read the Personalize solution ARNs from SSM parameters {', '.join(names)} ({{}}). Deploy "
            "the data stack (npx cdk deploy --all): it creates one parameter per configured solution and updates it "
            "whenever the solution is replaced.",
            values=[JsonPath.string_at("$.solutionError.Cause")],
        )
        for check in checks:
            check.add_catch(unavailable, errors=["States.ALL"], result_path="$.solutionError")
        return checks, unavailable

    def _every_parameter_exists(self, checks: list[tasks.CallAwsService], unavailable: sfn.Fail) -> ExitChoice:
        """After the last check: on to the next stage, or, when a check found a missing parameter, to
        `unavailable` with the missing names."""
        missing_lists = [
            JsonPath.json_to_string(JsonPath.list_at(f"{_result_path(i)}.missing")) for i in range(len(checks))
        ]
        missing = sfn.Pass(
            self,
            "Prepare run: solution parameters missing",
            parameters={
                "Error": SOLUTION_UNAVAILABLE_ERROR,
                "Cause": JsonPath.format("missing parameters: " + " ".join(["{}"] * len(checks)), *missing_lists),
            },
            result_path="$.solutionError",
        ).next(unavailable)
        any_missing = [
            sfn.Condition.number_greater_than(f"{_result_path(i)}.missingCount", 0) for i in range(len(checks))
        ]
        return ExitChoice(
            self,
            "Prepare run: every solution parameter exists?",
            after=checks[-1],
            when=[(any_missing[0] if len(any_missing) == 1 else sfn.Condition.or_(*any_missing), missing)],
            otherwise=NEXT_STAGE,
        )

    def _check_parameters(self, names: list[str], index: int) -> tasks.CallAwsService:
        stack = Stack.of(self)
        check = tasks.CallAwsService(
            self,
            "Prepare run: check solution parameters" + (f" ({index + 1})" if index else ""),
            service="ssm",
            action="getParameters",
            iam_action="ssm:GetParameters",
            iam_resources=[
                stack.format_arn(
                    service="ssm",
                    resource="parameter",
                    resource_name=name.lstrip("/"),
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
                for name in names
            ],
            parameters={"Names": names},
            # GetParameters answers names that do not exist in InvalidParameters instead of failing.
            result_selector={
                "missing": JsonPath.list_at("$.InvalidParameters"),
                "missingCount": JsonPath.array_length(JsonPath.list_at("$.InvalidParameters")),
            },
            result_path=_result_path(index),
        )
        check.add_retry(errors=["States.TaskFailed"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
        return check
