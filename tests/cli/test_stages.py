"""History events -> stage timeline, on hand-written event lists shaped like GetExecutionHistory's, with the
state names of the synthesized pipeline (the stage table is checked against its real definition)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pipeline_cli.stages import (
    SOLUTION_STAGE_KINDS,
    STAGES,
    is_solution_wrapper,
    solution_state,
    StageStatus,
    Timeline,
    build_timeline,
    is_skipped,
    normalized_name,
    skip_reason,
    stage_of,
)
from tests.conftest import CONFIGURATIONS
from tests.support.templates import all_states, nested_machines, pipeline_definition

T0 = datetime(2026, 11, 22, 3, 0, 0, tzinfo=timezone.utc)


class History:
    """Builds an event list with ids, previous ids and timestamps `t` seconds after T0."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def _add(self, etype: str, t: float, details_key: str | None = None, **details: Any) -> "History":
        event: dict[str, Any] = {
            "id": len(self.events) + 1,
            "previousEventId": len(self.events),
            "type": etype,
            "timestamp": T0 + timedelta(seconds=t),
        }
        if details_key:
            event[details_key] = details
        self.events.append(event)
        return self

    def started(self) -> "History":
        return self._add("ExecutionStarted", 0, "executionStartedEventDetails", input="{}")

    def enter(self, name: str, t: float, kind: str = "Task") -> "History":
        return self._add(f"{kind}StateEntered", t, "stateEnteredEventDetails", name=name, input="{}")

    def exit(self, name: str, t: float, kind: str = "Task") -> "History":
        return self._add(f"{kind}StateExited", t, "stateExitedEventDetails", name=name, output="{}")

    def task_failed(self, t: float, error: str, cause: str) -> "History":
        return self._add("TaskFailed", t, "taskFailedEventDetails", error=error, cause=cause, resourceType="aws-sdk")

    def succeeded(self, t: float, output: Any) -> "History":
        return self._add("ExecutionSucceeded", t, "executionSucceededEventDetails", output=json.dumps(output))

    def failed(self, t: float, error: str, cause: str) -> "History":
        return self._add("ExecutionFailed", t, "executionFailedEventDetails", error=error, cause=cause)

    def timed_out(self, t: float) -> "History":
        return self._add("ExecutionTimedOut", t, "executionTimedOutEventDetails", error="States.Timeout", cause="")

    def redriven(self, t: float) -> "History":
        return self._add("ExecutionRedriven", t, "executionRedrivenEventDetails", redriveCount=1)


def through_import(h: History) -> History:
    """Guard (2 s), ETL (3 min), import started at 190 s and polled."""
    return (
        h.started()
        .enter("List running executions", 0)
        .exit("List running executions", 2)
        .enter("Transform (Glue)", 2)
        .exit("Transform (Glue)", 182)
        .enter("Import: create job", 190)
        .exit("Import: create job", 191)
        .enter("Import: wait", 191, "Wait")
    )


def by_key(tl: Timeline) -> dict[str, Any]:
    return {s.key: s for s in tl.stages}


def test_running_execution_shows_done_running_and_pending_stages() -> None:
    tl = build_timeline(through_import(History()).events)
    now = T0 + timedelta(seconds=250)

    assert tl.status == "RUNNING" and not tl.finished and tl.outcome == "RUNNING"
    assert [(s.key, s.status) for s in tl.stages] == [
        ("guard", StageStatus.DONE),
        ("etl", StageStatus.DONE),
        ("import", StageStatus.RUNNING),
        ("solutions", StageStatus.PENDING),
        ("postprocess", StageStatus.PENDING),
    ]
    stages = by_key(tl)
    assert stages["etl"].duration(now) == 180
    assert stages["import"].duration(now) == 60  # counts up to now while running
    assert stages["import"].states == ("Import: create job", "Import: wait")
    assert tl.current_state == "Import: wait"
    assert tl.elapsed(now) == 250
    assert tl.error is None and tl.failed_state is None


