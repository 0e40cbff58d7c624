"""Rendering with rich: the live progress display, status panel and history table.

Everything here takes already-computed data (`Timeline`, describe results) and only draws it,
so the look can change without touching AWS code or the timeline logic. Text that comes from
AWS (causes, names) is always wrapped in `Text`, never parsed as rich markup: a Glue or
Personalize error message full of `[...]` must print verbatim.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from pipeline_contracts.run_modes import IMPORTS, TRAINING

from .formatting import OutputSummary, RunAccounting, format_duration, format_time
from .names import console_url
from .outputs import Pipeline
from .stages import Stage, StageStatus, Timeline, skip_reason

__all__ = [
    "Clock",
    "utc_now",
    "stage_table",
    "ProgressView",
    "TransitionLog",
    "print_started",
    "print_result",
    "print_status",
    "print_history",
    "print_failure",
    "print_accounting",
]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


_STYLE = {
    StageStatus.DONE: "green",
    StageStatus.RUNNING: "yellow",
    StageStatus.FAILED: "bold red",
    StageStatus.PENDING: "dim",
    StageStatus.NOT_RUN: "dim",
}
_ICONS_UNICODE = {
    StageStatus.DONE: "✔",
    StageStatus.RUNNING: "▶",
    StageStatus.FAILED: "✖",
    StageStatus.PENDING: "·",
    StageStatus.NOT_RUN: "-",
}
_ICONS_ASCII = {
    StageStatus.DONE: "+",
    StageStatus.RUNNING: ">",
    StageStatus.FAILED: "x",
    StageStatus.PENDING: ".",
    StageStatus.NOT_RUN: "-",
}
_OUTCOME_STYLE = {
    "SUCCEEDED": "bold green",
    "SKIPPED": "bold cyan",
    "RUNNING": "bold yellow",
    "PENDING_REDRIVE": "bold yellow",
}


def _icons(console: Console) -> Mapping[StageStatus, str]:
    # cron mails and some CI logs are not UTF-8; fall back rather than crash on encode.
    return _ICONS_UNICODE if console.encoding.lower().startswith("utf") else _ICONS_ASCII


def _outcome_text(outcome: str) -> Text:
    return Text(outcome, style=_OUTCOME_STYLE.get(outcome, "bold red"))


def stage_table(timeline: Timeline, now: datetime, console: Console) -> Table:
    """The stage list: one row per stage with its status, duration and the states seen in it."""
    icons = _icons(console)
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("", width=1)
    table.add_column("stage")
    table.add_column("status")
    table.add_column("duration", justify="right")
    table.add_column("state", overflow="fold")
    for stage in timeline.stages:
        style = _STYLE[stage.status]
        table.add_row(
            Text(icons[stage.status], style=style),
            Text(stage.label, style=style if stage.status in (StageStatus.PENDING, StageStatus.NOT_RUN) else ""),
            Text(stage.status.value, style=style),
            Text(format_duration(stage.duration(now)) if stage.started else ""),
            Text(_state_hint(timeline, stage), style="dim"),
        )
    return table


def _state_hint(timeline: Timeline, stage: Stage) -> str:
    """What a running or failed stage is (was) doing; nothing for the rest (a stage can have a
    dozen states, e.g. a polling loop: `--json` lists them all)."""
    if stage.last_state is None or stage.last_state == stage.key:
        return ""
    if stage.status is StageStatus.FAILED:
        return timeline.failed_state if timeline.failed_state in stage.states else stage.last_state
    if stage.status is StageStatus.RUNNING:
        return stage.last_state
    return ""


def _current(timeline: Timeline) -> Text:
    state = timeline.failed_state or timeline.current_state
    if state is None:
        return Text("")
    stage = timeline.stage_for_state(state)
    label = "failing state" if timeline.failed_state else "current state"
    suffix = f" ({stage.label})" if stage is not None and stage.label != state else ""
    return Text.assemble((f"{label}: ", "bold"), state + suffix)


class ProgressView:
    """The live display of `start --wait` on a terminal; re-rendered by rich every refresh.

    `update` swaps in a new timeline (an atomic attribute assignment, safe against rich's refresh
    thread); the elapsed time is computed at render time so it ticks between polls.
    """

    def __init__(self, console: Console, name: str, timeline: Timeline, clock: Clock = utc_now) -> None:
        self._console = console
        self._name = name
        self._timeline = timeline
        self._clock = clock
        self.polled_at: datetime | None = None

    def update(self, timeline: Timeline) -> None:
        self._timeline = timeline
        self.polled_at = self._clock()

    def __rich__(self) -> RenderableType:
        now = self._clock()
        tl = self._timeline
        header = Text.assemble(
            (self._name, "bold"),
            "  ",
            _outcome_text(tl.outcome),
            f"  elapsed {format_duration(tl.elapsed(now))}",
        )
        parts: list[RenderableType] = [header, _current(tl), stage_table(tl, now, self._console)]
        if self.polled_at is not None:
            parts.append(Text(f"last poll {format_duration((now - self.polled_at).total_seconds())} ago", style="dim"))
        return Group(*parts)


class TransitionLog:
    """The non-terminal form of the progress display: one line per stage transition.

    A live display redrawn in place is unreadable in a CI log or a cron mail; transitions with
    their offset from the start are what such a log needs.
    """

    def __init__(self, console: Console, clock: Clock = utc_now) -> None:
        self._console = console
        self._clock = clock
        self._seen: dict[str, StageStatus] = {}

    def update(self, timeline: Timeline) -> None:
        for stage in timeline.stages:
            before = self._seen.get(stage.key)
            if before == stage.status or stage.status in (StageStatus.PENDING, StageStatus.NOT_RUN):
                continue
            self._seen[stage.key] = stage.status
            self._console.print(self._line(timeline, stage), soft_wrap=True)

    def _line(self, timeline: Timeline, stage: Stage) -> Text:
        at = stage.ended if stage.status in (StageStatus.DONE, StageStatus.FAILED) else stage.started
        offset = (at - timeline.started).total_seconds() if at and timeline.started else None
        if stage.status is StageStatus.RUNNING:
            what, state = "started", stage.states[0] if stage.states else None
        else:
            what = f"{stage.status.value} after {format_duration(stage.duration(self._clock()))}"
            state = _state_hint(timeline, stage) or None
        states = f" [{state}]" if state and state != stage.key else ""
        return Text.assemble(
            (f"+{format_duration(offset):>7}  ", "dim"),
            (stage.label, _STYLE[stage.status]),
            f" {what}",
            (states, "dim"),
        )


def print_started(console: Console, pipeline: Pipeline, execution_arn: str, name: str, waiting: bool) -> None:
    console.print(Text.assemble("Started ", (name, "bold"), f" on {pipeline.state_machine_name}"))
    console.print(Text(f"  execution: {execution_arn}"), soft_wrap=True)
    console.print(Text(f"  console:   {console_url(execution_arn)}"), soft_wrap=True)
    if not waiting:
        follow = f"  follow:    python -m pipeline_cli --stack {pipeline.stack_name} status {name}"
        console.print(Text(follow), soft_wrap=True)


def print_failure(console: Console, timeline: Timeline) -> None:
    if timeline.failed_state:
        stage = timeline.stage_for_state(timeline.failed_state)
        where = f" ({stage.label})" if stage is not None and stage.label != timeline.failed_state else ""
        console.print(Text(f"  failing state: {timeline.failed_state}{where}"), soft_wrap=True)
    if timeline.error:
        console.print(Text(f"  error: {timeline.error}", style="red"), soft_wrap=True)
    if timeline.cause:
        console.print(Text(f"  cause: {timeline.cause}", style="red"), soft_wrap=True)


def _print_summary(console: Console, summary: OutputSummary, pipeline: Pipeline) -> None:
    for path, arn in summary.arns:
        console.print(Text(f"  {path}: {arn}"), soft_wrap=True)
    for path, location in summary.locations:
        console.print(Text(f"  {path}: {location}"), soft_wrap=True)
    if not summary.locations and pipeline.curated_runs_uri:
        # the output named no location: say at least where runs write
        console.print(Text(f"  run outputs are under: {pipeline.curated_runs_uri}"), soft_wrap=True)


def print_result(
    console: Console,
    pipeline: Pipeline,
    name: str,
    timeline: Timeline,
    summary: OutputSummary,
    now: datetime,
) -> None:
    """The closing lines of `start --wait`: the outcome, and why when it did not succeed."""
    console.print(
        Text.assemble(
            (name, "bold"), " ", _outcome_text(timeline.outcome), f" after {format_duration(timeline.elapsed(now))}"
        )
    )
    if timeline.skipped:
        reason = skip_reason(timeline.output)
        console.print(Text(f"  skipped by the overlap guard{': ' + reason if reason else ''}"), soft_wrap=True)
    elif timeline.status == "SUCCEEDED":
        _print_summary(console, summary, pipeline)
    else:
        print_failure(console, timeline)
        if pipeline.alert_topic_arn:
            console.print(Text(f"  alerts go to: {pipeline.alert_topic_arn}", style="dim"), soft_wrap=True)


def print_status(
    console: Console,
    pipeline: Pipeline,
    description: Mapping[str, Any],
    timeline: Timeline,
    summary: OutputSummary,
    now: datetime,
) -> None:
    """`status`: one execution in full."""
    name = str(description.get("name", ""))
    arn = str(description.get("executionArn", ""))
    console.print(Text.assemble((name, "bold"), "  ", _outcome_text(timeline.outcome)))
    rows = [
        ("execution", arn),
        ("started", format_time(timeline.started)),
        ("stopped", format_time(timeline.stopped) if timeline.stopped else "-"),
        ("duration", format_duration(timeline.elapsed(now)) + ("" if timeline.finished else " (running)")),
        ("console", console_url(arn)),
    ]
    for key, value in rows:
        console.print(Text(f"  {key + ':':<10} {value}"), soft_wrap=True)
    if not timeline.finished and timeline.current_state:
        console.print(Text.assemble("  ", _current(timeline)), soft_wrap=True)
    if timeline.stages:
        console.print(stage_table(timeline, now, console))
    if timeline.skipped:
        reason = skip_reason(timeline.output)
        console.print(Text(f"  skipped by the overlap guard{': ' + reason if reason else ''}"), soft_wrap=True)
    elif timeline.status == "SUCCEEDED":
        print_accounting(console, RunAccounting.of(timeline.output))
        _print_summary(console, summary, pipeline)
    elif timeline.finished:
        print_accounting(console, RunAccounting.of(None, timeline.error, timeline.cause))
        print_failure(console, timeline)


def _print_modes(console: Console, modes: Mapping[str, Any] | None) -> None:
    """The import and training modes the run chose ("Choose modes"), one line each with its reason."""
    chosen = [
        (f"{group.rstrip('s')} {name}", entry)
        for group in (IMPORTS, TRAINING)
        for name, entry in ((modes or {}).get(group) or {}).items()
        if isinstance(entry, Mapping)
    ]
    if not chosen:
        return
    console.print(Text("  modes:"), soft_wrap=True)
    width = max(len(label) for label, _ in chosen)
    for label, entry in chosen:
        console.print(Text(f"    {label:<{width}}  {entry.get('mode')}  ({entry.get('reason')})"), soft_wrap=True)


def print_accounting(console: Console, accounting: RunAccounting) -> None:
    """The model decision (plainly saying when the last accepted version stood in), training hours and cost;
    with several solutions, one line per solution: its status and decision, FALLBACK marked."""
    if accounting.solutions:
        _print_solutions(console, accounting)
    elif not accounting.decision:
        return
    else:
        style = "yellow" if accounting.used_fallback or accounting.decision != "ACCEPTED" else ""
        console.print(Text(f"  model:     {accounting.model}", style=style), soft_wrap=True)
        if accounting.reason:
            console.print(Text(f"  reason:    {accounting.reason}"), soft_wrap=True)
    _print_modes(console, accounting.modes)
    if accounting.training_hours is not None:
        console.print(Text(f"  training:  {accounting.training_hours:g} h"), soft_wrap=True)
    if accounting.glue_dpu_seconds is not None:
        console.print(Text(f"  glue:      {accounting.glue_dpu_seconds:,.0f} DPU-seconds"), soft_wrap=True)
    if accounting.cost:
        console.print(Text(f"  est. cost: {accounting.estimated_cost}"), soft_wrap=True)


def _print_solutions(console: Console, accounting: RunAccounting) -> None:
    console.print(Text("  solutions:"), soft_wrap=True)
    width = max(len(o.name) for o in accounting.solutions)
    for outcome in accounting.solutions:
        fallback = " (FALLBACK: last accepted version)" if outcome.used_fallback else ""
        decision = f"  model {outcome.decision}{fallback}" if outcome.decision else ""
        bad = outcome.status != "SUCCEEDED" or outcome.used_fallback or outcome.decision not in (None, "ACCEPTED")
        line = f"    {outcome.name:<{width}}  {outcome.status}{decision}"
        console.print(Text(line, style="yellow" if bad else ""), soft_wrap=True)
        if outcome.reason and (outcome.used_fallback or outcome.decision != "ACCEPTED"):
            console.print(Text(f"    {'':<{width}}  reason: {outcome.reason}"), soft_wrap=True)


def print_history(console: Console, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
    """`history`: one row per execution, newest first."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("name", overflow="fold")
    table.add_column("status")
    table.add_column("started")
    table.add_column("duration", justify="right")
    table.add_column("model", overflow="fold")
    table.add_column("training", justify="right", no_wrap=True)
    table.add_column("est. cost", justify="right", no_wrap=True)
    for row in rows:
        accounting = RunAccounting.of(row.get("output"))
        start, stop = row.get("startDate"), row.get("stopDate")
        seconds = ((stop or now) - start).total_seconds() if start else None
        running = "" if stop else " (running)"
        table.add_row(
            Text(str(row.get("name", ""))),
            _outcome_text(str(row.get("outcome", row.get("status", "")))),
            Text(format_time(start)),
            Text(format_duration(seconds) + running),
            Text(accounting.model_short),
            Text(f"{accounting.training_hours:g} h" if accounting.training_hours is not None else "-"),
            Text(accounting.estimated_cost),
        )
    console.print(table)
