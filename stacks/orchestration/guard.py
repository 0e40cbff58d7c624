"""Stage 1, the overlap guard: the oldest RUNNING execution proceeds, every newer one ends as skipped."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.orchestration.stage import NEXT_STAGE, ExitChoice, Stage

JsonPath = sfn.JsonPath


class OverlapGuard(Stage):
    """Lists this state machine's running executions; proceeds when this one is the oldest (or alone),
    otherwise ends the execution as a success with status SKIPPED and the reason. Writes `$.guard`."""

    def __init__(self, scope: Construct, construct_id: str, *, state_machine_arn: str) -> None:
        """`state_machine_arn`: this state machine's own ARN, the IAM resource of ListExecutions (the
        definition reads the ARN from the context object, so the name must be known before the machine)."""
        super().__init__(scope, construct_id)
        list_running = tasks.CallAwsService(
            self,
            "List running executions",
            service="sfn",
            action="listExecutions",
            iam_action="states:ListExecutions",
            iam_resources=[state_machine_arn],
            parameters={"StateMachineArn": JsonPath.state_machine_id, "StatusFilter": "RUNNING", "MaxResults": 1000},
            result_selector={
                "count": JsonPath.array_length(JsonPath.list_at("$.Executions")),
                "running": JsonPath.list_at("$.Executions[*].ExecutionArn"),
            },
            result_path="$.guard",
        )
        list_running.add_retry(
            errors=["States.TaskFailed"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2
        )
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
        )
        self._set_flow(
            list_running,
            ExitChoice(
                self,
                "Other runs active?",
                after=list_running,
                when=[(sfn.Condition.number_greater_than("$.guard.count", 1), find_oldest)],
                otherwise=NEXT_STAGE,
            ),
            ExitChoice(
                self,
                "Oldest running is this one?",
                after=find_oldest,
                when=[(sfn.Condition.string_equals_json_path("$.guard.oldest", "$.guard.self"), NEXT_STAGE)],
                otherwise=self._skipped(),
            ),
        )

    def _skipped(self) -> sfn.IChainable:
        return sfn.Pass(
            self,
            "Skip: another run is active",
            parameters={
                "status": "SKIPPED",
                "reason": JsonPath.format(
                    "Another execution of this state machine is still running: {}", JsonPath.string_at("$.guard.oldest")
                ),
            },
        ).next(sfn.Succeed(self, "Skipped"))
