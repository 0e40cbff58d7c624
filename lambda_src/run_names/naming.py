"""The run id and Personalize job names of one execution, derived purely from the execution.

Intrinsic functions cannot sanitise or shorten a string (ASL has no substring, replace or length), so
the "Prepare run" state calls this through a tiny Lambda function. It is pure: the same execution gives
the same names, so a redrive (which keeps the earlier output anyway) or a re-evaluation agrees.
"""

from __future__ import annotations

import hashlib
import re

# Personalize names: 1-63 characters, ^[a-zA-Z0-9][a-zA-Z0-9\-_]*, unique per account and region.
PERSONALIZE_NAME_MAX = 63
DIGEST_LENGTH = 10


def run_names(execution_name: str, execution_arn: str, start_time: str, name_prefixes: dict) -> dict:
    """The run id and the Personalize job names of one execution. Pure: the same inputs give the same names.

    - digest: 10 hex digits of SHA-256 over the execution ARN and start time. The ARN is unique among live
      executions of this state machine; the start time separates a name reused after the 90 days in which
      Step Functions keeps it reserved.
    - slug: the execution name with each run of characters outside [A-Za-z0-9_] replaced by '-', cut so
      that the longest prefix still fits in 63 characters (empty if nothing usable is left).
    - job names: '<prefix>-<slug>-<digest>'. Each prefix starts with a letter (config enforces that), so
      every name matches ^[a-zA-Z0-9][a-zA-Z0-9\\-_]* whatever the execution name was.
    - run id: '<YYYYMMDDTHHMMSSZ>-<slug>-<digest>' from the start time, so runs/ prefixes in S3 sort by start.
    """
    digest = hashlib.sha256(f"{execution_arn}\n{start_time}".encode("utf-8")).hexdigest()[:DIGEST_LENGTH]
    room = PERSONALIZE_NAME_MAX - max(len(prefix) for prefix in name_prefixes.values()) - len(digest) - 2
    slug = re.sub(r"[^A-Za-z0-9_]+", "-", execution_name).strip("-_")[: max(room, 0)].rstrip("-_")
    suffix = f"{slug}-{digest}" if slug else digest
    digits = re.sub(r"[^0-9]", "", start_time)
    stamp = f"{digits[:8]}T{digits[8:14]}Z" if len(digits) >= 14 else ""
    names = {key: f"{prefix}-{suffix}" for key, prefix in name_prefixes.items()}
    return {"runId": f"{stamp}-{suffix}" if stamp else suffix, **names}


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
    if not _PERSONALIZE_NAME.match(base) or not _PERSONALIZE_NAME.match(solution):
        raise ValueError(f"job name base {base!r} and solution {solution!r} must match {_PERSONALIZE_NAME.pattern}")
    if not 1 <= part < 10**PART_DIGITS:
        raise ValueError(f"part {part} is not between 1 and {10**PART_DIGITS - 1}")
    full = f"{base}-{solution}-{part:0{PART_DIGITS}d}"
    if len(full) <= PERSONALIZE_NAME_MAX:
        return full
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:PART_DIGEST_LENGTH]
    tail = f"-{part:0{PART_DIGITS}d}-{digest}"
    room = PERSONALIZE_NAME_MAX - len(tail) - 1  # what base and solution share, minus their '-'
    # The solution keeps up to a third of the room (enough to tell solutions apart by eye);
    # the base gets the rest, at least its first half.
    solution_cut = solution[: max(room - len(base), min(len(solution), room // 3))]
    base_cut = base[: room - len(solution_cut)].rstrip("-_") or base[0]
    return f"{base_cut}-{solution_cut}{tail}"
