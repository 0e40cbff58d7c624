"""The doctor's checks, in the order they run, and the runner that respects their dependencies.

A check that needs another one which did not pass is reported as skipped with the reason,
never run against a half-known environment. A call a check needs that AWS refuses (access
denied, throttling) ends that check as "could not check", with the message naming the action;
only the first check, which reads the stacks, stops the doctor (nothing else can be checked).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import CliError, ExitCode
from .base import Check, Environment, Finding, Status, data_stack_name
from .functions import check_layers
from .operations import check_alert_topic, check_schedule
from .personalize import check_dataset_group, check_filters, check_interactions_schema, check_region
from .quotas import check_quotas
from .raw_data import check_glue_access, check_raw_files
from .stacks import check_solution_reference, check_stacks

__all__ = ["CHECKS", "Result", "run_checks", "exit_code_for", "Environment", "Status", "data_stack_name"]

STACKS = "stacks"
REGION = "personalize-region"

CHECKS: tuple[Check, ...] = (
    Check(STACKS, "stacks deployed", check_stacks),
    Check(REGION, "Personalize in region", check_region, (STACKS,)),
    Check("solution-reference", "pipeline's solutions", check_solution_reference, (STACKS, REGION)),
    Check("dataset-group", "dataset group", check_dataset_group, (STACKS, REGION)),
    Check("interactions-schema", "interactions schema", check_interactions_schema, (STACKS, REGION)),
    Check("filters", "filters", check_filters, (STACKS, REGION)),
    Check("layers", "Lambda layers", check_layers, (STACKS,)),
    Check("raw-files", "raw files", check_raw_files, (STACKS,)),
    Check("glue-access", "Glue role access", check_glue_access, (STACKS, "raw-files")),
    Check("quotas", "Personalize quotas", check_quotas, (STACKS, REGION)),
    Check("schedule", "schedule", check_schedule, (STACKS,)),
    Check("alert-topic", "alert topic", check_alert_topic, (STACKS,)),
)


@dataclass(frozen=True)
class Result:
    check: Check
    finding: Finding


def run_checks(env: Environment, checks: tuple[Check, ...] = CHECKS) -> Iterator[Result]:
    """Each check's result as soon as it is known (the runner prints line by line)."""
    done: dict[str, Result] = {}
    for check in checks:
        finding = _skip_reason(check, done) or _run(check, env, first=not done)
        done[check.key] = Result(check, finding)
        yield done[check.key]


def _skip_reason(check: Check, done: dict[str, Result]) -> Finding | None:
    blocking = [
        done[key].check.title for key in check.needs if done[key].finding.status not in (Status.PASS, Status.WARN)
    ]
    if not blocking:
        return None
    return Finding(Status.SKIP, f"skipped: needs {', '.join(blocking)}, which did not pass")


def _run(check: Check, env: Environment, first: bool) -> Finding:
    try:
        return check.run(env)
    except CliError as exc:
        if first or exc.exit_code is not ExitCode.AWS:
            raise
        return Finding(Status.FAIL, f"could not check: {exc.message}", _ACCESS_FIX, could_not_check=True)


_ACCESS_FIX = "run the doctor with a role that may make this read-only call (see README, Operating it)"


def exit_code_for(results: list[Result]) -> ExitCode:
    """1 when a check found a problem; else 3 when one could not check (access); else 0."""
    findings = [r.finding for r in results]
    if any(f.status is Status.FAIL and not f.could_not_check for f in findings):
        return ExitCode.RUN_FAILED
    if any(f.could_not_check for f in findings):
        return ExitCode.AWS
    return ExitCode.OK