def full_run(h: History) -> History:
    return (
        through_import(h)
        .exit("Import: wait", 500, "Wait")
        .enter("CheckImportStatus", 500, "Choice")  # unmapped: its own stage
        .exit("CheckImportStatus", 500, "Choice")
        .enter("Training: create job", 501)
        .exit("Training: create job", 502)
        .enter("Training: wait", 502, "Wait")
        .exit("Training: wait", 4102, "Wait")
        .enter("Batch inference: create job", 4110)
        .exit("Batch inference: create job", 5000)
        .enter("Post-process: flatten file", 5000)
        .exit("Post-process: flatten file", 5060)
        .enter("Run succeeded", 5060, "Succeed")
        .exit("Run succeeded", 5060, "Succeed")
    )


def test_succeeded_execution_has_per_stage_durations_and_no_pending_rows() -> None:
    h = full_run(History()).succeeded(5060, {"batchInferenceJobArn": "arn:aws:personalize:x", "outputPrefix": "runs/r/"})
    tl = build_timeline(h.events)
    now = T0 + timedelta(days=3)  # long after: a finished run's numbers must not depend on now

    assert tl.status == "SUCCEEDED" and tl.outcome == "SUCCEEDED" and tl.finished
    assert [s.key for s in tl.stages] == ["guard", "etl", "import", "CheckImportStatus", "training", "batch", "postprocess"]
    assert all(s.status is StageStatus.DONE for s in tl.stages)
    durations = {s.key: s.duration(now) for s in tl.stages}
    assert durations == {
        "guard": 2, "etl": 180, "import": 310, "CheckImportStatus": 0,
        "training": 3601, "batch": 890, "postprocess": 60,
    }
    assert "Run succeeded" not in [s.key for s in tl.stages]  # an unmapped Succeed state is an end marker
    assert tl.elapsed(now) == 5060
    assert json.loads(tl.output or "")["outputPrefix"] == "runs/r/"


def test_failed_execution_names_failing_state_error_and_cause() -> None:
    h = (
        through_import(History())
        .exit("Import: wait", 500, "Wait")
        .enter("Training: create job", 501)
        .task_failed(502, "Personalize.LimitExceededException", "too many")
        .failed(502, "Personalize.LimitExceededException", "Personalize says: too many solution versions")
    )
    tl = build_timeline(h.events)

    assert tl.status == "FAILED" and tl.outcome == "FAILED"
    assert tl.failed_state == "Training: create job"
    assert tl.error == "Personalize.LimitExceededException"
    assert tl.cause == "Personalize says: too many solution versions"
    statuses = {s.key: s.status for s in tl.stages}
    assert statuses == {
        "guard": StageStatus.DONE,
        "etl": StageStatus.DONE,
        "import": StageStatus.DONE,
        "training": StageStatus.FAILED,  # a run of the one-solution definition (LEGACY_STAGES)
        "postprocess": StageStatus.NOT_RUN,
    }
    assert by_key(tl)["training"].duration(T0 + timedelta(days=1)) == 1  # ends at the failure


def test_describe_result_wins_over_a_lagging_history() -> None:
    """The poll loop reads history, then describe: describe may already know the end."""
    events = through_import(History()).events
    description = {"status": "FAILED", "stopDate": T0 + timedelta(seconds=300), "error": "States.TaskFailed", "cause": "boom"}
    tl = build_timeline(events, description)
    assert tl.status == "FAILED"
    assert (tl.failed_state, tl.error, tl.cause) == ("Import: wait", "States.TaskFailed", "boom")
    assert by_key(tl)["import"].status is StageStatus.FAILED
    assert tl.elapsed(T0 + timedelta(days=1)) == 300


