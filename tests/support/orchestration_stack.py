"""A small stack around `PipelineStateMachine`, with stand-in resources, and its synthesized state machine.

Tests and the benchmark use `synth_orchestration(config)`; `SynthesizedOrchestration` (the offline harness's,
`pipeline_rehearsal/deployment.py`) gives the template, the resolved definition and an offline harness with the
state machine created and the naming Lambda registered. The real app's state machine: `app_orchestration` there.
"""

from __future__ import annotations

import os
from typing import Any, Callable

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_glue as glue  # noqa: E402
from aws_cdk import aws_iam as iam  # noqa: E402
from aws_cdk import aws_kms as kms  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk import aws_stepfunctions as sfn  # noqa: E402
from constructs import Construct  # noqa: E402

from pipeline_rehearsal import ACCOUNT  # noqa: E402
from pipeline_rehearsal.deployment import (  # noqa: E402
    GUARD_STATE,
    REGION,
    SynthesizedOrchestration,
    logical_id_of,
    orchestration_inputs,
)
from stacks.config import PipelineConfig  # noqa: E402
from stacks.orchestration import PipelineStateMachine  # noqa: E402
from stacks.personalize import solution_arn_parameter_name  # noqa: E402

__all__ = ["GUARD_STATE", "PERSONALIZE", "DATASET_ARN", "GLUE_JOB_NAME", "build_stack", "synth_orchestration"]

PERSONALIZE = f"arn:aws:personalize:{REGION}:{ACCOUNT}"
DATASET_ARN = f"{PERSONALIZE}:dataset/pbp-test/INTERACTIONS"
GLUE_JOB_NAME = "pbp-test-transform"


def build_stack(
    app: cdk.App,
    stack_id: str,
    config: PipelineConfig,
    post_process: Callable[[Construct], sfn.IChainable] | None = None,
) -> tuple[cdk.Stack, PipelineStateMachine, dict[str, Any]]:
    """The test stack; returns it, the construct and the resources the construct was wired to."""
    stack = cdk.Stack(app, stack_id, env=cdk.Environment(account=ACCOUNT, region=REGION))
    wiring: dict[str, Any] = {
        "glue_job": glue.Job.from_job_attributes(stack, "GlueJob", job_name=GLUE_JOB_NAME),
        "transformed_bucket": s3.Bucket(stack, "Transformed"),
        "curated_bucket": s3.Bucket(stack, "Curated"),
        "data_key": kms.Key(stack, "DataKey"),
        "personalize_role": iam.Role(
            stack, "PersonalizeRole", assumed_by=iam.ServicePrincipal("personalize.amazonaws.com")
        ),
        "dataset_arn": DATASET_ARN,
    }
    if config.metadata_datasets:
        wiring["metadata_dataset_arns"] = {
            spec.kind: f"{PERSONALIZE}:dataset/pbp-test/{spec.kind.upper()}" for spec in config.metadata_datasets
        }
    orchestration = PipelineStateMachine(
        stack,
        "Orchestration",
        config=config,
        logs_key=kms.Key(stack, "LogsKey"),
        post_process=post_process,
        **wiring,
    )
    # Not construct arguments: the parameter the state machine reads at run time, and the value it holds.
    solution = {
        "solution_arn_parameter": solution_arn_parameter_name(config, config.solutions[0].name),
        "solution_arn": f"{PERSONALIZE}:solution/{config.resource_name('solution')}-0123abcd",
    }
    return stack, orchestration, {**wiring, **solution}


PostProcess = Callable[[Construct], sfn.IChainable]


def synth_orchestration(
    configs: dict[str, PipelineConfig], post_process: dict[str, PostProcess] | None = None
) -> dict[str, SynthesizedOrchestration]:
    """Synthesizes one test stack per config in a single app (one synth: the jsii start-up is paid once)."""
    app = cdk.App()
    post_process = post_process or {}
    stacks = {
        key: build_stack(app, f"Orchestration-{key}", config, post_process.get(key)) for key, config in configs.items()
    }
    assembly = app.synth()
    result = {}
    for key, (stack, construct, wiring) in stacks.items():
        template = assembly.get_stack_by_name(stack.stack_name).template
        logical_id = logical_id_of(construct.state_machine)
        result[key] = SynthesizedOrchestration(configs[key], template, logical_id, orchestration_inputs(stack, wiring))
    return result
