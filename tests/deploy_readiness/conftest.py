"""The apps every deploy-readiness check runs on: the default configuration and one with every
optional capability of the configuration switched on, synthesized once per session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest

from stacks.app_factory import PipelineApp
from tests.conftest import synth, templates_of
from tests.deploy_readiness.model import AppModel

# The one place that says what "everything on" means (context keys as `-c key=value` would give).
FULL_CAPABILITIES: dict[str, Any] = {
    "notification_email": "ops@example.com",
    "data_removal_policy": "DESTROY",
    "filter_arn": "arn:aws:personalize:us-east-1:123456789012:filter/pbp-dev-recent",
    "exploration_weight": 0.3,
    "exploration_item_age_cut_off_days": 30,
    "perform_auto_training": True,
}
APP_VARIANTS: dict[str, dict[str, Any]] = {"default": {}, "full": FULL_CAPABILITIES}


@dataclass
class SynthesizedApp:
    name: str
    app: PipelineApp
    model: AppModel

    @property
    def pipeline_stack(self) -> str:
        return self.app.pipeline_stack.stack_name


def synthesized(tmp_dir: Any, name: str, change: Callable[[PipelineApp], None] | None = None, **overrides: Any) -> SynthesizedApp:
    """The app built from the context overrides, with `change` applied to it before its synthesis."""
    app = synth(tmp_dir, **overrides)
    if change is not None:
        change(app)
    return SynthesizedApp(name, app, AppModel({n: t.to_json() for n, t in templates_of(app).items()}))


@pytest.fixture(scope="session", params=list(APP_VARIANTS))
def variant(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    return synthesized(tmp_path_factory.mktemp(f"app-{request.param}"), request.param, **APP_VARIANTS[request.param])
