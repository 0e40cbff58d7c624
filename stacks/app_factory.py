"""Builds the CDK app: the one place that reads configuration and wires the stacks together.

Configuration is layered: the `context` of `cdk.json` (with any `-c key=value`), then, with
`-c config=NAME`, the keys of `config/NAME.json` over it. A named configuration is a partial set of
keys (one file per environment, e.g. `config/prod.json`); `config/full.json` switches every optional
capability on so that the tests synthesize those paths too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.config import ConfigError, PipelineConfig
from stacks.data_stack import DataStack
from stacks.dependencies import prune_redundant_dependencies
from stacks.pipeline_stack import PipelineStack


CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
CONFIGURATION_KEY = "config"
DEFAULT_CONFIGURATION = "default"
"""The name of `cdk.json`'s context alone (no file is merged)."""


def environment_from_cdk_variables() -> cdk.Environment | None:
    """The account/region the CDK CLI resolved, or None for an environment-agnostic synth."""
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    return cdk.Environment(account=account, region=region) if account and region else None


def named_configurations() -> tuple[str, ...]:
    """Every configuration `-c config=NAME` accepts: the default, then `config/*.json` by name."""
    return (DEFAULT_CONFIGURATION, *sorted(path.stem for path in CONFIG_DIR.glob("*.json")))


def named_configuration(name: str) -> dict[str, Any]:
    """The keys `config/<name>.json` sets ({} for the default), each a known configuration key."""
    if name == DEFAULT_CONFIGURATION:
        return {}
    names = named_configurations()
    if name not in names:
        raise ConfigError.invalid(CONFIGURATION_KEY, name, f"one of {', '.join(names)} (a file config/<name>.json)")
    path = CONFIG_DIR / f"{name}.json"
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError.invalid(CONFIGURATION_KEY, name, f"a name whose file {path.name} is JSON ({error})") from None
    if not isinstance(values, dict):
        raise ConfigError.invalid(CONFIGURATION_KEY, name, f"a name whose file {path.name} holds a JSON object")
    for key, value in values.items():
        if key not in PipelineConfig.keys():
            raise ConfigError.invalid(
                key, value, f"only configuration keys in config/{path.name}: {', '.join(PipelineConfig.keys())}"
            )
    return values


def config_from_context(get_context: Callable[[str], Any]) -> PipelineConfig:
    """The validated config: the context, with the named configuration's keys over it."""
    name = get_context(CONFIGURATION_KEY) or DEFAULT_CONFIGURATION
    named = named_configuration(name)
    return PipelineConfig.from_context(lambda key: named[key] if key in named else get_context(key))


class PipelineApp:
    """The stacks of one deployment, built from one validated config."""

    def __init__(self, app: cdk.App, *, env: cdk.Environment | None = None, with_nag: bool = True) -> None:
        self.app = app
        self.config = config_from_context(app.node.try_get_context)
        name = f"{self.config.prefix}-{self.config.environment}"
        self.data_stack = DataStack(app, f"{name}-data", config=self.config, env=env)
        self.pipeline_stack = PipelineStack(
            app, f"{name}-pipeline", config=self.config, data=self.data_stack, env=env
        )
        for stack in self.stacks:
            prune_redundant_dependencies(stack)
        cdk.Tags.of(app).add("project", "personalize-batch-pipeline")
        cdk.Tags.of(app).add("environment", self.config.environment)
        if with_nag:
            cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [self.data_stack, self.pipeline_stack]


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    outdir: str | None = None,
    env: cdk.Environment | None = None,
    with_nag: bool = True,
) -> PipelineApp:
    app = cdk.App(context=dict(context or {}), outdir=outdir)
    return PipelineApp(app, env=env, with_nag=with_nag)
