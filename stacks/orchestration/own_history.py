"""A long wait in an execution history of its own: a one-item Distributed Map whose STANDARD child runs it.

Step Functions fails a Standard execution whose history passes 25,000 events, and a job stage writes 11 events
per poll. When every import and every solution's training polled in the run's own execution, the budget had to
share 25,000 events among all of them, so each solution and dataset added made the poll interval (the detection
lag) longer (config/full.json polled every 240 s). Here each of them polls in a child execution with a history of
its own (the way each batch job already does), so the interval no longer depends on how many there are:

    <label>: hand over (Pass: a one-item list)
    -> <label>: own history (Distributed Map, one STANDARD child; its input is the carried state keys)
         child: the stage (its Fail states end the child) ...

A Distributed Map whose child fails ends with `States.ExceedToleratedFailureThreshold`, which names neither the
stage's error nor its cause. So a job stage runs in the child inside a one-branch Parallel that catches every
error into `{"error": {"Error", "Cause"}}`, and the parent fails with that error and cause (a Fail state with
ErrorPath / CausePath): `ImportFailed`, `ItemsImportBlocked`, ... reach the run's failure as before, with the
Personalize failure reason. A solution's branch already catches every error into its FAILED record, so it runs
in its child as it is (see `solutions.py`).

The carried keys are the only state data a child sees (`$.run`: names, `$.modes`: the import and training modes;
a solution's also `$.cadence` when it has one): a stage that needs more must name it here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.orchestration.stage import Stage

JsonPath = sfn.JsonPath
# The state keys a child gets by default: the run's names and the chosen modes.
CARRIED = ("run", "modes")
# Where the parent keeps the one-item list a child is started for (overwritten by each hand-over).
HAND_OVER_PATH = "$.ownHistory"


def own_history_map(
    scope: Construct,
    label: str,
    *,
    body: sfn.IChainable,
    comment: str,
    carried: Sequence[str] = CARRIED,
    result_path: str | None = None,
    result_selector: Mapping[str, Any] | None = None,
    output_path: str | None = None,
) -> tuple[sfn.Pass, sfn.DistributedMap]:
    """The hand-over Pass and the Distributed Map that runs `body` in one child execution.

    The Map's result is the list of the one child's output (`output_path="$[0]"` makes it the child's output)."""
    hand_over = sfn.Pass(
        scope,
        f"{label}: hand over",
        comment="A list of one item: the Distributed Map after it starts exactly one child execution",
        result=sfn.Result.from_array([label]),
        result_path=HAND_OVER_PATH,
    )
    child = sfn.DistributedMap(
        scope,
        f"{label}: own history",
        comment=comment,
        items_path=HAND_OVER_PATH,
        map_execution_type=sfn.StateMachineType.STANDARD,
        item_selector={key: JsonPath.object_at(f"$.{key}") for key in carried},
        result_path=result_path,
        result_selector=result_selector,
        output_path=output_path,
    )
    child.item_processor(body)
    hand_over.next(child)
    return hand_over, child


class JobInOwnHistory(Stage):
    """A job stage (e.g. an import: `PersonalizeJobStage`) polled in a child execution of its own.

    Writes `$.<result_key>` as the stage itself would have (its `Arn` and `describe`); a failure of the stage
    fails the parent with the stage's own error and cause (`<label>: failed in its child`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        label: str,
        stage: sfn.IChainable,
        result_key: str,
        carried: Sequence[str] = CARRIED,
    ) -> None:
        super().__init__(scope, construct_id)
        outcome = f"$.{result_key}Child.outcome"
        child_result = f"$.{result_key}Child"
        # The child: the stage inside a Parallel whose catch keeps its error for the parent.
        done = sfn.Pass(self, f"{label}: hand back", parameters={result_key: JsonPath.object_at(f"$.{result_key}")})
        wrapper = sfn.Parallel(self, f"{label}: in its child", output_path="$[0]")
        wrapper.branch(sfn.Chain.start(stage).next(done))
        wrapper.add_catch(
            sfn.Pass(
                self,
                f"{label}: keep the error",
                parameters={"error": {"Error": JsonPath.string_at("$.Error"), "Cause": JsonPath.string_at("$.Cause")}},
            ),
            errors=["States.ALL"],
        )
        hand_over, child = own_history_map(
            self,
            label,
            body=wrapper,
            comment=f"{label} polls in a child execution with a history of its own",
            carried=carried,
            result_path=child_result,
            # The Map's result is the list of its one child's output: kept as that output.
            result_selector={"outcome": JsonPath.object_at("$[0]")},
        )
        failed = sfn.Fail(
            self,
            f"{label}: failed in its child",
            error_path=f"{outcome}.error.Error",
            cause_path=f"{outcome}.error.Cause",
        )
        result = sfn.Pass(
            self, f"{label}: result", input_path=f"{outcome}.{result_key}", result_path=f"$.{result_key}"
        )
        child.next(
            sfn.Choice(self, f"{label}: failed?")
            .when(sfn.Condition.is_present(f"{outcome}.error"), failed)
            .otherwise(result)
        )
        self._set_flow(hand_over, result)
