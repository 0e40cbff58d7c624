"""The app as `cdk synth` builds it, for tests: cdk.json's context, a named configuration, overrides.

The one place tests synthesize the real app from; `tests/conftest.py` builds its session fixtures on it.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template  # noqa: E402  (after the jsii setting above)

from stacks.app_factory import CONFIGURATION_KEY, DEFAULT_CONFIGURATION, PipelineApp, build_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass
class Synthesized:
    """An app and, read once on first use, its templates by stack name (`Template.from_stack` is a jsii
    round trip per stack)."""

    app: PipelineApp

    @functools.cached_property
    def templates(self) -> dict[str, Template]:
        return templates_of(self.app)


def synth(
    tmp_dir: Path, *, configuration: str = DEFAULT_CONFIGURATION, with_nag: bool = False, **overrides: Any
) -> PipelineApp:
    """The app as `cdk synth -c config=<configuration>` builds it, with keys overridden like `-c key=value`."""
    # The CLI adds construct paths to every resource; the tests read them as the CLI would.
    context = {**CDK_CONTEXT, "aws:cdk:enable-path-metadata": True, CONFIGURATION_KEY: configuration, **overrides}
    return build_app(context, outdir=str(tmp_dir), with_nag=with_nag)


def templates_of(pipeline: PipelineApp) -> dict[str, Template]:
    return {stack.stack_name: Template.from_stack(stack) for stack in pipeline.stacks}


def mask_asset_hashes(template: dict) -> dict:
    """Asset hashes change with every code edit; the snapshot pins structure, not bytes of assets."""
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template)))
