"""The three commands: glue between the AWS gateway, the pure timeline logic and rendering.

Each command returns its exit code and raises `CliError` for expected failures; `__main__`
turns those into one line on stderr. Clock, sleep and console are injectable so tests run a
real poll loop in milliseconds.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline_contracts.run_modes import RETRAIN_NOW
from rich.console import Console
from rich.live import Live

from .aws import Gateway
from .errors import CliError, ExitCode
from .formatting import OutputSummary, RunAccounting, iso, summarize_output
from .names import (
    console_url,
    execution_arn_for,
    execution_name_of,
    execution_name_problem,
    execution_name_warning,
    is_execution_arn,
)
from .outputs import Pipeline
from .render import (
    Clock,
    ProgressView,
    TransitionLog,
    print_history,
    print_result,
    print_started,
    print_status,
    utc_now,
)
from .stages import FAILED_STATUSES, RUNNING_STATUSES, Timeline, build_timeline, is_skipped, skip_reason

__all__ = ["Context", "start", "status", "history", "exit_code_for", "status_document", "history_document"]


@dataclass
class Context:
    """What every command needs; built once by `main`."""

    gateway: Gateway
    stack: str
    console: Console
    clock: Clock = utc_now
    sleep: Callable[[float], None] = field(default=time.sleep)


def exit_code_for(timeline: Timeline) -> ExitCode:
    """0 for succeeded, skipped or still running; 1 for failed, timed out or aborted."""
    return ExitCode.RUN_FAILED if timeline.status in FAILED_STATUSES else ExitCode.OK


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


# --- start ------------------------------------------------------------------------------


def start(
    ctx: Context, name: str | None, wait: bool, poll_interval: float, *, full_rebuild: bool = False,
    retrain_now: bool = False,
) -> int:
    """Start a run (input `{}`, with `"full_rebuild": true` and / or `"retrain_now": true` when asked), print where
    to find it, and optionally watch it."""
    if name is not None:
        problem = execution_name_problem(name)
        if problem:
            raise CliError(f"invalid --name {name!r}: {problem}", ExitCode.USAGE)
        warning = execution_name_warning(name)
        if warning:
            _warn(f"--name {name!r}: {warning}")
    pipeline = ctx.gateway.find_pipeline(ctx.stack)
    execution_input = {
        **({"full_rebuild": True} if full_rebuild else {}),
        **({RETRAIN_NOW: True} if retrain_now else {}),
    }
    started = ctx.gateway.start_execution(pipeline.state_machine_arn, name, execution_input)
    arn = str(started["executionArn"])
    run_name = execution_name_of(arn)
    print_started(ctx.console, pipeline, arn, run_name, wait)
    if not wait:
        return ExitCode.OK
    try:
        timeline = watch(ctx, arn, run_name, poll_interval, started.get("startDate"))
    except KeyboardInterrupt:
        raise CliError(f"stopped watching; the execution keeps running: {arn}", ExitCode.INTERRUPTED) from None
    summary = summarize_output(timeline.output) if timeline.status == "SUCCEEDED" else OutputSummary()
    print_result(ctx.console, pipeline, run_name, timeline, summary, ctx.clock())
    return exit_code_for(timeline)


def watch(ctx: Context, execution_arn: str, name: str, poll_interval: float, start_date: datetime | None) -> Timeline:
    """Poll history (incrementally) and describe_execution until the execution ends.

    The history gives the stages; describe is the authority on the end (status, error, cause,
    output). When describe reports the end, the history is read once more so the final
    events of the last poll are not missed.
    """
    reader = ctx.gateway.run_history(execution_arn)
    events: list[Mapping[str, Any]] = []
    timeline = build_timeline([], {"status": "RUNNING", "startDate": start_date})
    if ctx.console.is_terminal:
        view = ProgressView(ctx.console, name, timeline, ctx.clock)
        with Live(view, console=ctx.console, refresh_per_second=2, transient=False) as live:
            timeline = _poll(ctx, reader, execution_arn, events, poll_interval, view.update)
            live.refresh()
        return timeline
    log = TransitionLog(ctx.console, ctx.clock)
    return _poll(ctx, reader, execution_arn, events, poll_interval, log.update)


def _poll(
    ctx: Context,
    reader: Any,
    execution_arn: str,
    events: list[Mapping[str, Any]],
    poll_interval: float,
    update: Callable[[Timeline], None],
) -> Timeline:
    while True:
        events[:] = reader.read()
        description = ctx.gateway.describe_execution(execution_arn)
        if description.get("status") not in RUNNING_STATUSES:
            events[:] = reader.read()
        timeline = build_timeline(events, description)
        update(timeline)
        if timeline.finished:
            return timeline
        ctx.sleep(poll_interval)


# --- status -----------------------------------------------------------------------------


def _resolve_execution(ctx: Context, pipeline: Pipeline, execution: str | None) -> str | None:
    """An execution ARN from a name, an ARN, or nothing (the latest run; None if there is none)."""
    if execution is None:
        latest = ctx.gateway.list_executions(pipeline.state_machine_arn, 1)
        return str(latest[0]["executionArn"]) if latest else None
    if is_execution_arn(execution):
        return execution
    problem = execution_name_problem(execution)
    if problem:
        raise CliError(f"invalid execution name {execution!r}: {problem}", ExitCode.USAGE)
    return execution_arn_for(pipeline.state_machine_arn, execution)


def status(ctx: Context, execution: str | None, as_json: bool) -> int:
    """One execution in full; exit code as for `start --wait` (a running one exits 0)."""
    pipeline = ctx.gateway.find_pipeline(ctx.stack)
    arn = _resolve_execution(ctx, pipeline, execution)
    if arn is None:
        if as_json:
            print("null")
        else:
            ctx.console.print(f"no executions yet on {pipeline.state_machine_name}")
        return ExitCode.OK
    try:
        description = ctx.gateway.describe_execution(arn)
    except CliError as exc:
        if exc.exit_code is ExitCode.USAGE and execution is not None and not is_execution_arn(execution):
            raise CliError(
                f"no execution named {execution!r} on {pipeline.state_machine_name} (see `history`)", ExitCode.USAGE
            ) from exc
        raise
    events = ctx.gateway.run_history(arn).read()
    timeline = build_timeline(events, description)
    summary = summarize_output(timeline.output) if timeline.status == "SUCCEEDED" else OutputSummary()
    now = ctx.clock()
    if as_json:
        print(json.dumps(status_document(pipeline, description, timeline, summary, now), indent=2))
    else:
        print_status(ctx.console, pipeline, description, timeline, summary, now)
    return exit_code_for(timeline)


def status_document(
    pipeline: Pipeline,
    description: Mapping[str, Any],
    timeline: Timeline,
    summary: OutputSummary,
    now: datetime,
) -> dict[str, Any]:
    """`status --json`: a stable, documented shape for scripts (times ISO 8601 UTC, seconds)."""
    name = str(description.get("name", ""))
    output: Any = timeline.output
    if isinstance(output, str):
        try:
            output = json.loads(output)
        except ValueError:
            pass
    return {
        "name": name,
        "executionArn": description.get("executionArn"),
        "stateMachineArn": pipeline.state_machine_arn,
        "status": timeline.status,
        "outcome": timeline.outcome,
        "startDate": iso(timeline.started),
        "stopDate": iso(timeline.stopped),
        "durationSeconds": timeline.elapsed(now),
        "currentState": None if timeline.finished else timeline.current_state,
        "failedState": timeline.failed_state,
        "error": timeline.error,
        "cause": timeline.cause,
        "skipReason": skip_reason(timeline.output) if timeline.skipped else None,
        "stages": [
            {
                "stage": s.key,
                "label": s.label,
                "status": s.status.value,
                "startDate": iso(s.started),
                "endDate": iso(s.ended),
                "durationSeconds": s.duration(now),
                "states": list(s.states),
            }
            for s in timeline.stages
        ],
        "summary": summary.to_json(),
        "accounting": RunAccounting.of(timeline.output, timeline.error, timeline.cause).to_json(),
        "curatedRuns": pipeline.curated_runs_uri,
        "alertTopicArn": pipeline.alert_topic_arn,
        "output": output,
        "consoleUrl": console_url(str(description.get("executionArn", ""))),
    }


# --- history ----------------------------------------------------------------------------


def history(ctx: Context, limit: int, as_json: bool) -> int:
    """The last `limit` runs, newest first.

    `list_executions` has no output, so each SUCCEEDED run is described once to tell runs the
    overlap guard skipped from real ones (N small calls; standard retries absorb throttling).
    """
    pipeline = ctx.gateway.find_pipeline(ctx.stack)
    rows: list[dict[str, Any]] = []
    for item in ctx.gateway.list_executions(pipeline.state_machine_arn, limit):
        row = dict(item)
        row["outcome"] = row.get("status")
        if row.get("status") == "SUCCEEDED":
            description = ctx.gateway.describe_execution(str(row["executionArn"]))
            row["output"] = description.get("output")
            if is_skipped(description.get("output")):
                row["outcome"] = "SKIPPED"
        rows.append(row)
    now = ctx.clock()
    if as_json:
        print(json.dumps(history_document(rows, now), indent=2))
    elif not rows:
        ctx.console.print(f"no executions yet on {pipeline.state_machine_name}")
    else:
        print_history(ctx.console, rows, now)
    return ExitCode.OK


def history_document(rows: Sequence[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        start, stop = row.get("startDate"), row.get("stopDate")
        out.append(
            {
                "name": row.get("name"),
                "executionArn": row.get("executionArn"),
                "status": row.get("status"),
                "outcome": row.get("outcome", row.get("status")),
                "startDate": iso(start),
                "stopDate": iso(stop),
                "durationSeconds": ((stop or now) - start).total_seconds() if start else None,
                "accounting": RunAccounting.of(row.get("output")).to_json(),
            }
        )
    return out
