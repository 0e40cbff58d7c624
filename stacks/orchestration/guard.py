"""Stage 1, the overlap guard: the execution that holds the run lease proceeds, every other one ends as skipped.

The lease (`stacks/run_lease.py`, `lambda_src/run_lease/`) is written with a conditional put, so two executions
started in the same second cannot both proceed; ListExecutions, which this stage used before, is eventually
consistent and could not promise that.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.orchestration.function_errors import readable_function_error
from stacks.orchestration.stage import NEXT_STAGE, ExitChoice, Stage, fail_state
from stacks.run_lease import RunLease

JsonPath = sfn.JsonPath
GUARD_FAILED_ERROR = "OverlapGuardFailed"


class OverlapGuard(Stage):
    """Takes the run lease (`$.guard`: the acquire function's answer); proceeds when it was taken (or this execution
    already held it), otherwise ends the execution as a success with status SKIPPED and the reason, which names the
    running execution that holds the lease. When the lease cannot be taken (the function fails after its retries),
    the run fails at once (OverlapGuardFailed, the function's error type and message): nothing says it is alone."""

    def __init__(self, scope: Construct, construct_id: str, *, run_lease: RunLease) -> None:
        super().__init__(scope, construct_id)
        acquire = run_lease.acquire_task(self, "Overlap guard: take the run lease")
        failed = fail_state(
            self,
            "Overlap guard failed",
            error=GUARD_FAILED_ERROR,
            cause="Could not take the run lease for execution {}: {}",
            values=[JsonPath.execution_name, JsonPath.string_at("$.guardError.Cause")],
        )
        acquire.add_catch(
            readable_function_error(self, "Overlap guard failure", error_path="$.guardError", then=failed),
            errors=["States.ALL"],
            result_path="$.guardError",
        )
        self._set_flow(
            acquire,
            ExitChoice(
                self,
                "Overlap guard: lease taken?",
                after=acquire,
                when=[(sfn.Condition.boolean_equals("$.guard.acquired", True), NEXT_STAGE)],
                otherwise=self._skipped(),
            ),
        )

    def _skipped(self) -> sfn.IChainable:
        return sfn.Pass(
            self,
            "Skip: another run is active",
            parameters={"status": "SKIPPED", "reason": JsonPath.string_at("$.guard.reason")},
        ).next(sfn.Succeed(self, "Skipped"))
