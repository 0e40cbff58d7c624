"""The CLI end to end against moto: real CloudFormation outputs, a real (Pass/Wait/Fail/Succeed)
definition run by moto's Step Functions interpreter, and the CLI's `main(argv, session=...)`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from rich.console import Console

from pipeline_cli.aws import HistoryReader
from pipeline_cli.stages import LEGACY_STAGES, STAGES

from .conftest import (
    CURATED_BUCKET,
    WaitGate,
    FAILING_BATCH,
    RUN_ID,
    SKIP_REASON,
    SKIPPING_DEFINITION,
    SUMMARY,
    Deployed,
    Result,
    pipeline_definition,
    solutions_definition,
)

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--poll-interval", "0.02"]
# The one-solution definition of pipeline_definition() (as recorded before issue 13): run-level stages but
# "solutions", and the legacy training / gate / batch stages.
ALL_STAGE_LABELS = [s.label for s in STAGES if s.key != "solutions"] + [s.label for s in LEGACY_STAGES]


def test_start_wait_succeeds_and_shows_every_stage(deploy: Callable[..., Deployed], run: Callable[..., Result]) -> None:
    deployed = deploy(pipeline_definition())
    result = run(["start", "--wait", "--name", "run-ok", *FAST], deployed.session)

    assert result.code == 0, result.err
    out = result.out
    assert "execution: arn:aws:states:us-east-1:123456789012:execution:pbp-dev-pipeline:run-ok" in out
    assert "console:   https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/" in out
    for label in ALL_STAGE_LABELS + ["NotifyOps", "Summarize run"]:
        assert f"{label} done after" in out, label
    assert "Run succeeded" not in out  # the end marker is not a stage
    assert out.index("Glue ETL done") < out.index("dataset import done") < out.index("post-processing done")
    assert "run-ok SUCCEEDED" in out
    for key in ("datasetImportJobArn", "solutionVersionArn", "batchInferenceJobArn", "outputPrefix"):
        assert f"  {key}: {SUMMARY[key]}" in out
    assert result.err == ""


def test_start_wait_on_a_failing_run_exits_1_with_the_cause(
    deploy: Callable[..., Deployed], run: Callable[..., Result]
) -> None:
    deployed = deploy(pipeline_definition(FAILING_BATCH))
    result = run(["start", "--wait", "--name", "run-bad", *FAST], deployed.session)

    assert result.code == 1
    assert "batch inference failed" in result.out
    assert "post-processing" not in result.out.split("run-bad FAILED")[0].split("batch inference failed")[1]
    assert "run-bad FAILED" in result.out
    assert "failing state: BatchInference (batch inference)" in result.out
    assert "error: BatchInferenceFailed" in result.out
    # brackets in AWS text print verbatim (no rich markup)
    assert f"cause: {FAILING_BATCH['Cause']}" in result.out
    assert "alerts go to: arn:aws:sns:us-east-1:123456789012:" in result.out


def test_start_wait_on_a_run_the_guard_skipped_exits_0_as_skipped(
    deploy: Callable[..., Deployed], run: Callable[..., Result]
) -> None:
    deployed = deploy(SKIPPING_DEFINITION)
    result = run(["start", "--wait", *FAST], deployed.session)
    assert result.code == 0
    assert " SKIPPED after " in result.out
    assert f"skipped by the overlap guard: {SKIP_REASON}" in result.out
    assert "overlap guard done after" in result.out


def test_progress_is_polled_incrementally_while_a_stage_runs(
    deploy: Callable[..., Deployed], run: Callable[..., Result], wait_gate: WaitGate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import stage's Wait is held until the CLI has polled inside it: the polls see the
    stage running, then done; once events are known, history is read backwards from the end."""
    calls: list[tuple[dict[str, Any], int]] = []  # (arguments, last event id known before the call)
    original = HistoryReader._page

    def spy(self: HistoryReader, **kwargs: Any) -> Any:
        calls.append((kwargs, self.last_id))
        return original(self, **kwargs)

    monkeypatch.setattr(HistoryReader, "_page", spy)
    wait_gate.polls = 3
    deployed = deploy(pipeline_definition(import_wait_seconds=60))
    result = run(["start", "--wait", "--name", "run-slow"], deployed.session, sleep=wait_gate.sleep)

    assert result.code == 0
    lines = result.out.splitlines()
    started = next(i for i, line in enumerate(lines) if "dataset import started [Import: wait]" in line)
    done = next(i for i, line in enumerate(lines) if "dataset import done after" in line)
    assert started < done
    assert sum("dataset import" in line for line in lines) == 2  # each transition printed once
    # forward while nothing is known yet (moto may not have logged ExecutionStarted on the first
    # poll), backwards from then on
    assert all(("reverseOrder" in kwargs) == (known > 0) for kwargs, known in calls)
    assert sum(known > 0 for _, known in calls) >= 2  # incremental reads did happen


