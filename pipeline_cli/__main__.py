"""`python -m pipeline_cli`: argument parsing and the error -> exit code boundary, nothing else."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from collections.abc import Callable, Sequence

import boto3
from botocore.exceptions import BotoCoreError
from rich.console import Console

from . import __version__
from .aws import Gateway, make_session
from .checks import Environment, data_stack_name
from .checks.reader import AwsReader
from .commands import Context, history, start, status
from .doctor import doctor
from .errors import CliError, ExitCode, translate_botocore_error
from .graph import definition_from_template, render_graph
from .configurations import DEFAULT_CONFIGURATION, configuration_names, pipeline_stack_name
from .outputs import OPTIONAL_OUTPUTS, REQUIRED_OUTPUTS
from .render import Clock, utc_now
from .rehearse import add_parser as add_rehearse_parser
from .rehearse import rehearse
from .stages import STAGES

EPILOG = f"""\
exit codes:
  0  succeeded, or skipped by the overlap guard (status: also still running); doctor: no check failed
  1  the execution failed, timed out or was aborted; doctor: a check failed
  2  usage or configuration error: bad arguments, unknown stack/profile/execution, missing output
  3  AWS access problem: no or expired credentials, access denied, throttled, unreachable
     (doctor: a check could not make a read call it needs, and none failed)
  130  interrupted while watching (the execution keeps running)

