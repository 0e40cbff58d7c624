"""The model quality gate, the run's accounting and its completion event, wired into the state machine.

Three functions of `lambda_src/model_gate` (`evaluate`, `accept`, `account`), each with a role that can make its
own calls and nothing else, and the states that call them:

- `gate_stage(scope, spec)`: a solution's stage after its training. `evaluate` judges the ACTIVE solution version
  against the solution's last accepted one and writes `$.gate` (its `solutionVersionArn` is the version the batch
  jobs use: the candidate, or, in `use_last_accepted` mode, the last accepted version). A rejection that must stop
  the solution (`ModelQualityGateFailed`) ends in the named Fail state `<name>: model quality gate rejected the
  model`, before any of its batch jobs, with the function's message (both figures and the rule) as its cause; the
  solution's wrapper turns it into the solution's FAILED record.
- `account_task(scope)`: before the manifest, `$.accounting` (Glue DPU-seconds from GetJobRun, every solution's
  training hours, the cost estimate from the configured unit prices).
- `accept_map(scope)`: after the manifest, each solution's version becomes its last accepted one (only a solution
  whose output SUCCEEDED, and never a fallback: the function decides both).
- `completion_event(scope)`: EventBridge PutEvents on the account's default bus (`EVENT_SOURCE`,
  `EVENT_DETAIL_TYPE`), so downstream jobs subscribe instead of polling for `_SUCCESS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_contracts import run_layout
from stacks.config import PipelineConfig, SolutionSpec
from stacks.functions import PipelineFunction
from stacks.nag import acknowledge_wildcard
from stacks.orchestration.function_errors import readable_function_error
from stacks.orchestration.stage import Stage, fail_state
from stacks.personalize import solution_name_pattern

JsonPath = sfn.JsonPath
GATE_FAILED_ERROR = "ModelQualityGateFailed"
GATE_ERROR = "ModelQualityGateError"
ACCEPT_FAILED_ERROR = "AcceptanceNotRecorded"
EVENT_FAILED_ERROR = "CompletionEventNotSent"
GATE_REJECTED_STATE = "model quality gate rejected the model"  # "<name>: " + this


def gate_rejected_state(solution: str) -> str:
    """The Fail state a solution's rejected model ends its branch in, e.g. "users: model quality gate rejected the
    model"."""
    return f"{solution}: {GATE_REJECTED_STATE}"
# The completion event (README, "Completion event"): downstream rules match on these two.
EVENT_SOURCE = "personalize-batch-pipeline"
EVENT_DETAIL_TYPE = "Batch recommendations ready"
# Lambda's own transient failures are retried by CDK's LambdaInvoke default; these are the AWS answers worth
# another try for the calls the functions make (DynamoDB throttling, a transaction conflict).
TRANSIENT_ERRORS = ["ThrottlingException", "ProvisionedThroughputExceededException", "TransactionConflictException"]