def test_start_without_wait_prints_where_to_follow_the_run(
    deploy: Callable[..., Deployed], run: Callable[..., Result]
) -> None:
    deployed = deploy(pipeline_definition())
    result = run(["start", "--name", "fire-and-forget"], deployed.session)
    assert result.code == 0
    assert result.out.splitlines() == [
        "Started fire-and-forget on pbp-dev-pipeline",
        "  execution: arn:aws:states:us-east-1:123456789012:execution:pbp-dev-pipeline:fire-and-forget",
        "  console:   https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/"
        "arn:aws:states:us-east-1:123456789012:execution:pbp-dev-pipeline:fire-and-forget",
        "  follow:    python -m pipeline_cli --stack pbp-dev-pipeline status fire-and-forget",
    ]
    deployed.wait_direct(result.out.split("execution: ")[1].split()[0])


def test_ctrl_c_while_watching_exits_130_and_leaves_the_run_alone(
    deploy: Callable[..., Deployed], run: Callable[..., Result], wait_gate: WaitGate
) -> None:
    deployed = deploy(pipeline_definition(import_wait_seconds=60))

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    result = run(["start", "--wait", "--name", "watched"], deployed.session, sleep=interrupt)
    assert result.code == 130
    arn = "arn:aws:states:us-east-1:123456789012:execution:pbp-dev-pipeline:watched"
    assert result.err.strip() == f"error: stopped watching; the execution keeps running: {arn}"
    sfn = deployed.session.client("stepfunctions")
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    wait_gate.opened.set()
    assert deployed.wait_direct(arn) == "SUCCEEDED"


def test_live_display_on_a_terminal(deploy: Callable[..., Deployed], run: Callable[..., Result]) -> None:
    deployed = deploy(pipeline_definition(FAILING_BATCH))
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    result = run(["start", "--wait", "--name", "run-live", *FAST], deployed.session, console=console)
    assert result.code == 1
    screen = buffer.getvalue()
    assert "run-live  FAILED" in screen
    assert "failing state: BatchInference (batch inference)" in screen
    for label in ALL_STAGE_LABELS:
        assert label in screen
    final_frame = screen.rsplit("run-live  FAILED", 1)[1]
    assert "✖  batch inference  failed" in final_frame
    assert "-  post-processing  not run" in final_frame


