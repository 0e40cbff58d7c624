"""Shared fixtures: the app synthesized once per session from the real cdk.json context."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# Tests never reach AWS: any client that slips past moto fails fast instead of hanging on IMDS.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

from aws_cdk.assertions import Template  # noqa: E402

from stacks.app_factory import PipelineApp, build_app  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def synth(tmp_dir: Path, *, with_nag: bool = False, **overrides: Any) -> PipelineApp:
    """The app as `cdk synth` builds it, with context keys overridden like `-c key=value`."""
    # The CLI adds construct paths to every resource; the tests read them as the CLI would.
    context = {**CDK_CONTEXT, "aws:cdk:enable-path-metadata": True, **overrides}
    return build_app(context, outdir=str(tmp_dir), with_nag=with_nag)


def templates_of(pipeline: PipelineApp) -> dict[str, Template]:
    return {stack.stack_name: Template.from_stack(stack) for stack in pipeline.stacks}


def mask_asset_hashes(template: dict) -> dict:
    """Asset hashes change with every code edit; the snapshot pins structure, not bytes of assets."""
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template)))


@pytest.fixture(scope="session")
def default_app(tmp_path_factory: pytest.TempPathFactory) -> PipelineApp:
    return synth(tmp_path_factory.mktemp("default-app"))


@pytest.fixture(scope="session")
def default_templates(default_app: PipelineApp) -> dict[str, Template]:
    return templates_of(default_app)


@pytest.fixture(scope="session")
def data_template(default_app: PipelineApp, default_templates: dict[str, Template]) -> Template:
    return default_templates[default_app.data_stack.stack_name]


@pytest.fixture(scope="session")
def pipeline_template(default_app: PipelineApp, default_templates: dict[str, Template]) -> Template:
    return default_templates[default_app.pipeline_stack.stack_name]
