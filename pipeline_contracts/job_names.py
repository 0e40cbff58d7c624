r"""Personalize job names: what every side that creates, names or authorises a job agrees on.

Personalize names are 1-63 characters matching `^[a-zA-Z0-9][a-zA-Z0-9\-_]*` and unique per account and
region. The run's job names come from `run_names` (Lambda "Prepare run": `<prefix>-<env>-<step>-<execution
slug>-<digest>`, e.g. `pbp-dev-batch-users-weekly-0123456789`); IAM policies match their
`<prefix>-<env>-<step>-` beginning (`<prefix>-<env>-batch-<solution>-*` for one solution's batch jobs). A
solution whose batch input is split across several jobs names each one with `numbered_job_name` (Lambda
`batch_plan`). Standard library only.
"""

from __future__ import annotations

import hashlib
import re

PERSONALIZE_NAME_MAX = 63
PART_DIGITS = 4
PART_DIGEST_LENGTH = 6
NUMBERED_BASE_KEPT = PERSONALIZE_NAME_MAX - (1 + PART_DIGITS + 1 + PART_DIGEST_LENGTH)
"""Characters of the base a cut name keeps (51): more than the longest IAM prefix the config allows
(`JOB_NAME_PREFIX_MAX`, 47) and its '-'."""
_PERSONALIZE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")


def is_personalize_name(name: str) -> bool:
    """Whether `name` is a valid Personalize resource name (1-63 characters, pattern above)."""
    return len(name) <= PERSONALIZE_NAME_MAX and _PERSONALIZE_NAME.match(name) is not None


def numbered_job_name(base: str, part: int) -> str:
    """The name of batch job `part` (1-based) of one solution in one run: '<base>-<part:04d>'.

    `base` is the solution's batch job name of the run from `run_names` (`$.run.batch_<solution>`; it
    starts with the IAM prefix `<prefix>-<env>-batch-<solution>-` and ends with the run's digest). When
    the name is longer than 63 characters, the end of `base` is cut and 6 hex digits of SHA-256 over the
    uncut name are added: '<first 51 characters of base>-<part:04d>-<digest>'. The beginning of `base`
    is kept (the IAM prefix, at most 47 characters with its '-', fits in the 51); names stay distinct
    because the digest covers what was cut off (the run's own digest included)."""
    if not _PERSONALIZE_NAME.match(base):
        raise ValueError(f"job name base {base!r} must match {_PERSONALIZE_NAME.pattern}")
    if isinstance(part, bool) or not isinstance(part, int) or not 1 <= part < 10**PART_DIGITS:
        raise ValueError(f"part {part!r} is not a whole number between 1 and {10**PART_DIGITS - 1}")
    full = f"{base}-{part:0{PART_DIGITS}d}"
    if len(full) <= PERSONALIZE_NAME_MAX:
        return full
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:PART_DIGEST_LENGTH]
    return f"{base[:NUMBERED_BASE_KEPT]}-{part:0{PART_DIGITS}d}-{digest}"
