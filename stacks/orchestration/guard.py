"""Stage 1, the overlap guard: the execution that holds the run lease proceeds, every other one ends as skipped.

The lease (`stacks/run_lease.py`, `lambda_src/run_lease/`) is written with a conditional put, so two executions
started in the same second cannot both proceed; ListExecutions, which this stage used before, is eventually
consistent and could not promise that.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.orchestration.stage import NEXT_STAGE, ExitChoice, Stage
from stacks.run_lease import RunLease

JsonPath = sfn.JsonPath


class OverlapGuard(Stage):
    """Takes the run lease (`$.guard`: the acquire function's answer); proceeds when it was taken (or this execution
    already held it), otherwise ends the execution as a success with status SKIPPED and the reason, which names the
    running execution that holds the lease."""

    def __init__(self, scope: Construct, construct_id: str, *, run_lease: RunLease) -> None:
        super().__init__(scope, construct_id)
        acquire = run_lease.acquire_task(self, "Overlap guard: take the run lease")
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