def test_task_error_is_used_when_execution_failure_has_no_cause() -> None:
    h = through_import(History()).task_failed(200, "Glue.ConcurrentRunsExceededException", "job busy").failed(200, "", "")
    tl = build_timeline(h.events)
    assert (tl.error, tl.cause) == ("Glue.ConcurrentRunsExceededException", "job busy")


def test_timed_out_execution_is_a_failure_of_the_open_stage() -> None:
    tl = build_timeline(through_import(History()).timed_out(86400).events)
    assert tl.status == "TIMED_OUT" and tl.failed_state == "Import: wait"
    assert by_key(tl)["import"].status is StageStatus.FAILED


def test_skipped_run_is_reported_as_skipped() -> None:
    h = (
        History()
        .started()
        .enter("List running executions", 0)
        .exit("List running executions", 1)
        .enter("Skipped", 1, "Succeed")
        .exit("Skipped", 1, "Succeed")
        .succeeded(1, {"guard": {"skipped": True, "reason": "run-7 is still running"}})
    )
    tl = build_timeline(h.events)
    assert tl.status == "SUCCEEDED" and tl.skipped and tl.outcome == "SKIPPED"
    assert skip_reason(tl.output) == "run-7 is still running"
    assert [(s.key, s.status) for s in tl.stages] == [
        ("guard", StageStatus.DONE),
        ("prepare", StageStatus.NOT_RUN),
        ("etl", StageStatus.NOT_RUN),
        ("modes", StageStatus.NOT_RUN),
        ("import", StageStatus.NOT_RUN),
        ("solutions", StageStatus.NOT_RUN),
        ("postprocess", StageStatus.NOT_RUN),
    ]


def test_events_in_any_order_with_duplicates_give_the_same_timeline() -> None:
    events = full_run(History()).succeeded(5060, {}).events
    shuffled = events + events[3:9]
    random.Random(7).shuffle(shuffled)
    assert build_timeline(shuffled) == build_timeline(events)


def test_a_new_unmapped_state_becomes_its_own_stage_in_order() -> None:
    h = (
        History()
        .started()
        .enter("Transform (Glue)", 0)
        .exit("Transform (Glue)", 10)
        .enter("DriftCheck", 10, "Choice")
        .exit("DriftCheck", 11, "Choice")
        .enter("ArchiveInputs", 11)
    )
    tl = build_timeline(h.events)
    assert [(s.key, s.label, s.status) for s in tl.stages][:3] == [
        ("etl", "Glue ETL", StageStatus.DONE),
        ("DriftCheck", "DriftCheck", StageStatus.DONE),
        ("ArchiveInputs", "ArchiveInputs", StageStatus.RUNNING),
    ]
    assert tl.current_state == "ArchiveInputs"


def test_overlapping_map_iterations_keep_the_stage_running_until_all_exit() -> None:
    h = (
        History()
        .started()
        .enter("Post-process: flatten file", 0)
        .enter("Post-process: flatten file", 1)
        .exit("Post-process: flatten file", 5)
    )
    assert by_key(build_timeline(h.events))["postprocess"].status is StageStatus.RUNNING
    h.exit("Post-process: flatten file", 9)
    stage = by_key(build_timeline(h.events))["postprocess"]
    assert stage.status is StageStatus.DONE and stage.duration(T0 + timedelta(days=1)) == 9


def test_redriven_execution_runs_again_from_the_failed_state() -> None:
    h = through_import(History()).failed(300, "States.TaskFailed", "boom").redriven(400)
    tl = build_timeline(h.events)
    assert tl.status == "RUNNING" and tl.error is None and tl.failed_state is None
    h.enter("Import: wait", 400, "Wait").exit("Import: wait", 450, "Wait").succeeded(450, {})
    tl = build_timeline(h.events)
    assert tl.status == "SUCCEEDED"
    assert by_key(tl)["import"].status is StageStatus.DONE


