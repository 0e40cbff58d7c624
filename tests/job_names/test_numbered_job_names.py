"""The job-name contract: numbered batch job names (`<base>-<part:04d>`, cut with a digest over 63
characters) valid, at most 63 characters, distinct, with the IAM prefix kept, over names `run_names`
(Lambda "Prepare run") makes from generated configurations and execution names."""

from __future__ import annotations

import fnmatch
import hashlib
import random
import re
import string

import pytest

from lambda_src.run_names.naming import run_names
from pipeline_contracts.job_names import (
    NUMBERED_BASE_KEPT,
    PERSONALIZE_NAME_MAX,
    is_personalize_name,
    numbered_job_name,
)
from pipeline_contracts.solutions import JOB_NAME_PREFIX_MAX, SOLUTION_NAME_PATTERN, job_name_prefix_step

PERSONALIZE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
SM_ARN = "arn:aws:states:eu-west-1:123456789012:execution:pbp-dev-batch-pipeline:"
START = "2026-01-04T03:00:00.000Z"
PARTS = (1, 2, 9, 10, 11, 999, 1000, 9999)


def _word(rnd: random.Random, first: str, rest: str, length: int) -> str:
    return rnd.choice(first) + "".join(rnd.choice(rest) for _ in range(length - 1))


def _deployment(rnd: random.Random) -> tuple[str, str, list[str]]:
    """(prefix, environment, solution names) as the config accepts them: `<prefix>-<env>-batch-<name>` at
    most JOB_NAME_PREFIX_MAX characters, names matching SOLUTION_NAME_PATTERN."""
    low, digits = string.ascii_lowercase, string.ascii_lowercase + string.digits
    prefix = _word(rnd, low, digits + "-", rnd.randint(1, 15)) + rnd.choice(digits)
    environment = _word(rnd, low, digits, rnd.randint(1, 10))
    room = JOB_NAME_PREFIX_MAX - len(f"{prefix}-{environment}-batch-")
    names = {_word(rnd, low, digits + "_", rnd.randint(1, min(20, room))) for _ in range(rnd.randint(1, 4))}
    assert all(SOLUTION_NAME_PATTERN.match(n) for n in names)
    return prefix, environment, sorted(names)


def _executions(rnd: random.Random) -> list[str]:
    random_name = "".join(rnd.choice(string.ascii_letters + string.digits + "-_") for _ in range(rnd.randint(1, 80)))
    return ["weekly", "a" * 80, "manual-" + "".join(rnd.choice(string.ascii_lowercase) for _ in range(30)), "名前", random_name]


def test_short_names_are_plain_and_run_names_stay_pinned() -> None:
    base = run_names("weekly", SM_ARN + "weekly", START, {"b": "pbp-dev-batch-users"})["b"]
    assert base == "pbp-dev-batch-users-weekly-bd33207aa0"
    assert numbered_job_name(base, 1) == base + "-0001"
    assert numbered_job_name(base, 9999) == base + "-9999"


def test_a_long_base_is_cut_to_its_beginning_and_a_digest_of_the_uncut_name() -> None:
    base = "pbp-dev-batch-users-" + "x" * 43  # 63 characters: the longest run name
    name = numbered_job_name(base, 12)
    digest = hashlib.sha256(f"{base}-0012".encode()).hexdigest()[:6]
    assert name == f"{base[:NUMBERED_BASE_KEPT]}-0012-{digest}" and len(name) == PERSONALIZE_NAME_MAX
    # 58 + 5 = 63 fits without a cut; one more character does not.
    assert numbered_job_name("b" * 58, 3) == "b" * 58 + "-0003"
    assert len(numbered_job_name("b" * 59, 3)) == PERSONALIZE_NAME_MAX and numbered_job_name("b" * 59, 3).startswith("b" * 51 + "-0003-")


def test_generated_names_are_valid_distinct_and_keep_the_iam_prefix() -> None:
    rnd = random.Random(13)
    seen: dict[str, tuple[str, int]] = {}
    cut = plain = 0
    for _ in range(60):
        prefix, environment, solutions = _deployment(rnd)
        iam = {s: f"{prefix}-{environment}-{job_name_prefix_step('batch', s)}" for s in solutions}
        # run_names sizes the slug for the longest prefix it is given (training, batch, imports, ...).
        prefixes = {f"batch_{s}": p for s, p in iam.items()} | {"importJobName": f"{prefix}-{environment}-import"}
        for execution in _executions(rnd):
            names = run_names(execution, SM_ARN + execution, START, prefixes)
            for solution in solutions:
                base = names[f"batch_{solution}"]
                for part in PARTS:
                    name = numbered_job_name(base, part)
                    assert PERSONALIZE_NAME.match(name) and len(name) <= PERSONALIZE_NAME_MAX, name
                    # The policy of this solution's jobs matches it, no other solution's does.
                    matching = [s for s in solutions if fnmatch.fnmatchcase(name, iam[s] + "-*")]
                    assert matching == [solution], (name, matching)
                    assert name not in seen or seen[name] == (base, part), (name, seen[name], (base, part))
                    seen[name] = (base, part)
                    assert numbered_job_name(base, part) == name  # deterministic
                    cut, plain = cut + (len(name) == PERSONALIZE_NAME_MAX and name != f"{base}-{part:04d}"), plain + (name == f"{base}-{part:04d}")
    # Both forms were exercised.
    assert cut > 100 and plain > 100


@pytest.mark.parametrize(("base", "part"), [("-bad", 1), ("", 1), ("b!", 1), ("b", 0), ("b", 10_000), ("b", True), ("b", 1.0)])
def test_invalid_inputs_are_refused(base: str, part: int) -> None:
    with pytest.raises(ValueError):
        numbered_job_name(base, part)


def test_is_personalize_name() -> None:
    assert all(is_personalize_name(n) for n in ("a", "A-b_9", "0" * 63))
    assert not any(is_personalize_name(n) for n in ("", "-a", "_a", "a b", "a/b", "é", "a" * 64))
