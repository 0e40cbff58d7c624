"""The run id and Personalize job names of one execution, derived purely from the execution.

Intrinsic functions cannot sanitise or shorten a string (ASL has no substring, replace or length), so
the "Prepare run" state calls this through a tiny Lambda function. It is pure: the same execution gives
the same names, so a redrive (which keeps the earlier output anyway) or a re-evaluation agrees.
"""

from __future__ import annotations

import hashlib
import re

from pipeline_contracts.job_names import PERSONALIZE_NAME_MAX, is_personalize_name

__all__ = ["run_names", "is_personalize_name", "PERSONALIZE_NAME_MAX"]

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
    digest = hashlib.sha256(f"{execution_arn}\n{start_time}".encode()).hexdigest()[:DIGEST_LENGTH]
    room = PERSONALIZE_NAME_MAX - max(len(prefix) for prefix in name_prefixes.values()) - len(digest) - 2
    slug = re.sub(r"[^A-Za-z0-9_]+", "-", execution_name).strip("-_")[: max(room, 0)].rstrip("-_")
    suffix = f"{slug}-{digest}" if slug else digest
    digits = re.sub(r"[^0-9]", "", start_time)
    stamp = f"{digits[:8]}T{digits[8:14]}Z" if len(digits) >= 14 else ""
    names = {key: f"{prefix}-{suffix}" for key, prefix in name_prefixes.items()}
    return {"runId": f"{stamp}-{suffix}" if stamp else suffix, **names}