class ModelGate(Construct):
    """The gate's functions and their least-privilege roles; the stage and tasks that call them.

    Attributes: `evaluate`, `accept`, `account` (PipelineFunction), `functions` (their lambda functions).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        table: dynamodb.ITable,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        glue_job: glue.IJob,
        layers: list[lambda_.ILayerVersion],
    ) -> None:
        super().__init__(scope, construct_id)
        self._config, self._glue_job = config, glue_job
        stack = Stack.of(self)
        environment = {
            "ACCEPTED_VERSIONS_TABLE": table.table_name,
            "POWERTOOLS_SERVICE_NAME": config.resource_name("model-gate"),
        }

        def function(construct_id: str, handler: str, description: str) -> PipelineFunction:
            return PipelineFunction(
                self,
                construct_id,
                handler=f"model_gate.handler.{handler}",
                description=description,
                logs_key=logs_key,
                memory_size=256,
                timeout=Duration.seconds(30),
                environment=environment,
                layers=layers,
            )

        self.evaluate = function("Evaluate", "evaluate", "Model quality gate: judges a trained solution version")
        self.accept = function("Accept", "accept", "Model quality gate: records the accepted solution version")
        self.account = function("Account", "account", "Run accounting: Glue DPU-seconds and the cost estimate")
        self.functions = [self.evaluate.function, self.accept.function, self.account.function]

        # The versions of every configured solution (each named <prefix>-<env>-<name>-<settings hash>).
        solution_versions = [
            stack.format_arn(
                service="personalize",
                resource="solution",
                resource_name=f"{solution_name_pattern(config, spec.name)}/*",
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            for spec in config.solutions
        ]
        metrics_reads = ["personalize:DescribeSolutionVersion", "personalize:GetSolutionMetrics"]
        self.evaluate.role.add_to_principal_policy(
            iam.PolicyStatement(actions=metrics_reads, resources=solution_versions)
        )
        for versions in solution_versions:
            acknowledge_wildcard(
                self.evaluate.role,
                versions,
                "Solution versions are created per run under this deployment's solutions (named <prefix>-<env>-"
                "<solution>-<settings hash>); the gate reads the metrics of the run's version.",
            )
        # DynamoDB: the head item is read consistently (GetItem); acceptance is one TransactWriteItems of two Puts,
        # authorized as PutItem on the table, and GetItem when a newer acceptance wins.
        self._allow(self.evaluate, ["dynamodb:GetItem"], table.table_arn)
        self._allow(self.accept, ["dynamodb:GetItem", "dynamodb:PutItem"], table.table_arn)
        # The table is encrypted with the data key: reads decrypt, writes encrypt as well.
        data_key.grant(self.evaluate.role, "kms:Decrypt", "kms:DescribeKey")
        data_key.grant(self.accept.role, "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
        self._allow(
            self.account,
            ["glue:GetJobRun"],
            stack.format_arn(service="glue", resource="job", resource_name=glue_job.job_name),
        )

    @staticmethod
    def _allow(part: PipelineFunction, actions: list[str], resource: str) -> None:
        part.role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[resource]))

    @staticmethod
    def summary_fields() -> dict[str, Any]:
        """What the execution's output says about the solutions and the run's cost (read by `pipeline_cli`)."""
        return {
            # name, status and gate decision of every solution, in config order (write_manifest's list).
            "solutions": JsonPath.list_at("$.manifest.solutions"),
            "trainingHours": JsonPath.string_at("$.accounting.trainingHours"),
            "glueDpuSeconds": JsonPath.string_at("$.accounting.glue.dpuSeconds"),
            "estimatedCost": JsonPath.string_at("$.accounting.cost"),
            "manifestUri": JsonPath.string_at("$.manifest.manifest"),
            "acceptance": JsonPath.list_at("$.acceptance"),
        }

    def gate_stage(self, scope: Construct, spec: SolutionSpec) -> QualityGateStage:
        return QualityGateStage(
            scope,
            f"QualityGate-{spec.name}",
            evaluate=self.evaluate.function,
            solution=spec.name,
            rule=self._config.quality_gate_rule_of(spec),
        )

    def account_task(self, scope: Construct) -> tasks.LambdaInvoke:
        """Writes `$.accounting`; reads `$.glue.JobRunId` and every solution's training hours and counts."""
        return tasks.LambdaInvoke(
            scope,
            "Post-process: account for the run",
            lambda_function=self.account.function,
            payload=sfn.TaskInput.from_object(
                {
                    "glueJobRun": {"JobName": self._glue_job.job_name, "Id": JsonPath.string_at("$.glue.JobRunId")},
                    # The solution records whole: the function adds up each one's training hours and answered lines
                    # (a failed solution has neither, and a JSONPath over fields no record has would be an error).
                    "solutions": JsonPath.list_at("$.solutions"),
                    "prices": self._config.price_overrides,
                }
            ),
            payload_response_only=True,
            result_path="$.accounting",
        )

    def accept_map(self, scope: Construct) -> sfn.Map:
        """"Post-process: accept each model version": one accept per solution of `$.manifest.solutions` ->
        `$.acceptance` (a list). A solution whose output did not succeed, or without a gate decision, is not
        accepted (the function answers so, without an error)."""
        accept = tasks.LambdaInvoke(
            scope,
            "Post-process: accept the model version",
            lambda_function=self.accept.function,
            payload=sfn.TaskInput.from_object(
                {
                    "gate": JsonPath.object_at("$.solution.gate"),
                    "runId": JsonPath.string_at("$.runId"),
                    "runStartedAt": JsonPath.string_at("$.runStartedAt"),
                    "output": {
                        "status": JsonPath.string_at("$.solution.status"),
                        "manifest": JsonPath.string_at("$.manifest"),
                    },
                }
            ),
            payload_response_only=True,
        )
        accept.add_retry(errors=TRANSIENT_ERRORS, interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
        each = sfn.Map(
            scope,
            "Post-process: accept each model version",
            items_path="$.manifest.solutions",
            item_selector={
                "solution": JsonPath.object_at("$$.Map.Item.Value"),
                "runId": JsonPath.string_at("$.run.id"),
                "runStartedAt": JsonPath.execution_start_time,
                "manifest": JsonPath.string_at("$.manifest.manifest"),
            },
            result_path="$.acceptance",
        )
        each.item_processor(accept)
        # The output is published (manifest, and _SUCCESS when every solution succeeded) by now; a version that
        # could not be recorded still fails the run, loudly, so that the next run is not judged against a stale
        # version unnoticed. A redrive retries here.
        not_recorded = _failed_after_publishing(
            scope, "acceptance not recorded", ACCEPT_FAILED_ERROR, "a model version could not be recorded as accepted",
            "$.acceptError"
        )
        each.add_catch(
            readable_function_error(
                scope, "Post-process: acceptance failure", error_path="$.acceptError", then=not_recorded
            ),
            errors=["States.ALL"],
            result_path="$.acceptError",
        )
        return each

    def completion_event(self, scope: Construct, curated_bucket: s3.IBucket) -> tasks.EventBridgePutEvents:
        """PutEvents to the default bus: {runId, manifestUri, outputsPrefix, solutions (name, status, gate)}."""
        put = tasks.EventBridgePutEvents(
            scope,
            "Post-process: publish completion event",
            entries=[
                tasks.EventBridgePutEventsEntry(
                    source=EVENT_SOURCE,
                    detail_type=EVENT_DETAIL_TYPE,
                    detail=sfn.TaskInput.from_object(
                        {
                            "runId": JsonPath.string_at("$.run.id"),
                            "manifestUri": JsonPath.string_at("$.manifest.manifest"),
                            # The run's curated prefix: each solution's outputs are in its kind's folder there.
                            "outputsPrefix": JsonPath.format(
                                run_layout.run_uri(curated_bucket.bucket_name, "{}", ""),
                                JsonPath.string_at("$.run.id"),
                            ),
                            "solutions": JsonPath.list_at("$.manifest.solutions"),
                        }
                    ),
                )
            ],
            result_selector={"failedEntryCount": JsonPath.number_at("$.FailedEntryCount")},
            result_path="$.completionEvent",
        )
        # CDK grants events:PutEvents on the default bus; the condition narrows it to this pipeline's source
        # (events:source is a condition key of PutEvents, EventBridge user guide "Using IAM policy conditions").
        for statement in put._task_policies or []:
            statement.add_condition("StringEquals", {"events:source": EVENT_SOURCE})
        put.add_retry(
            errors=["EventBridge.InternalException", "EventBridge.ThrottlingException", "EventBridge.FailedEntry"],
            interval=Duration.seconds(5),
            max_attempts=3,
            backoff_rate=2,
        )
        not_sent = _failed_after_publishing(
            scope, "completion event not sent", EVENT_FAILED_ERROR, "the completion event was not sent", "$.eventError"
        )
        put.add_catch(not_sent, errors=["States.ALL"], result_path="$.eventError")
        return put


class QualityGateStage(Stage):
    """evaluate -> `$.gate`; ModelQualityGateFailed -> the named Fail (before the solution's batch jobs); any other
    error of the function -> a Fail naming the gate. State names carry the solution (`solution`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        evaluate: lambda_.IFunction,
        solution: str,
        rule: Mapping[str, Any],
    ) -> None:
        """`rule`: the solution's gate rule as the function reads it (`PipelineConfig.quality_gate_rule_of`)."""
        super().__init__(scope, construct_id)
        task = tasks.LambdaInvoke(
            self,
            f"{solution} quality gate: evaluate the model",
            lambda_function=evaluate,
            payload=sfn.TaskInput.from_object(
                {"solutionVersionArn": JsonPath.string_at("$.train.Arn"), "rule": dict(rule)}
            ),
            payload_response_only=True,
            result_path="$.gate",
        )
        task.add_retry(errors=TRANSIENT_ERRORS, interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
        # The Lambda error's cause is the JSON text {"errorMessage": ..., "errorType": ..., "stackTrace": ...}. A
        # rejection's message is the gate's reason (both figures and the rule): a Pass takes it out, so the run's
        # cause and the manifest say the reason without the stack trace. Any other error is read down to its type
        # and message when it is the function's (`readable_function_error`), kept as it is otherwise.
        def failed(state: str, error: str, verb: str, reason_path: str) -> sfn.Fail:
            return fail_state(
                self,
                state,
                error=error,
                cause=f"Run {{}}: the model quality gate {verb} solution version {{}} of solution {solution}: {{}}",
                values=[
                    JsonPath.string_at("$.run.id"),
                    JsonPath.string_at("$.train.Arn"),
                    JsonPath.string_at(reason_path),
                ],
            )

        read_reason = sfn.Pass(
            self,
            f"{solution} quality gate: read the reason",
            parameters={"reason": JsonPath.string_to_json(JsonPath.string_at("$.gateError.Cause"))},
            result_path="$.gateReason",
        )
        read_reason.next(
            failed(gate_rejected_state(solution), GATE_FAILED_ERROR, "rejected", "$.gateReason.reason.errorMessage")
        )
        task.add_catch(read_reason, errors=[GATE_FAILED_ERROR], result_path="$.gateError")
        undecided = failed(
            f"{solution}: model quality gate could not decide", GATE_ERROR, "could not judge", "$.gateError.Cause"
        )
        task.add_catch(
            readable_function_error(
                self, f"{solution} quality gate: failure", error_path="$.gateError", then=undecided
            ),
            errors=["States.ALL"],
            result_path="$.gateError",
        )
        self._set_flow(task, task)


def _failed_after_publishing(scope: Construct, what: str, error: str, problem: str, error_path: str) -> sfn.Fail:
    """The Fail state of a step after the output was published (manifest and _SUCCESS written): its cause says so,
    with the manifest, so that nobody deletes good output over a bookkeeping failure."""
    return fail_state(
        scope,
        f"Post-process: {what}",
        error=error,
        cause=f"Run {{}} published its output ({{}}) but {problem}: {{}}",
        values=[
            JsonPath.string_at("$.run.id"),
            JsonPath.string_at("$.manifest.manifest"),
            JsonPath.string_at(f"{error_path}.Cause"),
        ],
    )
