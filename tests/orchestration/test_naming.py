"""The run id and Personalize names: valid for any execution name, unique per run, the same on a redrive."""

from __future__ import annotations

import re
import uuid

import pytest

from stacks.config import PipelineConfig
from lambda_src.run_names.handler import handle
from lambda_src.run_names.naming import run_names

PERSONALIZE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
SM_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:pbp-dev-batch-pipeline"
START = "2026-01-04T03:00:00.000Z"
PREFIXES = {"importJobName": "pbp-dev-import", "solutionVersionName": "pbp-dev-train", "batchInferenceJobName": "pbp-dev-batch"}
# The longest prefixes config allows: prefix 16 characters, environment 10.
LONGEST = PipelineConfig(prefix="p" * 15 + "x", environment="e" * 10)
LONG_PREFIXES = {
    "importJobName": LONGEST.resource_name("import"),
    "solutionVersionName": LONGEST.resource_name("train"),
    "batchInferenceJobName": LONGEST.resource_name("batch"),
}
# Step Functions allows 1-80 characters without whitespace, brackets, wildcards and " # % \ ^ | ~ ` $ & , ; : /
AWKWARD_NAMES = [
    "weekly",
    str(uuid.UUID(int=7)),  # EventBridge Scheduler's execution names are UUIDs
    "manual.rerun.after.schema.fix." + "x" * 50,  # 80 characters, dots
    ".-_leading.punctuation_-.",
    "Ünïcödé-名前-run",
    "名前",  # nothing usable: the digest alone
    "a" * 80,
    "(paren)!'quote'@=+",
]


def execution_arn(name: str) -> str:
    return SM_ARN.replace(":stateMachine:", ":execution:") + f":{name}"


def test_pinned_example() -> None:
    """Pinned: a change here renames every future run's jobs and S3 prefixes."""
    assert run_names("weekly", execution_arn("weekly"), START, PREFIXES) == {
        "runId": "20260104T030000Z-weekly-bd33207aa0",
        "importJobName": "pbp-dev-import-weekly-bd33207aa0",
        "solutionVersionName": "pbp-dev-train-weekly-bd33207aa0",
        "batchInferenceJobName": "pbp-dev-batch-weekly-bd33207aa0",
    }


@pytest.mark.parametrize("prefixes", [PREFIXES, LONG_PREFIXES], ids=["default-prefix", "longest-prefix"])
@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_names_are_valid_for_any_execution_name(name: str, prefixes: dict[str, str]) -> None:
    assert 1 <= len(name) <= 80
    names = run_names(name, execution_arn(name), START, prefixes)
    for key, prefix in prefixes.items():
        assert PERSONALIZE_NAME.match(names[key]) and len(names[key]) <= 63, names[key]
        assert names[key].startswith(prefix + "-")
    assert re.fullmatch(r"20260104T030000Z-[A-Za-z0-9_-]+", names["runId"]) and len(names["runId"]) <= 80
    # One suffix for all: the run id and every job name of a run end the same way.
    suffix = names["runId"].removeprefix("20260104T030000Z-")
    assert all(names[key] == f"{prefix}-{suffix}" for key, prefix in prefixes.items())


def test_execution_name_is_kept_where_it_fits() -> None:
    scheduler_name = "3f0c9a52-1b7e-4c1d-9d6e-6f1e3b8f2a10"
    assert run_names(scheduler_name, execution_arn(scheduler_name), START, PREFIXES)["importJobName"].startswith(
        f"pbp-dev-import-{scheduler_name}-"
    )
    dotted = "manual.rerun.after.schema.fix." + "x" * 50
    assert "manual-rerun-after-schema" in run_names(dotted, execution_arn(dotted), START, PREFIXES)["importJobName"]


def test_same_execution_gives_the_same_names() -> None:
    """A redrive keeps the execution's ARN and start time, so recomputing cannot rename anything."""
    name = AWKWARD_NAMES[2]
    assert run_names(name, execution_arn(name), START, PREFIXES) == run_names(name, execution_arn(name), START, PREFIXES)


def test_names_are_unique_per_run() -> None:
    long_a, long_b = "n" * 70 + "-a", "n" * 70 + "-b"  # the same after truncation
    runs = [
        run_names(long_a, execution_arn(long_a), START, PREFIXES),
        run_names(long_b, execution_arn(long_b), START, PREFIXES),
        # The same name reused after the 90 days Step Functions reserves it: another start time.
        run_names(long_a, execution_arn(long_a), "2026-04-05T03:00:00.000Z", PREFIXES),
        # Another state machine (another deployment) with the same execution name.
        run_names(long_a, execution_arn(long_a).replace("pbp-dev", "pbp-prod"), START, PREFIXES),
    ]
    for key in ("runId", *PREFIXES):
        assert len({run[key] for run in runs}) == len(runs), key


def test_handler_passes_the_state_machine_payload_through() -> None:
    event = {"executionName": "x.y", "executionArn": execution_arn("x.y"), "startTime": START, "namePrefixes": PREFIXES}
    assert handle(event, None) == run_names("x.y", execution_arn("x.y"), START, PREFIXES)
