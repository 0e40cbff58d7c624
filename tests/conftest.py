"""Shared fixtures: the app synthesized once per session and configuration, from the real cdk.json context.

Helpers to synthesize and read templates live in `tests/support/` (`cdk_app`, `templates`); this file only
holds the fixtures and the list of named configurations every configuration-wide test iterates over.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# Tests never reach AWS: any client that slips past moto fails fast instead of hanging on IMDS.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

from aws_cdk.assertions import Template  # noqa: E402

from stacks.app_factory import DEFAULT_CONFIGURATION, PipelineApp, named_configurations  # noqa: E402
from tests.support.cdk_app import Synthesized, synth  # noqa: E402

CONFIGURATIONS: tuple[str, ...] = named_configurations()
"""Every configuration `-c config=NAME` accepts (the default first, then `config/*.json`). A check that must
hold for every deployable shape takes the `configuration` fixture (or `configured_app`), which runs it once
per name here; a new file in `config/` is then synthesized and checked by those tests without further edits."""


WORK_GROUPS: dict[str, tuple[str, ...]] = {
    # One JVM in the whole run (tests/glue/conftest.py starts it on the worker that runs the Glue tests).
    "spark": ("tests/glue/",),
    # The real pipeline's state machine of each configuration, resolved and parsed (seconds each) once.
    "executed-pipeline": (
        "tests/pipeline/test_executed_pipeline.py",
        "tests/pipeline/test_function_error_causes.py",
        "tests/pipeline/test_quality_gate_executed.py",
        "tests/pipeline/test_run_modes_executed.py",
    ),
}
"""Tests that `pytest -n` sends to one worker, as a whole (by path prefix): what they share per process is costly
to build twice. Every other test is its own unit, sent to whichever worker is free. The biggest groups go out
first, one per worker (xdist's LoadScopeScheduling order)."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks `spark` every test that needs the local Spark session (the `spark` fixture, directly or through
    another fixture), so that `pytest -m "not spark"` is the fast lane without a list to keep up to date."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`-n` with the default distribution (`load`): the same, except for `WORK_GROUPS`. (Not xdist's own
    `--dist loadgroup`: with pytest 9 its `xdist_group` marks group nothing, xdist 3.8 renames `item._nodeid`.)"""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupedLoad(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return next((group for group, prefixes in WORK_GROUPS.items() if path.startswith(prefixes)), nodeid)

    return GroupedLoad(config, log)


@pytest.fixture(scope="session")
def synthesized_apps(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Synthesized]:
    """The app of a named configuration, synthesized on first use and shared by the whole session."""
    apps: dict[str, Synthesized] = {}

    def of(configuration: str) -> Synthesized:
        if configuration not in apps:
            outdir = tmp_path_factory.mktemp(f"{configuration}-app")
            apps[configuration] = Synthesized(synth(outdir, configuration=configuration))
        return apps[configuration]

    return of


@pytest.fixture(scope="session", params=CONFIGURATIONS)
def configuration(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def configured_app(configuration: str, synthesized_apps: Callable[[str], Synthesized]) -> PipelineApp:
    return synthesized_apps(configuration).app


@pytest.fixture(scope="session")
def configured_templates(configuration: str, synthesized_apps: Callable[[str], Synthesized]) -> dict[str, Template]:
    return synthesized_apps(configuration).templates


@pytest.fixture(scope="session")
def default_app(synthesized_apps: Callable[[str], Synthesized]) -> PipelineApp:
    return synthesized_apps(DEFAULT_CONFIGURATION).app


@pytest.fixture(scope="session")
def default_templates(synthesized_apps: Callable[[str], Synthesized]) -> dict[str, Template]:
    return synthesized_apps(DEFAULT_CONFIGURATION).templates


@pytest.fixture(scope="session")
def data_template(default_app: PipelineApp, default_templates: dict[str, Template]) -> Template:
    return default_templates[default_app.data_stack.stack_name]


@pytest.fixture(scope="session")
def pipeline_template(default_app: PipelineApp, default_templates: dict[str, Template]) -> Template:
    return default_templates[default_app.pipeline_stack.stack_name]
