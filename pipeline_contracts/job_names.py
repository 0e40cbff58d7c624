r"""Personalize job names: what every side that creates, names or authorises a job agrees on.

Personalize names are 1-63 characters matching `^[a-zA-Z0-9][a-zA-Z0-9\-_]*` and unique per account and
region. The run's job names come from `run_names` (Lambda "Prepare run": `<prefix>-<env>-<step>-<execution
slug>-<digest>`); IAM policies match their `<prefix>-<env>-<step>` beginning; a solution whose batch input is
split across several jobs names each one with `part_job_name` (Lambda `batch_plan`). Standard library only.
"""

from __future__ import annotations

import hashlib
import re

PERSONALIZE_NAME_MAX = 63
PART_DIGITS = 4
PART_DIGEST_LENGTH = 6
_PERSONALIZE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")


def is_personalize_name(name: str) -> bool:
    """Whether `name` is a valid Personalize resource name (1-63 characters, pattern above)."""
    return len(name) <= PERSONALIZE_NAME_MAX and _PERSONALIZE_NAME.match(name) is not None


def part_job_name(base: str, solution: str, part: int) -> str:
    """The name of batch job `part` (1-based) of one solution in one run: '<base>-<solution>-<part>'.

    `base` is a run's job name from `run_names` (it starts with the deployment's prefix, which IAM
    policies match on, and ends with the run's digest); `solution` a Personalize solution name.
    When that is longer than 63 characters, the end of `base` and of `solution` are cut and 6 hex
    digits of SHA-256 over the uncut name are added: '<base cut>-<solution cut>-<part>-<digest>'.
    The beginning of `base` is kept whole (the IAM prefix); names stay distinct because the digest
    covers everything that was cut off (the run's own digest included)."""
    if not _PERSONALIZE_NAME.match(base) or not is_personalize_name(solution):
        raise ValueError(f"job name base {base!r} and solution {solution!r} must match {_PERSONALIZE_NAME.pattern}")
    if not 1 <= part < 10**PART_DIGITS:
        raise ValueError(f"part {part} is not between 1 and {10**PART_DIGITS - 1}")
    full = f"{base}-{solution}-{part:0{PART_DIGITS}d}"
    if len(full) <= PERSONALIZE_NAME_MAX:
        return full
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:PART_DIGEST_LENGTH]
    tail = f"-{part:0{PART_DIGITS}d}-{digest}"
    room = PERSONALIZE_NAME_MAX - len(tail) - 1  # what base and solution share, minus their '-'
    # The solution keeps up to a third of the room (enough to tell solutions apart by eye); the
    # base the rest: at least 34 characters, more than the longest `<prefix>-<env>-batch` (33).
    solution_cut = solution[: max(room - len(base), min(len(solution), room // 3))]
    base_cut = base[: room - len(solution_cut)].rstrip("-_") or base[0]
    return f"{base_cut}-{solution_cut}{tail}"
