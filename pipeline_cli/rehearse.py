"""`python -m pipeline_cli rehearse`: a whole run of a named configuration, locally (`make rehearse`).

No AWS account, no credentials, no network: the configuration is synthesized, its state machine runs in the
offline interpreter with the real functions, the real Glue transform runs on local Spark, and a stand-in that is
NOT Amazon Personalize trains and answers (`pipeline_rehearsal/rehearsal.py` does the work). This module parses,
prints and maps the outcome to an exit code. What it prints per run: each stage with its simulated time (as
`start --wait` logs them), the counts (users, items, rows per kind), the stand-in's metrics and the gate's
decisions, the modes and the cost estimate (as `status` prints them), where the files are; a failure as `status`
reports it (failing state, error, cause). The functions' logs and Spark's go to `<output>/rehearsal.log`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from .errors import CliError, ExitCode
from .formatting import RunAccounting, format_duration
from .render import TransitionLog, print_accounting, print_failure
from .children import merged_history
from .stages import build_timeline

DEFAULT_OUTPUT = "local-output/rehearsal"
LOG_NAME = "rehearsal.log"


def add_parser(sub: Any) -> None:
    """The `rehearse` subcommand and its options."""
    parser = sub.add_parser(
        "rehearse",
        help="rehearse whole runs locally: synthesized state machine, real functions and Glue transform (local "
        "Spark), a stand-in for Personalize; no AWS account",
    )
    parser.add_argument(
        "--config", metavar="NAME", default=argparse.SUPPRESS,
        help="the named configuration to rehearse (config/NAME.json over cdk.json; default: cdk.json's)",
    )  # fmt: skip
    parser.add_argument(
        "--input", metavar="PATH", type=Path,
        help="a folder laid out as the raw bucket (it holds the configuration's raw_prefix, e.g. ratings/, and the "
        "metadata prefixes), or a ratings file or folder (default: the bundled sample, ratings and metadata)",
    )  # fmt: skip
    parser.add_argument(
        "--output", metavar="DIR", type=Path, default=Path(DEFAULT_OUTPUT),
        help="where each run's curated and transformed folders are copied, as <DIR>/<run id>/ (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--runs", metavar="N", type=int, default=1,
        help="consecutive runs, a week apart, against the same stand-in state (default: 1)",
    )  # fmt: skip


def rehearse(args: argparse.Namespace, console: Console) -> int:
    """Runs the rehearsal; 0 when every run succeeded (or was skipped), 1 otherwise."""
    if args.runs < 1:
        raise CliError(f"--runs has value {args.runs}; allowed: an integer >= 1", ExitCode.USAGE)
    if args.input is not None and not args.input.exists():
        raise CliError(f"--input {args.input}: no such file or folder", ExitCode.USAGE)
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from stacks.app_factory import DEFAULT_CONFIGURATION
    from stacks.config import ConfigError

    configuration = getattr(args, "config", DEFAULT_CONFIGURATION)
    args.output.mkdir(parents=True, exist_ok=True)
    log = args.output / LOG_NAME
    log.write_bytes(b"")  # this rehearsal's logs only
    started = time.monotonic()
    console.print(Text(f"Rehearsing configuration {configuration!r} locally (no AWS account is used)."))
    console.print(Text(f"Note: {_notice()}", style="yellow"), soft_wrap=True)
    try:
        with _quiet(log):
            spark = _spark_in_background()
            app, templates = _synthesize(configuration)
    except ConfigError as error:
        raise CliError(str(error), ExitCode.USAGE) from None
    console.print(Text(f"Synthesized {', '.join(templates)} in {time.monotonic() - started:.0f} s."))
    return _run_all(args, console, app, templates, spark, log, started)


def _run_all(
    args: argparse.Namespace, console: Console, app: Any, templates: Any, spark: Any, log: Path, started: float
) -> int:
    from pipeline_rehearsal.rehearsal import Rehearsal
    from pipeline_rehearsal.sample import write_sample

    failed = 0
    with tempfile.TemporaryDirectory(prefix="rehearsal-input-") as sample:
        source = args.input or write_sample(Path(sample))
        console.print(Text(f"Input: {args.input or 'the bundled sample (ratings and metadata)'}"), soft_wrap=True)
        with Rehearsal(app, templates, input_path=source, output=args.output, spark=spark) as rehearsal:
            for number in range(1, args.runs + 1):
                console.print(Text(f"\nRun {number} of {args.runs} running (a run's hours take about a minute)...",
                                   style="dim"))  # fmt: skip
                with _quiet(log):
                    outcome = rehearsal.run()
                print_run(console, outcome, runs=args.runs)
                failed += outcome.result.status != "SUCCEEDED"
    console.print(Text(f"Files: {args.output}/<run id>/ (curated/, transformed/); logs: {log}"), soft_wrap=True)
    console.print(Text(f"Rehearsal done in {time.monotonic() - started:.0f} s (wall)."))
    return ExitCode.RUN_FAILED if failed else ExitCode.OK


def _notice() -> str:
    from pipeline_rehearsal.rehearsal import STAND_IN_NOTICE

    return STAND_IN_NOTICE


def _synthesize(configuration: str) -> tuple[Any, dict[str, Any]]:
    from pipeline_rehearsal.rehearsal import synthesize

    return synthesize(configuration)


def _spark_in_background() -> Any:
    """Starts the local Spark session (a JVM: seconds) beside the synth; returns what gives it once it is up."""
    from glue_src.local_spark import local_spark_session

    session: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: session.setdefault("spark", local_spark_session(
        app_name="personalize-rehearsal")), daemon=True)  # fmt: skip
    thread.start()

    def spark() -> Any:
        thread.join()
        return session.get("spark") or local_spark_session(app_name="personalize-rehearsal")

    return spark


@contextlib.contextmanager
def _quiet(log: Path) -> Iterator[None]:
    """The process's stdout and stderr (the functions' JSON logs, Spark's, CDK's) appended to `log` meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("ab") as target:
        os.dup2(target.fileno(), 1)
        os.dup2(target.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def print_run(console: Console, outcome: Any, *, runs: int) -> None:
    """One rehearsed run: stages, path, counts, metrics and decisions, cost, files; or the failure."""
    result = outcome.result
    # Each import and solution runs in a child execution of its own: its stages are in the child's history, folded
    # into the run's as `status` does (pipeline_cli/children.py).
    events = merged_history(
        _as_boto3_history(result.events), [_as_boto3_history(child) for child in result.child_histories]
    )
    timeline = build_timeline(events, {"status": result.status, "error": result.error, "cause": result.cause})
    start = timeline.started
    when = f" at {start:%Y-%m-%d %H:%M} UTC (simulated)" if isinstance(start, datetime) else ""
    console.print(Text(f"Run {outcome.number} of {runs}: execution {result.name}{when}", style="bold"))
    ended = timeline.stopped or timeline.started
    if ended is not None:
        TransitionLog(console, clock=lambda: ended).update(timeline)
    stages = " -> ".join(stage.label for stage in timeline.stages if stage.started is not None)
    console.print(Text(f"  path: {stages} ({len(result.all_states_entered)} states entered)"), soft_wrap=True)
    _print_counts(console, outcome)
    _print_metrics(console, outcome.metrics, result.output)
    if result.status == "SUCCEEDED":
        print_accounting(console, RunAccounting.of(result.output))
    else:
        print_accounting(console, RunAccounting.of(None, result.error, result.cause))
        print_failure(console, timeline)
    for name, folder in outcome.copied.items():
        console.print(Text(f"  {name + ':':<12} {folder}/"), soft_wrap=True)
    simulated = format_duration(outcome.ended_at - outcome.started_at)
    console.print(Text.assemble(
        (f"  {result.status}", "bold green" if result.status == "SUCCEEDED" else "bold red"),
        f" after {simulated} (simulated), {outcome.wall_seconds:.0f} s (wall)",
    ))  # fmt: skip


def _as_boto3_history(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [_as_boto3_event(event, index) for index, event in enumerate(events, start=1)]


def _as_boto3_event(event: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The offline history (moto's) holds ISO timestamps and enum types; the timeline reads boto3's datetimes and
    text."""
    stamp, kind = event["timestamp"], event["type"]
    return {
        **event,
        "id": index,
        "timestamp": stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp)),
        "type": str(getattr(kind, "value", kind)),
    }


def _print_counts(console: Console, outcome: Any) -> None:
    summary: Mapping[str, Any] = (outcome.glue.summary or {}) if outcome.glue else {}
    counts = summary.get("counts") or {}
    if counts:
        console.print(Text(
            f"  ETL:        {counts.get('rows_read', 0):,} rows read, {counts.get('kept', 0):,} interactions kept, "
            f"{counts.get('distinct_users', 0):,} users, {counts.get('distinct_items', 0):,} items, "
            f"{counts.get('rejected', 0):,} rejected, {counts.get('filtered_by_rating', 0):,} below min_rating"
        ), soft_wrap=True)  # fmt: skip
    for kind, section in (summary.get("metadata") or {}).items():
        if isinstance(section, Mapping) and section.get("status"):
            rows = (section.get("counts") or {}).get("rows_written", section.get("rows_written", "-"))
            console.print(Text(f"  {kind + ':':<11} {section['status']}, {rows} rows"), soft_wrap=True)
    for name, section in ((outcome.manifest or {}).get("solutions") or {}).items():
        out = section.get("outputs") or {}
        console.print(Text(
            f"  {name} ({section.get('kind')}): {out.get('lines', 0):,} lines, {out.get('rows', 0):,} rows, "
            f"{out.get('errors', 0):,} errored, {len(out.get('files') or []):,} file(s)"
        ), soft_wrap=True)  # fmt: skip


def _print_metrics(console: Console, metrics: Mapping[str, Mapping[str, float]], output: Any) -> None:
    """Each solution's stand-in metrics and the gate's reason for its decision (first run, or against the last
    accepted version)."""
    listed = output.get("solutions") if isinstance(output, Mapping) else None
    gates = {s.get("name"): (s.get("gate") or {}).get("reason") for s in listed or () if isinstance(s, Mapping)}
    for name, values in metrics.items():
        shown = ", ".join(f"{key} {value:g}" for key, value in sorted(values.items()))
        console.print(Text(f"  stand-in metrics of {name}: {shown or 'none'}", style="dim"), soft_wrap=True)
        if gates.get(name):
            console.print(Text(f"    gate: {gates[name]}", style="dim"), soft_wrap=True)