def test_no_events_yet_lists_every_stage_as_pending() -> None:
    tl = build_timeline([], {"status": "RUNNING", "startDate": T0})
    assert tl.started == T0 and tl.current_state is None
    assert [s.status for s in tl.stages] == [StageStatus.PENDING] * len(STAGES)


@pytest.mark.parametrize(
    ("state", "stage"),
    [
        ("Overlap guard: take the run lease", "guard"),
        ("Overlap guard: lease taken?", "guard"),
        ("Skip: another run is active", "guard"),
        ("List running executions", "guard"),  # the guard before the run lease (LEGACY_PREFIXES)
        ("Oldest running is this one?", "guard"),
        ("Transform (Glue)", "etl"),
        ("transform-glue", "etl"),  # case and punctuation do not matter
        ("IMPORT: wait", "import"),
        ("Training: describe job", "training"),
        ("Batch inference: job status?", "batch"),
        ("PostProcessFlatten", "postprocess"),
        ("Post-processing failed", "postprocess"),
        ("Prepare run", "prepare"),
        ("Prepare run: read solution ARN", "prepare"),
        ("Solutions", "solutions"),
        ("Solutions failed", "postprocess"),
        ("Post-process: every solution succeeded?", "postprocess"),
        ("Post-process: release run lease", "postprocess"),
        ("Release run lease", None),  # the success end's release: listed under its own name
        ("Post-process: accept each model version", "postprocess"),
        ("users: read solution ARN", "users.training"),
        ("users training: create job", "users.training"),
        ("users quality gate: evaluate the model", "users.gate"),
        ("users: model quality gate rejected the model", "users.gate"),
        ("users: model quality gate could not decide", "users.gate"),
        ("users batch: plan jobs", "users.batch"),
        ("users batch: each job", "users.batch"),
        ("users batch job: create job", "users.batch"),
        ("genre_fans post-process: flatten file", "genre_fans.postprocess"),
        ("segments: succeeded", "segments.postprocess"),
        ("solution training: create job", "solution.training"),  # the default solution's name
        ("Solution segments", None),  # a solution's wrapper: no stage
        ("segments: failed", None),  # marks the solution's last stage failed
        ("NotifyOps", None),
        ("Succeed", None),
    ],
)
def test_stage_of_maps_state_name_prefixes(state: str, stage: str | None) -> None:
    found = stage_of(state)
    assert (found.key if found else None) == stage


@pytest.mark.parametrize(
    ("output", "skipped"),
    [
        ('{"skipped": true, "reason": "busy"}', True),
        ('{"guard": {"skipped": true}}', True),
        ('{"status": "SKIPPED"}', True),
        ('{"skipped": false}', False),
        ('{"postprocess": {"counts": {"skipped": 0, "lines": 10}}}', False),  # a count, not a skip
        ('{"skippedLines": 3}', False),
        ('"not an object"', False),
        ("not json", False),
        ("", False),
        (None, False),
    ],
)
def test_is_skipped(output: str | None, skipped: bool) -> None:
    assert is_skipped(output) is skipped


# The real definition: the stage table is checked against the states the pipeline stack synthesizes.
STANDALONE_STATES = {"Summarize run", "Release run lease", "Run succeeded"}
"""States that belong to no stage on purpose: listed under their own name (the Succeed state not at all)."""


def _states_in_run_order(definition: dict[str, Any]) -> list[str]:
    """Every state (nested ones too), breadth first from StartAt along Next, Default, Choices and Catch."""
    states = all_states(definition)

    def successors(state: dict[str, Any]) -> list[str]:
        nested = [machine["StartAt"] for machine in nested_machines(state)]
        targets = [state.get("Next"), state.get("Default"), *[c["Next"] for c in state.get("Choices", [])]]
        return nested + [t for t in targets if t] + [c["Next"] for c in state.get("Catch", [])]

    order, queue = [definition["StartAt"]], [definition["StartAt"]]
    while queue:
        for target in successors(states[queue.pop(0)]):
            if target not in order:
                order.append(target)
                queue.append(target)
    assert set(order) == set(states), f"unreachable states: {set(states) - set(order)}"
    return order


