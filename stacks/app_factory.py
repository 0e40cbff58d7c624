"""Builds the CDK app: the one place that reads configuration and wires the stacks together.

Configuration is layered, each layer over the one before: the `context` of `cdk.json`; with
`-c config=NAME`, the keys of `config/NAME.json`; then every `-c key=value` given on the command line. A named
configuration is a partial set of keys (one file per environment, e.g. `config/prod.json`); `config/full.json`
switches every optional capability on so that the tests synthesize those paths too. A `-c` value that overrides
a key the file sets is reported (`ResolvedConfig.notes`), and an invalid value's error names the layer it came
from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.config import DEFAULT_SOURCE, ConfigError, PipelineConfig
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


CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The `context` of cdk.json as the file holds it."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


@dataclass(frozen=True)
class ResolvedConfig:
    """The validated config, and what synth tells the operator about how it was layered."""

    config: PipelineConfig
    notes: tuple[str, ...]


def resolve_config(get_context: Callable[[str], Any]) -> ResolvedConfig:
    """cdk.json's context, the named configuration's keys over it, then the command line's `-c` keys over both.

    The CDK CLI merges `-c` into the app's context, so a `-c` key is one whose value differs from cdk.json's (or
    that cdk.json does not set)."""
    name = get_context(CONFIGURATION_KEY) or DEFAULT_CONFIGURATION
    try:
        named = named_configuration(name)
    except ConfigError as error:
        raise error.located("-c") from None
    defaults = cdk_json_context()
    file_source = f"config/{name}.json"
    command_line = {
        key
        for key in PipelineConfig.keys()
        if get_context(key) is not None and (key not in defaults or get_context(key) != defaults[key])
    }

    def source(key: str) -> str:
        if key in command_line:
            return "-c"
        return file_source if key in named else DEFAULT_SOURCE

    def value(key: str) -> Any:
        return named[key] if source(key) == file_source else get_context(key)

    try:
        config = PipelineConfig.from_context(value)
    except ConfigError as error:
        raise error.located(source(error.root_key)) from None
    notes = tuple(
        f"-c {key}={get_context(key)!r} overrides {file_source}'s {named[key]!r}"
        for key in sorted(command_line & named.keys())
    )
    return ResolvedConfig(config=config, notes=notes)


class PipelineApp:
    """The stacks of one deployment, built from one validated config."""

    def __init__(self, app: cdk.App, *, env: cdk.Environment | None = None, with_nag: bool = True) -> None:
        self.app = app
        resolved = resolve_config(app.node.try_get_context)
        self.config, self.config_notes = resolved.config, resolved.notes
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
