"""Which template the orchestration tests read, and the offline harness around it.

`orchestration` is the one fixture that decides the template: today a small stack of stand-ins
(`tests/support/orchestration_stack.py`). To test the real pipeline stack instead, return a
`SynthesizedOrchestration` built from its template (keep the small bounds below via context overrides, so the
bounded-loop tests stay fast).
"""

from __future__ import annotations

from typing import Iterator

import pytest
from aws_cdk import aws_stepfunctions as sfn

from stacks.config import PipelineConfig
from tests.support.orchestration_stack import PERSONALIZE, SynthesizedOrchestration, synth_orchestration
from pipeline_rehearsal import OfflineStepFunctions

FILTER_ARN = f"{PERSONALIZE}:filter/pbp-test-unseen"
# Small bounds keep the bounded-loop tests quick: 4 Create attempts, 6 polls of 600 s, a 3 h execution.
TEST_CONFIG = PipelineConfig(
    environment="test",
    status_poll_seconds=600,
    busy_retry_seconds=60,
    busy_retry_max_attempts=4,
    job_max_wait_hours=1,
    execution_timeout_hours=3,
    import_mode="INCREMENTAL",
    training_mode="UPDATE",
    num_results=50,
    filter_arn=FILTER_ARN,
    exploration_weight=0.3,
    exploration_item_age_cut_off_days=30,
)
# The shipped defaults, and the post-processing hook in place.
HOOKED_CONFIG = PipelineConfig(environment="hook")
HOOK_STATE = "Post-process (test hook)"


def _hook(scope) -> sfn.IChainable:
    return sfn.Pass(scope, HOOK_STATE, result=sfn.Result.from_object({"done": True}), result_path="$.post")


@pytest.fixture(scope="session")
def synthesized() -> dict[str, SynthesizedOrchestration]:
    return synth_orchestration({"test": TEST_CONFIG, "hooked": HOOKED_CONFIG}, post_process={"hooked": _hook})


@pytest.fixture(scope="session")
def orchestration(synthesized: dict[str, SynthesizedOrchestration]) -> SynthesizedOrchestration:
    """THE template under test."""
    return synthesized["test"]


@pytest.fixture(scope="session")
def hooked(synthesized: dict[str, SynthesizedOrchestration]) -> SynthesizedOrchestration:
    """Default config with a post_process hook: checks the hook's place and the optional parameters' absence."""
    return synthesized["hooked"]


@pytest.fixture
def offline(orchestration: SynthesizedOrchestration) -> Iterator[tuple[OfflineStepFunctions, str]]:
    with orchestration.offline() as harness:
        yield harness
