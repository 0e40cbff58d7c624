"""A run's history with its own-history children folded in: the imports' and solutions' states, which poll in
child executions of their own, still give the CLI's stages (pipeline_cli/children.py, aws.RunHistory)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pipeline_cli.aws import RunHistory
from pipeline_cli.children import map_run_arns, merged_history
from pipeline_cli.stages import StageStatus, build_timeline

from .test_stages import T0, History, by_key

IMPORT_RUN = "arn:aws:states:us-east-1:123456789012:mapRun:pbp-dev-batch-pipeline/Import:1"
USERS_RUN = "arn:aws:states:us-east-1:123456789012:mapRun:pbp-dev-batch-pipeline/users:2"


def map_run(h: History, name: str, arn: str, t: float) -> History:
    h.enter(name, t, "Map")
    return h._add("MapRunStarted", t, "mapRunStartedEventDetails", mapRunArn=arn)


def parent_history(*, ended: bool) -> History:
    h = History().started().enter("Transform (Glue)", 0).exit("Transform (Glue)", 180)
    map_run(h, "Import: own history", IMPORT_RUN, 181)
    h.exit("Import: own history", 600, "Map").enter("Solutions", 601, "Parallel")
    map_run(h, "users: own history", USERS_RUN, 602)
    if ended:
        h.exit("users: own history", 5000, "Map").exit("Solutions", 5001, "Parallel")
        h.enter("Summarize run", 5002, "Pass").exit("Summarize run", 5002, "Pass").succeeded(5003, {})
    return h


def import_child() -> History:
    h = History().started()  # a child's own Execution* events must not end the run's timeline
    h.enter("Import: create job", 182).exit("Import: create job", 183).enter("Import: wait", 183, "Wait")
    return h.exit("Import: wait", 590, "Wait").succeeded(599, {})


def users_child(*, ended: bool) -> History:
    h = History().started().enter("users: read solution ARN", 603).exit("users: read solution ARN", 604)
    h.enter("users training: create job", 604).exit("users training: create job", 605)
    if ended:
        h.enter("users batch: plan jobs", 4000).exit("users batch: plan jobs", 4001)
        h.enter("users: succeeded", 4990, "Pass").exit("users: succeeded", 4990, "Pass").succeeded(4999, {})
    return h


def test_the_map_runs_of_the_run_are_found_in_order() -> None:
    assert map_run_arns(parent_history(ended=True).events) == [IMPORT_RUN, USERS_RUN]


def test_children_states_give_the_solution_stages_and_their_end_events_do_not_end_the_run() -> None:
    parent, children = parent_history(ended=False), [import_child(), users_child(ended=False)]
    timeline = build_timeline(merged_history(parent.events, [c.events for c in children]))
    stages = by_key(timeline)
    assert timeline.status == "RUNNING"
    assert stages["import"].status is StageStatus.DONE
    assert stages["users.training"].status is StageStatus.RUNNING
    assert stages["users.batch"].status is StageStatus.PENDING
    assert stages["users.training"].last_state == "users training: create job"


def test_a_finished_run_shows_every_solution_stage_with_its_times() -> None:
    parent, children = parent_history(ended=True), [import_child(), users_child(ended=True)]
    merged = merged_history(parent.events, [c.events for c in children])
    assert [event["id"] for event in merged] == list(range(1, len(merged) + 1))
    assert [event["timestamp"] for event in merged] == sorted(event["timestamp"] for event in merged)
    stages = by_key(build_timeline(merged))
    assert stages["users.training"].status is StageStatus.DONE
    assert stages["users.batch"].status is StageStatus.DONE
    # The import stage spans its Map state in the run (181 s - 600 s) and its child's states in between.
    assert (stages["import"].started, stages["import"].ended) == (T0 + timedelta(seconds=181), T0 + timedelta(seconds=600))


class FakeGateway:
    """history_reader / map_run_executions over fixed histories; a Map Run lists its child only from the second
    read on (a child that has not started yet)."""

    def __init__(self, histories: dict[str, History], children: dict[str, list[str]]) -> None:
        self.histories, self.children, self.listed = histories, children, {arn: 0 for arn in children}

    def history_reader(self, arn: str) -> Any:
        history = self.histories[arn]

        class Reader:
            served = 0

            def fetch_new(self) -> list[dict[str, Any]]:
                new, Reader.served = history.events[Reader.served:], len(history.events)
                return new

        return Reader()

    def map_run_executions(self, map_run: str) -> list[str]:
        self.listed[map_run] += 1
        return self.children[map_run] if self.listed[map_run] > 1 or map_run == IMPORT_RUN else []


def test_run_history_reads_each_child_once_its_map_run_lists_it() -> None:
    gateway = FakeGateway(
        {"run": parent_history(ended=True), "import": import_child(), "users": users_child(ended=True)},
        {IMPORT_RUN: ["import"], USERS_RUN: ["users"]},
    )
    history = RunHistory(gateway, "run")  # type: ignore[arg-type]
    first = history.read()
    assert "users: read solution ARN" not in str(first)  # its child not listed yet
    second = history.read()
    assert "users: read solution ARN" in str(second) and len(second) > len(first)
    assert gateway.listed == {IMPORT_RUN: 1, USERS_RUN: 2}  # a listed Map Run is not listed again
    assert history.read() == second
