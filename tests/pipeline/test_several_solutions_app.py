"""The whole app with the full configuration and four solutions (one of each output kind): cdk-nag and cfn-lint
find nothing, every role's policies (CDK's overflow managed policies included) are in place before anything runs
as the role, and each solution's functions and states are there.

The full configuration's polling is raised for the history budget (four solutions beside two metadata imports:
see stacks/orchestration/budget.py); the configuration file is a temporary copy of config/full.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest

import stacks.app_factory as app_factory
from stacks.app_factory import PipelineApp
from tests.deploy_readiness.model import AppModel
from tests.deploy_readiness.test_dependencies import missing_policy_dependencies
from tests.orchestration.test_solutions import SOLUTIONS
from tests.support.cdk_app import synth, templates_of
from tests.support.templates import all_states, pipeline_definition
from tests.test_templates import _nag_report, _with_resolved_state_machines

FOUR_SOLUTIONS = {
    "solutions": SOLUTIONS,
    "training_mode": "FULL",  # the top-level default of the entries; UPDATE is for User-Personalization only
    "status_poll_seconds": 240,
    "busy_retry_seconds": 240,
}


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("config")
    full = json.loads((app_factory.CONFIG_DIR / "full.json").read_text())
    (folder / "full.json").write_text(json.dumps({**full, **FOUR_SOLUTIONS}))
    original = app_factory.CONFIG_DIR
    app_factory.CONFIG_DIR = folder
    try:
        yield folder
    finally:
        app_factory.CONFIG_DIR = original


@pytest.fixture(scope="module")
def nag_checked(config_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[dict], PipelineApp]:
    holder: dict[str, PipelineApp] = {}

    def build(out: Path) -> PipelineApp:
        holder["app"] = synth(out, configuration="full", with_nag=True)
        return holder["app"]

    error, violations = _nag_report(tmp_path_factory.mktemp("nag"), build)
    return error, violations, holder["app"]


def test_cdk_nag_finds_nothing_unacknowledged(nag_checked: tuple[Any, list[dict], PipelineApp]) -> None:
    error, violations, app = nag_checked
    assert len(app.config.solutions) == len(SOLUTIONS)
    readable = [(v["ruleName"], [c["constructPath"] for c in v["violatingConstructs"]]) for v in violations]
    assert readable == []
    assert error is None


def test_cfn_lint_is_clean(nag_checked: tuple[Any, list[dict], PipelineApp]) -> None:
    from cfnlint.api import ManualArgs, lint

    _, _, app = nag_checked
    findings = []
    for name, synthesized in templates_of(app).items():
        template = _with_resolved_state_machines(synthesized.to_json())
        matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
        findings += [f"{name}: {m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches]
    assert findings == []


def test_roles_have_their_policies_before_anything_runs_as_them(nag_checked: tuple[Any, list[dict], PipelineApp]) -> None:
    _, _, app = nag_checked
    model = AppModel({name: template.to_json() for name, template in templates_of(app).items()})
    assert missing_policy_dependencies(model) == []


def test_every_solution_has_its_branch_and_job_stage(nag_checked: tuple[Any, list[dict], PipelineApp]) -> None:
    _, _, app = nag_checked
    states = all_states(pipeline_definition(app, templates_of(app)))
    for spec in app.config.solutions:
        assert states[f"Solution {spec.name}"]["Type"] == "Parallel"
        create = states[f"{spec.name} batch job: create job"]["Resource"]
        expected = "createBatchSegmentJob" if spec.job_type == "batch_segment" else "createBatchInferenceJob"
        assert create.endswith(f":personalize:{expected}")
        assert f"{spec.name} post-process: flatten file" in states
