"""The apps every deploy-readiness check runs on: every named configuration (`tests.conftest.CONFIGURATIONS`:
the default and `config/full.json`, every optional capability switched on), synthesized once per session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest

from stacks.app_factory import PipelineApp
from tests.deploy_readiness.model import AppModel
from tests.support.cdk_app import Synthesized, synth, templates_of


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


@pytest.fixture(scope="session")
def variant(configuration: str, synthesized_apps: Callable[[str], Synthesized]) -> SynthesizedApp:
    synthesized_app = synthesized_apps(configuration)
    model = AppModel({name: template.to_json() for name, template in synthesized_app.templates.items()})
    return SynthesizedApp(configuration, synthesized_app.app, model)