@pytest.fixture(scope="module")
def real_states(default_app: Any, default_templates: Any) -> list[str]:
    return _states_in_run_order(pipeline_definition(default_app, default_templates))


@pytest.fixture(scope="module")
def every_configurations_states(synthesized_apps: Any) -> set[str]:
    """The states of every named configuration's definition (the metadata imports exist only with their datasets)."""
    states: set[str] = set()
    for name in CONFIGURATIONS:
        synthesized = synthesized_apps(name)
        states.update(all_states(pipeline_definition(synthesized.app, synthesized.templates)))
    return states


def test_every_stage_prefix_names_a_state_of_the_pipeline(every_configurations_states: set[str]) -> None:
    unused = [
        (stage.key, prefix)
        for stage in STAGES
        for prefix in stage.prefixes
        if not any(normalized_name(state).startswith(normalized_name(prefix)) for state in every_configurations_states)
    ]
    assert unused == []


def test_every_run_level_state_of_every_configuration_has_a_stage(every_configurations_states: set[str]) -> None:
    """The class of a state that printed as its own stage in `status` and the rehearsal (`Items import: ...`):
    every state of every configuration that is not a solution's has a run-level stage or stands alone on purpose."""
    unmapped = {
        state
        for state in every_configurations_states
        if stage_of(state) is None and not _stands_apart(state) and solution_state(state) is None
    }
    assert unmapped <= STANDALONE_STATES


def _stands_apart(state: str) -> bool:
    """A solution's wrapper Parallel and its failure marker: no stage on purpose (see pipeline_cli/stages.py)."""
    found = solution_state(state)
    return is_solution_wrapper(state) or (found is not None and found[1] is None)


def test_every_state_of_the_pipeline_has_a_stage_unless_it_stands_alone(real_states: list[str]) -> None:
    unmapped = {state for state in real_states if stage_of(state) is None and not _stands_apart(state)}
    assert unmapped == STANDALONE_STATES


def test_stages_are_listed_in_the_order_a_run_reaches_them(real_states: list[str]) -> None:
    """Run-level stages in table order; every solution's stages in their order, inside `solutions`."""
    stages = [stage for stage in (stage_of(state) for state in real_states) if stage is not None]
    run_level = [stage.key if stage.solution is None else "solutions" for stage in stages]
    assert list(dict.fromkeys(run_level)) == [stage.key for stage in STAGES]
    for solution in dict.fromkeys(stage.solution for stage in stages if stage.solution):
        kinds = [stage.key.rsplit(".", 1)[1] for stage in stages if stage.solution == solution]
        assert list(dict.fromkeys(kinds)) == [kind for kind, _ in SOLUTION_STAGE_KINDS], solution


# The fixed state names of a solution's branch (issue 13 shared interfaces), for `n` = the solution's name.
def solution_branch_states(n: str) -> list[str]:
    return [
        f"Solution {n}",
        f"{n}: read solution ARN",
        f"{n} training: create job",
        f"{n} training: wait",
        f"{n} training: job status?",
        f"{n} quality gate: evaluate the model",
        f"{n}: model quality gate rejected the model",
        f"{n}: model quality gate could not decide",
        f"{n} batch: plan jobs",
        f"{n} batch: each job",
        f"{n} batch job: place input",
        f"{n} batch job: create job",
        f"{n} post-process: list output files",
        f"{n} post-process: each output file",
        f"{n} post-process: flatten file",
        f"{n}: succeeded",
        f"{n}: failed",
    ]