def test_status_latest_by_name_and_json(deploy: Callable[..., Deployed], run: Callable[..., Result]) -> None:
    deployed = deploy(pipeline_definition(FAILING_BATCH))
    assert run(["start", "--wait", "--name", "first", *FAST], deployed.session).code == 1
    skipped_arn = deployed.start_direct("second", {"skip": True})
    assert deployed.wait_direct(skipped_arn) == "SUCCEEDED"

    latest = run(["status"], deployed.session)
    assert latest.code == 0
    assert "second  SKIPPED" in latest.out and "skipped by the overlap guard" in latest.out

    first = run(["status", "first"], deployed.session)
    assert first.code == 1
    assert "first  FAILED" in first.out
    assert f"cause: {FAILING_BATCH['Cause']}" in first.out
    assert "failing state: BatchInference (batch inference)" in first.out

    doc = json.loads(run(["status", "first", "--json"], deployed.session).out)
    assert doc["outcome"] == "FAILED" and doc["failedState"] == "BatchInference"
    assert doc["error"] == "BatchInferenceFailed"
    assert [(s["stage"], s["status"]) for s in doc["stages"]] == [
        ("guard", "done"),
        ("prepare", "done"),
        ("etl", "done"),
        ("modes", "done"),
        ("import", "done"),
        ("training", "done"),
        ("gate", "done"),
        ("NotifyOps", "done"),
        ("batch", "failed"),
        ("postprocess", "not run"),
    ]
    assert doc["startDate"].endswith("+00:00") and doc["durationSeconds"] >= 0

    by_arn = json.loads(run(["status", skipped_arn, "--json"], deployed.session).out)
    assert by_arn["outcome"] == "SKIPPED" and by_arn["skipReason"] == SKIP_REASON
    assert by_arn["stages"][0]["states"] == [
        "List running executions", "Other runs active?", "Skip: another run is active", "Skipped"
    ]


def test_status_of_a_successful_run_summarises_its_output(
    deploy: Callable[..., Deployed], run: Callable[..., Result]
) -> None:
    deployed = deploy(pipeline_definition())
    run(["start", "--wait", "--name", "good", *FAST], deployed.session)
    doc = json.loads(run(["status", "good", "--json"], deployed.session).out)
    assert doc["outcome"] == "SUCCEEDED"
    assert doc["summary"]["arns"] == {
        key: SUMMARY[key] for key in ("datasetImportJobArn", "solutionVersionArn", "batchInferenceJobArn")
    }
    assert doc["summary"]["locations"] == {"outputPrefix": f"s3://{CURATED_BUCKET}/runs/{RUN_ID}/batch-output/"}
    assert doc["output"] == SUMMARY
    assert doc["curatedRuns"] == f"s3://{CURATED_BUCKET}/runs/"
    assert doc["alertTopicArn"].startswith("arn:aws:sns:us-east-1:123456789012:")
    text = run(["status", "good"], deployed.session).out
    assert f"outputPrefix: {SUMMARY['outputPrefix']}" in text and "post-processing  done" in text


def test_history_table_and_json(deploy: Callable[..., Deployed], run: Callable[..., Result]) -> None:
    deployed = deploy(pipeline_definition())
    for i in range(3):
        assert run(["start", "--wait", "--name", f"run-{i}", *FAST], deployed.session).code == 0
    deployed.wait_direct(deployed.start_direct("run-3", {"skip": True}))

    rows = json.loads(run(["history", "--json"], deployed.session).out)
    assert [(r["name"], r["outcome"]) for r in rows] == [
        ("run-3", "SKIPPED"),
        ("run-2", "SUCCEEDED"),
        ("run-1", "SUCCEEDED"),
        ("run-0", "SUCCEEDED"),
    ]
    assert all(r["status"] == "SUCCEEDED" and r["durationSeconds"] >= 0 for r in rows)
    # Each run's model decision, training hours and estimated cost, from its output.
    assert rows[1]["accounting"] == {
        "modelDecision": "REJECTED",
        "reason": SUMMARY["modelDecisionReason"],
        "usedFallback": True,
        "trainingHours": 1.25,
        "glueDpuSeconds": 1200.0,
        "estimatedCost": SUMMARY["estimatedCost"],
        "solutions": [],  # a one-solution summary (before issue 13) lists none
        "modes": None,  # a summary from before the Choose modes stage
    }
    assert rows[0]["accounting"]["modelDecision"] is None  # a skipped run trained nothing

    two = run(["history", "-n", "2"], deployed.session)
    assert two.code == 0
    assert "run-3" in two.out and "SKIPPED" in two.out and "run-2" in two.out and "run-1" not in two.out
    assert "FALLBACK" in two.out and "1.25 h" in two.out and ">= 0.1467 USD" in two.out

    status = run(["status", "run-2"], deployed.session)
    assert "model:     REJECTED (fallback: last accepted version)" in status.out
    assert f"reason:    {SUMMARY['modelDecisionReason']}" in status.out
    assert "training:  1.25 h" in status.out and "glue:      1,200 DPU-seconds" in status.out
    assert "est. cost: >= 0.1467 USD" in status.out


