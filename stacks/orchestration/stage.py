"""What every stage of the run shares: a Step Functions fragment that is chained forward.

A stage is built without knowing what follows it; `Chain.next` later connects its end states to the next
stage. Task and Pass states can simply be left open. A Choice whose branch leads on to the next stage cannot
(CDK wants every branch's target when the branch is added, and branch order is part of the ASL), so such a
Choice is an `ExitChoice`: its branches are written in order with `NEXT_STAGE` where the next stage goes, and
the Choice is built when the stage is chained.
"""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


class _NextStage:
    def __repr__(self) -> str:
        return "NEXT_STAGE"


NEXT_STAGE = _NextStage()
"""A Choice branch target meaning "whatever stage is chained after this one"."""

Target = sfn.IChainable | _NextStage


def fail_state(scope: Construct, name: str, *, error: str, cause: str, values: Sequence[str]) -> sfn.Fail:
    """A Fail state named `name` whose cause is `cause` with each {} replaced by the next of `values`
    (JSONPath expressions, e.g. JsonPath.string_at("$.run.id"))."""
    return sfn.Fail(scope, name, error=error, cause_path=sfn.JsonPath.format(cause, *values))


class Stage(sfn.StateMachineFragment):
    """A fragment with one start state and the states (or `ExitChoice`s) that lead on to the next stage."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self._start: sfn.State | None = None
        self._ends: list[sfn.INextable] = []

    def _set_flow(self, start: sfn.State, *ends: sfn.INextable) -> None:
        self._start, self._ends = start, list(ends)

    @property
    def start_state(self) -> sfn.State:
        assert self._start is not None, f"{self.node.path} set no start state"
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        return self._ends


@jsii.implements(sfn.INextable)
class ExitChoice:
    """A Choice state, after `after`, some of whose branches go to the next stage (`NEXT_STAGE`).

    `when`: (condition, target) pairs in evaluation order; `otherwise`: the default target. The Choice is
    created, and `after` connected to it, when the stage is chained (`next`)."""

    def __init__(
        self,
        scope: Construct,
        name: str,
        *,
        after: sfn.INextable,
        when: Sequence[tuple[sfn.Condition, Target]],
        otherwise: Target,
    ) -> None:
        self._scope, self._name, self._after = scope, name, after
        self._when, self._otherwise = list(when), otherwise

    def next(self, state: sfn.IChainable) -> sfn.Chain:
        def target(choice: Target) -> sfn.IChainable:
            return state if isinstance(choice, _NextStage) else choice

        choice = sfn.Choice(self._scope, self._name)
        for condition, branch in self._when:
            choice.when(condition, target(branch))
        choice.otherwise(target(self._otherwise))
        self._after.next(choice)
        return sfn.Chain.start(state)
