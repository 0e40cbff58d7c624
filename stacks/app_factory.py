"""Builds the CDK app: the one place that reads configuration and wires the stacks together."""

from __future__ import annotations

import os
from typing import Any, Mapping

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.config import PipelineConfig
from stacks.data_stack import DataStack
from stacks.dependencies import prune_redundant_dependencies
from stacks.pipeline_stack import PipelineStack


def environment_from_cdk_variables() -> cdk.Environment | None:
    """The account/region the CDK CLI resolved, or None for an environment-agnostic synth."""
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    return cdk.Environment(account=account, region=region) if account and region else None


class PipelineApp:
    """The stacks of one deployment, built from one validated config."""

    def __init__(self, app: cdk.App, *, env: cdk.Environment | None = None, with_nag: bool = True) -> None:
        self.app = app
        self.config = PipelineConfig.from_context(app.node.try_get_context)
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