def test_status_and_history_with_no_executions_yet(deploy: Callable[..., Deployed], run: Callable[..., Result]) -> None:
    deployed = deploy(pipeline_definition())
    assert run(["status", "--json"], deployed.session).out.strip() == "null"
    empty = run(["history"], deployed.session)
    assert empty.code == 0 and "no executions yet" in empty.out


def test_stack_option_works_after_the_subcommand(deploy: Callable[..., Deployed], run: Callable[..., Result]) -> None:
    deployed = deploy(pipeline_definition(), stack="pbp-prod-pipeline")
    assert run(["history", "--stack", "pbp-prod-pipeline"], deployed.session).code == 0
    assert run(["--stack", "pbp-prod-pipeline", "history"], deployed.session).code == 0
    assert run(["history"], deployed.session).code == 2  # default stack does not exist here


def test_entry_point_help_as_a_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline_cli", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m pipeline_cli" in proc.stdout
    assert "{start,status,history}" not in proc.stdout and "start" in proc.stdout
    assert "3  AWS access problem" in proc.stdout and "StateMachineArn" in proc.stdout


def test_several_solutions_each_show_their_stages_and_a_failed_one_fails_the_run(
    deploy: Callable[..., Deployed], run: Callable[..., Result]
) -> None:
    deployed = deploy(solutions_definition(failing=("segments",)))
    result = run(["start", "--wait", "--name", "run-two", *FAST], deployed.session)

    assert result.code == 1, result.out + result.err
    out = result.out
    for label in ("users training", "users quality gate", "users batch", "users post-process"):
        assert f"{label} done after" in out, label
    assert "segments training failed after" in out
    assert "failing state: Solutions failed (post-processing)" in out
    assert "error: SolutionsFailed" in out and "segments (TrainingFailed)" in out

    doc = json.loads(run(["status", "run-two", "--json"], deployed.session).out)
    stages = [(s["stage"], s["status"]) for s in doc["stages"]]
    # The branches run concurrently: the solutions are listed in the order they started, each one's stages together.
    users = [("users.training", "done"), ("users.gate", "done"), ("users.batch", "done"), ("users.postprocess", "done")]
    segments = [
        ("segments.training", "failed"),
        ("segments.gate", "not run"),
        ("segments.batch", "not run"),
        ("segments.postprocess", "not run"),
    ]
    run_level = [("guard", "done"), ("prepare", "done"), ("etl", "done"), ("import", "done"), ("solutions", "done")]
    assert stages[:5] == run_level and stages[-1] == ("postprocess", "failed")
    assert stages[5:-1] in (users + segments, segments + users)


def test_several_solutions_that_succeed_list_each_decision(
    deploy: Callable[..., Deployed], run: Callable[..., Result]
) -> None:
    deployed = deploy(solutions_definition())
    assert run(["start", "--wait", "--name", "run-ok", *FAST], deployed.session).code == 0
    status = run(["status", "run-ok"], deployed.session)
    assert status.code == 0
    assert "solutions:" in status.out
    assert "users     SUCCEEDED  model ACCEPTED" in status.out
    assert "segments  SUCCEEDED  model ACCEPTED" in status.out
    rows = json.loads(run(["history", "--json"], deployed.session).out)
    assert [o["name"] for o in rows[0]["accounting"]["solutions"]] == ["users", "segments"]
    history = run(["history"], deployed.session)
    assert history.code == 0
    flat = " ".join(history.out.split())  # the model column folds in a narrow terminal
    assert "users" in flat and "segments" in flat and "ACCEPTED" in flat