@pytest.mark.parametrize("name", ["users", "similar", "segments", "genre_fans", "solution", "s2"])
def test_every_fixed_state_name_of_a_solution_maps_to_its_stage(name: str) -> None:
    """The mapping the real definition will be checked against once the several-solutions machine lands."""
    mapped = {state: stage_of(state) for state in solution_branch_states(name)}
    apart = {state for state, stage in mapped.items() if stage is None}
    assert apart == {f"Solution {name}", f"{name}: failed"}
    assert all(_stands_apart(state) for state in apart)
    assert {stage.key for stage in mapped.values() if stage} == {f"{name}.{kind}" for kind, _ in SOLUTION_STAGE_KINDS}
    assert all(stage.solution == name for stage in mapped.values() if stage)
    for run_level, key in (
        ("Solutions", "solutions"),
        ("Post-process: account for the run", "postprocess"),
        ("Post-process: write manifest", "postprocess"),
        ("Post-process: accept each model version", "postprocess"),
        ("Post-process: every solution succeeded?", "postprocess"),
        ("Solutions failed", "postprocess"),
    ):
        stage = stage_of(run_level)
        assert stage is not None and stage.key == key and stage.solution is None, run_level


# --- several solutions: a synthetic history of the parallel branches ----------------------------


def through_solutions_start(h: History) -> History:
    return (
        through_import(h)
        .exit("Import: wait", 300, "Wait")
        .enter("Solutions", 300, "Parallel")
        .enter("Solution users", 300, "Parallel")
        .enter("Solution segments", 300, "Parallel")
        .enter("users: read solution ARN", 300)
        .enter("segments: read solution ARN", 300)
        .exit("users: read solution ARN", 301)
        .exit("segments: read solution ARN", 301)
        .enter("segments training: create job", 301)
        .enter("users training: create job", 302)
        .exit("segments training: create job", 303)
        .exit("users training: create job", 303)
    )


def test_running_solutions_show_their_stages_in_solution_order() -> None:
    h = (
        through_solutions_start(History())
        .enter("users quality gate: evaluate the model", 3000)
        .exit("users quality gate: evaluate the model", 3010)
        .enter("users batch: plan jobs", 3010)
        .exit("users batch: plan jobs", 3011)
        .enter("users batch: each job", 3011, "Map")
    )
    tl = build_timeline(h.events)
    assert [(s.key, s.status) for s in tl.stages] == [
        ("guard", StageStatus.DONE),
        ("etl", StageStatus.DONE),
        ("import", StageStatus.DONE),
        ("solutions", StageStatus.RUNNING),
        ("users.training", StageStatus.DONE),
        ("users.gate", StageStatus.DONE),
        ("users.batch", StageStatus.RUNNING),
        ("users.postprocess", StageStatus.PENDING),
        ("segments.training", StageStatus.DONE),
        ("segments.gate", StageStatus.PENDING),
        ("segments.batch", StageStatus.PENDING),
        ("segments.postprocess", StageStatus.PENDING),
        ("postprocess", StageStatus.PENDING),
    ]
    stages = by_key(tl)
    assert stages["users.training"].label == "users training"
    assert stages["users.training"].states == ("users: read solution ARN", "users training: create job")
    assert stages["users.training"].duration(T0) == 3  # 300 .. 303
    assert stages["segments.postprocess"].solution == "segments"
    assert tl.current_state == "users batch: each job"


