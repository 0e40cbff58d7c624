"""The named configurations of this checkout (`cdk.json`, `config/NAME.json`) as the CLI needs them: the pipeline
stack a configuration deploys, so `--config NAME` finds it without `--stack` (pure file reads, no CDK import).

The stack name follows the app's rule (stacks/app_factory.py): `<prefix>-<environment>-pipeline`, with the named
configuration's keys over cdk.json's context.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import CliError, ExitCode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIGURATION = "default"


def configuration_names(root: Path = ROOT) -> tuple[str, ...]:
    """`default` (cdk.json alone), then every `config/*.json` by name, as `-c config=NAME` accepts them."""
    return (DEFAULT_CONFIGURATION, *sorted(path.stem for path in (root / "config").glob("*.json")))


def pipeline_stack_name(configuration: str = DEFAULT_CONFIGURATION, root: Path = ROOT) -> str:
    """The pipeline stack `configuration` deploys, e.g. pbp-full-pipeline for `full`."""
    names = configuration_names(root)
    if configuration not in names:
        raise CliError(
            f"unknown configuration {configuration!r}; the configurations here are: {', '.join(names)}", ExitCode.USAGE
        )
    context = _read_json(root / "cdk.json").get("context", {})
    if configuration != DEFAULT_CONFIGURATION:
        context = {**context, **_read_json(root / "config" / f"{configuration}.json")}
    return f"{context.get('prefix', 'pbp')}-{context.get('environment', 'dev')}-pipeline"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read {path}: {error}", ExitCode.USAGE) from None
    if not isinstance(value, dict):
        raise CliError(f"{path} does not hold a JSON object", ExitCode.USAGE)
    return value
