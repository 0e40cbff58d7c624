"""`doctor`: read-only checks of a deployed environment, one line each, and an exit code.

The checks live in `pipeline_cli.checks`; this module runs them and prints: text for people
(one line per check, printed as soon as it is known, the fix on the same line) or `--json`.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from .checks import CHECKS, Environment, Result, Status, exit_code_for, run_checks
from .formatting import iso

__all__ = ["doctor", "doctor_document", "result_line"]

_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}
_TITLE_WIDTH = max(len(check.title) for check in CHECKS)


def doctor(env: Environment, console: Console, as_json: bool) -> int:
    """Run every check; 0 all passed (warnings allowed), 1 a check failed, 3 one could not check."""
    results: list[Result] = []
    for result in run_checks(env):
        if not as_json:
            if not results:  # after the first check: a doctor that cannot start prints only its error
                header = f"doctor: {env.pipeline_stack} and {env.data_stack} in {env.reader.region}"
                console.print(Text(header, style="bold"), soft_wrap=True)
            console.print(result_line(result), soft_wrap=True)
        results.append(result)
    code = exit_code_for(results)
    if as_json:
        print(json.dumps(doctor_document(env, results, int(code)), indent=2, default=_json_value))
    else:
        console.print(Text(_summary(results), style="bold"), soft_wrap=True)
    return code


def result_line(result: Result) -> Text:
    finding = result.finding
    fix = f"; fix: {finding.fix}" if finding.fix else ""
    return Text.assemble(
        (f"{finding.status.value:<4}", _STYLE[finding.status]),
        f"  {result.check.title:<{_TITLE_WIDTH}}  ",
        finding.detail,
        (fix, "cyan"),
    )


def _summary(results: Sequence[Result]) -> str:
    counts = Counter(r.finding.status for r in results)
    words = (("passed", Status.PASS), ("warned", Status.WARN), ("failed", Status.FAIL), ("skipped", Status.SKIP))
    return f"{len(results)} checks: " + ", ".join(f"{counts[status]} {word}" for word, status in words)


def doctor_document(env: Environment, results: Sequence[Result], exit_code: int) -> dict[str, Any]:
    """`doctor --json`: a stable shape for scripts (one entry per check, in run order)."""
    return {
        "pipelineStack": env.pipeline_stack,
        "dataStack": env.data_stack,
        "region": env.reader.region,
        "checkedAt": iso(env.now),
        "exitCode": exit_code,
        "summary": {status.value: sum(r.finding.status is status for r in results) for status in Status},
        "checks": [
            {
                "check": r.check.key,
                "title": r.check.title,
                "status": r.finding.status.value,
                "detail": r.finding.detail,
                "fix": r.finding.fix,
                "couldNotCheck": r.finding.could_not_check,
                "facts": dict(r.finding.facts),
            }
            for r in results
        ],
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