The stack must have the output {", ".join(REQUIRED_OUTPUTS)} (optional: {", ".join(OPTIONAL_OUTPUTS)}).
Stages are recognised by state-name prefix: {"; ".join(f"{s.label}: {'/'.join(s.prefixes)}" for s in STAGES)};
each solution n has the stages "n training", "n quality gate", "n batch" and "n post-process" (states named
"n training: ...", "n: read solution ARN", ...); other states are shown under their own name.
"""


SYNTH_DIR = "cdk.out"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    # The connection options work before or after the subcommand (SUPPRESS keeps a later
    # position from overwriting an earlier one with the default).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--stack", default=argparse.SUPPRESS, help="pipeline stack name (default: the --config's, see below)"
    )
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        metavar="NAME",
        help=f"the named configuration the stack was deployed with (one of {', '.join(configuration_names())}; "
        f"default {DEFAULT_CONFIGURATION}): its pipeline stack, e.g. {pipeline_stack_name()} for the default",
    )
    common.add_argument("--region", default=argparse.SUPPRESS, help="AWS region (default: from profile/environment)")
    common.add_argument("--profile", default=argparse.SUPPRESS, help="AWS named profile")

    parser = argparse.ArgumentParser(
        prog="python -m pipeline_cli",
        description="Start and watch runs of the Personalize batch pipeline; check a deployment (doctor).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_start = sub.add_parser("start", parents=[common], help="start a run (input {})")
    p_start.add_argument("--name", help="execution name (1-80 chars; default: generated)")
    p_start.add_argument("--wait", action="store_true", help="show live progress until the run ends")
    p_start.add_argument(
        "--full-rebuild",
        action="store_true",
        help='with etl_incremental: read every raw object again this run (input {"full_rebuild": true})',
    )
    p_start.add_argument(
        "--retrain-now",
        action="store_true",
        help='train every solution this run, whatever its retrain cadence (input {"retrain_now": true})',
    )
    p_start.add_argument(
        "--poll-interval", type=_positive_float, default=10.0, metavar="SECONDS", help="with --wait (default 10)"
    )

    p_status = sub.add_parser("status", parents=[common], help="one execution in full (default: the latest)")
    p_status.add_argument("execution", nargs="?", metavar="EXECUTION", help="execution name or ARN")
    p_status.add_argument("--json", action="store_true", help="machine-readable output")

    p_history = sub.add_parser("history", parents=[common], help="the last N runs")
    p_history.add_argument("-n", "--limit", type=_positive_int, default=10, metavar="N", help="how many (default 10)")
    p_history.add_argument("--json", action="store_true", help="machine-readable output")

    p_doctor = sub.add_parser(
        "doctor",
        parents=[common],
        help="check a deployed environment (read-only): what stands between it and a good run",
    )
    p_doctor.add_argument(
        "--data-stack", metavar="NAME", help="data stack name (default: the pipeline stack's, -pipeline -> -data)"
    )
    p_doctor.add_argument(
        "--expect-auto-training",
        action="store_true",
        help="the solution is meant to have performAutoTraining on (no warning about its weekly bill)",
    )
    p_doctor.add_argument("--json", action="store_true", help="machine-readable output")

    p_graph = sub.add_parser(
        "graph", parents=[common], help="the state machine's graph as text, from a synthesized template (offline)"
    )
    p_graph.add_argument(
        "--template",
        metavar="FILE",
        help="a synthesized pipeline template (default: cdk.out/<stack>.template.json of --stack / --config; "
        "run make synth first)",
    )
    p_graph.add_argument("--outline", action="store_true", help="one line per stage instead of per state")
    add_rehearse_parser(sub)
    return parser


def _stack_of(args: argparse.Namespace) -> str:
    """--stack as given, or the pipeline stack of --config (default: the default configuration's)."""
    if hasattr(args, "stack") and hasattr(args, "config"):
        raise CliError("give --stack or --config, not both", ExitCode.USAGE)
    if hasattr(args, "stack"):
        return str(args.stack)
    return pipeline_stack_name(getattr(args, "config", DEFAULT_CONFIGURATION))


def _graph(args: argparse.Namespace, stack: str) -> int:
    """Offline: no session, no credentials."""
    path = Path(args.template or f"{SYNTH_DIR}/{stack}.template.json")
    if not path.is_file():
        present = sorted(str(found) for found in Path(SYNTH_DIR).glob("*-pipeline.template.json"))
        hint = (
            f"the pipeline templates in {SYNTH_DIR}/ are: {', '.join(present)} (--template FILE, or --config NAME)"
            if present
            else f"{SYNTH_DIR}/ holds no pipeline template: run `make synth` (or `npx cdk synth -c config=NAME`) first"
        )
        raise CliError(f"no template {path}; {hint}", ExitCode.USAGE)
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
        print(render_graph(definition_from_template(template), outline=args.outline))
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read a state machine from {path}: {error}", ExitCode.USAGE) from None
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    session: boto3.Session | None = None,
    console: Console | None = None,
    clock: Clock = utc_now,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Run the CLI; returns the exit code. Tests pass `session` (moto/Stubber) and `console`."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help/--version (0) and usage errors (2), already printed
        return int(exc.code or 0) if not isinstance(exc.code, str) else ExitCode.USAGE
    try:
        if args.command == "rehearse":  # offline: no stack, no session
            return rehearse(args, console or Console(highlight=False))
        stack = _stack_of(args)
        if args.command == "graph":
            return _graph(args, stack)
        if session is None:
            session = make_session(getattr(args, "profile", None), getattr(args, "region", None))
        if args.command == "doctor":
            return _doctor(args, session, stack, console, clock)
        return _run_command(args, session, stack, console, clock, sleep)
    except CliError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except BotoCoreError as exc:  # safety net: the gateway translates what it expects
        err = translate_botocore_error(exc)
        print(f"error: {err.message}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


def _run_command(
    args: argparse.Namespace,
    session: boto3.Session,
    stack: str,
    console: Console | None,
    clock: Clock,
    sleep: Callable[[float], None] | None,
) -> int:
    """start, status or history."""
    ctx = Context(gateway=Gateway(session), stack=stack, console=console or Console(highlight=False), clock=clock)
    if sleep is not None:
        ctx.sleep = sleep
    if args.command == "start":
        return start(ctx, args.name, args.wait, args.poll_interval, full_rebuild=args.full_rebuild,
                     retrain_now=args.retrain_now)
    if args.command == "status":
        return status(ctx, args.execution, args.json)
    return history(ctx, args.limit, args.json)


def _doctor(args: argparse.Namespace, session: boto3.Session, stack: str, console: Console | None, clock: Clock) -> int:
    env = Environment(
        reader=AwsReader(session),
        pipeline_stack=stack,
        data_stack=args.data_stack or data_stack_name(stack),
        now=clock(),
        expect_auto_training=args.expect_auto_training,
    )
    return doctor(env, console or Console(highlight=False), args.json)


if __name__ == "__main__":
    sys.exit(main())
