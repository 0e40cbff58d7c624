"""The job-name contract: per-solution, per-part batch job names valid, at most 63 characters,
distinct, with the IAM prefix kept; `run_names` (Lambda "Prepare run") unchanged and using it."""

from __future__ import annotations

import random
import re
import string

import pytest

from lambda_src.run_names import naming
from lambda_src.run_names.naming import run_names
from pipeline_contracts.job_names import PERSONALIZE_NAME_MAX, is_personalize_name, part_job_name

PERSONALIZE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
SM_ARN = "arn:aws:states:eu-west-1:123456789012:execution:pbp-dev-batch-pipeline:"
# `<prefix>-<environment>-batch` at the longest config allows (16 + 1 + 10 + 6 characters).
LONGEST_IAM_PREFIX = "p" * 15 + "x-" + "e" * 10 + "-batch"


def _solution(rnd: random.Random) -> str:
    tail = string.ascii_letters + string.digits + "-_"
    return rnd.choice(string.ascii_letters + string.digits) + "".join(rnd.choice(tail) for _ in range(rnd.randrange(0, 63)))


def _bases(rnd: random.Random) -> list[tuple[str, str]]:
    """(IAM prefix, run job name) pairs from `run_names` over varied execution names."""
    pairs = []
    for prefix in ("pbp-dev-batch", LONGEST_IAM_PREFIX):
        for execution in ("weekly", "a" * 80, "manual-" + "".join(rnd.choice(string.ascii_lowercase) for _ in range(30)), "名前"):
            names = run_names(execution, SM_ARN + execution, "2026-01-04T03:00:00.000Z", {"batch": prefix})
            pairs.append((prefix, names["batch"]))
    return pairs


def test_short_names_are_plain_and_unchanged_run_names_stay_pinned() -> None:
    assert (naming.part_job_name, naming.PERSONALIZE_NAME_MAX) == (part_job_name, 63)
    assert part_job_name("pbp-dev-batch-weekly-bd33207aa0", "movies", 1) == "pbp-dev-batch-weekly-bd33207aa0-movies-0001"
    assert run_names("weekly", SM_ARN + "weekly", "2026-01-04T03:00:00.000Z", {"b": "pbp-dev-batch"})["b"] == "pbp-dev-batch-weekly-bd33207aa0"


def test_generated_names_are_valid_distinct_and_keep_the_iam_prefix() -> None:
    rnd = random.Random(5)
    solutions = sorted({_solution(rnd) for _ in range(40)} | {"s", "x" * 63, "similar-items", "similar-items-v2"})
    seen: dict[str, tuple[str, str, int]] = {}
    bases = _bases(rnd)
    parts = (1, 2, 9, 10, 11, 999, 1000, 9999)
    for prefix, base in bases:
        for solution in solutions:
            for part in parts:
                name = part_job_name(base, solution, part)
                assert PERSONALIZE_NAME.match(name) and len(name) <= PERSONALIZE_NAME_MAX, name
                assert name.startswith(prefix + "-"), (name, prefix)
                assert name not in seen, (name, seen.get(name), (base, solution, part))
                seen[name] = (base, solution, part)
                assert part_job_name(base, solution, part) == name  # deterministic
    assert len(seen) == len(bases) * len(solutions) * len(parts)
    # Some were cut (the digest form) and some were not.
    assert any(len(n) == PERSONALIZE_NAME_MAX for n in seen) and any(n.endswith("-0001") for n in seen)


@pytest.mark.parametrize(("base", "solution", "part"), [("-bad", "s", 1), ("b", "", 1), ("b", "s!", 1), ("b", "s", 0), ("b", "s", 10_000)])
def test_invalid_inputs_are_refused(base: str, solution: str, part: int) -> None:
    with pytest.raises(ValueError):
        part_job_name(base, solution, part)


def test_is_personalize_name() -> None:
    assert all(is_personalize_name(n) for n in ("a", "A-b_9", "0" * 63))
    assert not any(is_personalize_name(n) for n in ("", "-a", "_a", "a b", "a/b", "é", "a" * 64))