def test_a_failed_solution_marks_its_stage_failed_and_the_run_fails_at_the_end() -> None:
    cause = "segments: TrainingFailed: solution version CREATE FAILED"
    h = (
        through_solutions_start(History())
        .enter("segments training: wait", 303, "Wait")
        .exit("segments training: wait", 900, "Wait")
        .enter("segments training: job status?", 900, "Choice")
        .exit("segments training: job status?", 900, "Choice")
        .enter("segments: failed", 900, "Pass")
        .exit("segments: failed", 900, "Pass")
        .exit("Solution segments", 900, "Parallel")
        .enter("users quality gate: evaluate the model", 3000)
        .exit("users quality gate: evaluate the model", 3010)
        .enter("users batch: plan jobs", 3010)
        .exit("users batch: plan jobs", 3011)
        .enter("users batch: each job", 3011, "Map")
        .exit("users batch: each job", 6000, "Map")
        .enter("users post-process: list output files", 6000)
        .exit("users post-process: list output files", 6001)
        .enter("users: succeeded", 6001, "Pass")
        .exit("users: succeeded", 6001, "Pass")
        .exit("Solution users", 6001, "Parallel")
        .exit("Solutions", 6001, "Parallel")
        .enter("Post-process: account for the run", 6001)
        .exit("Post-process: account for the run", 6002)
        .enter("Post-process: every solution succeeded?", 6002, "Choice")
        .exit("Post-process: every solution succeeded?", 6002, "Choice")
        .enter("Solutions failed", 6002, "Fail")
        .failed(6002, "SolutionsFailed", cause)
    )
    tl = build_timeline(h.events)
    statuses = [(s.key, s.status) for s in tl.stages]
    assert statuses == [
        ("guard", StageStatus.DONE),
        ("etl", StageStatus.DONE),
        ("import", StageStatus.DONE),
        ("solutions", StageStatus.DONE),
        ("users.training", StageStatus.DONE),
        ("users.gate", StageStatus.DONE),
        ("users.batch", StageStatus.DONE),
        ("users.postprocess", StageStatus.DONE),
        ("segments.training", StageStatus.FAILED),
        ("segments.gate", StageStatus.NOT_RUN),
        ("segments.batch", StageStatus.NOT_RUN),
        ("segments.postprocess", StageStatus.NOT_RUN),
        ("postprocess", StageStatus.FAILED),
    ]
    assert tl.failed_state == "Solutions failed" and tl.error == "SolutionsFailed" and tl.cause == cause
    assert by_key(tl)["segments.training"].ended == T0 + timedelta(seconds=900)
    assert "segments: failed" not in [state for s in tl.stages for state in s.states]


def test_a_solution_failure_while_others_run_shows_not_run_for_it_pending_for_them() -> None:
    h = (
        through_solutions_start(History())
        .enter("segments: failed", 303, "Pass")
        .exit("segments: failed", 303, "Pass")
        .enter("users training: wait", 303, "Wait")
    )
    tl = build_timeline(h.events)
    stages = by_key(tl)
    assert stages["segments.training"].status is StageStatus.FAILED
    assert stages["segments.gate"].status is StageStatus.NOT_RUN
    assert stages["users.training"].status is StageStatus.RUNNING
    assert stages["users.gate"].status is StageStatus.PENDING
    assert tl.status == "RUNNING" and tl.failed_state is None


def test_a_caught_glue_failure_fails_the_etl_stage() -> None:
    h = (
        History()
        .started()
        .enter("List running executions", 0)
        .exit("List running executions", 1)
        .enter("Other runs active?", 1, "Choice")
        .exit("Other runs active?", 1, "Choice")
        .enter("Prepare run", 1)
        .exit("Prepare run", 2)
        .enter("Transform (Glue)", 2)
        .task_failed(600, "States.TaskFailed", "Glue job run failed")
        .exit("Transform (Glue)", 600)
        .enter("Transform failed", 600, "Fail")
        .failed(600, "TransformFailed", "Glue job run failed for run r: OutOfMemory")
    )
    tl = build_timeline(h.events)
    assert tl.failed_state == "Transform failed"
    assert [(s.key, s.status) for s in tl.stages][:3] == [
        ("guard", StageStatus.DONE),
        ("prepare", StageStatus.DONE),
        ("etl", StageStatus.FAILED),
    ]
    assert by_key(tl)["etl"].states == ("Transform (Glue)", "Transform failed")
    assert by_key(tl)["etl"].duration(T0 + timedelta(days=1)) == 598
    assert tl.cause == "Glue job run failed for run r: OutOfMemory"
