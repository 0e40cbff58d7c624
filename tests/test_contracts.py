"""Every contract of `pipeline_contracts/` and every pinned version holds on each side that relies on it:
the synthesized stacks, the operator CLI, the post-processing handler, the requirements files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from pipeline_cli.commands import exit_code_for
from pipeline_cli.errors import ExitCode
from pipeline_cli.outputs import OPTIONAL_OUTPUTS, REQUIRED_OUTPUTS
from pipeline_cli.stages import Timeline
from pipeline_contracts import metrics, stack_outputs
from pipeline_contracts.statuses import (
    EXECUTION_NOT_SUCCEEDED_STATUSES,
    PERSONALIZE_DONE_STATUS,
    PERSONALIZE_FAILED_STATUSES,
)
from stacks.app_factory import PipelineApp
from pipeline_rehearsal.moto_pin import PATCHED_MOTO_VERSION, UnsupportedMotoVersion, require_patched_moto
from tests.support.pins import pinned_version
from pipeline_rehearsal import FakeCloud
from tests.support.templates import all_states, only, pipeline_definition, resources

# Outputs CDK adds by itself for cross-stack references (weak: PublishOutput..., strong: ExportsOutput...).
_CDK_REFERENCE_OUTPUTS = ("PublishOutput", "ExportsOutput")


def _declared_outputs(template: Template) -> set[str]:
    return {name for name in template.find_outputs("*") if not name.startswith(_CDK_REFERENCE_OUTPUTS)}


# ------------------------------------------------------------------------------------------------------------
# Stack outputs: stacks <-> CLI


def test_every_output_the_cli_reads_is_one_the_pipeline_stack_exports(
    configured_app: PipelineApp, configured_templates: dict[str, Template]
) -> None:
    exported = _declared_outputs(configured_templates[configured_app.pipeline_stack.stack_name])
    assert set(REQUIRED_OUTPUTS + OPTIONAL_OUTPUTS) <= exported


def test_every_output_of_the_stacks_is_named_in_the_contract(
    configured_app: PipelineApp, configured_templates: dict[str, Template]
) -> None:
    for stack, contract in (
        (configured_app.pipeline_stack, stack_outputs.PIPELINE_STACK_OUTPUTS),
        (configured_app.data_stack, stack_outputs.DATA_STACK_OUTPUTS),
    ):
        assert _declared_outputs(configured_templates[stack.stack_name]) <= set(contract), stack.stack_name


# ------------------------------------------------------------------------------------------------------------
# Metrics: dashboard <-> handler (the handler's side: tests/postprocess/test_handler.py)


def _dashboard_metrics(template: Template) -> list[list[Any]]:
    (_, dashboard) = only(template, "AWS::CloudWatch::Dashboard")
    body = json.loads(FakeCloud(template.to_json()).resolve(dashboard["Properties"]["DashboardBody"]))
    return [metric for widget in body["widgets"] for metric in widget["properties"].get("metrics", [])]


def test_the_dashboard_graphs_the_metrics_post_processing_publishes(
    default_app: PipelineApp, pipeline_template: Template
) -> None:
    service = default_app.config.resource_name("postprocess")
    graphed = [tuple(metric[:4]) for metric in _dashboard_metrics(pipeline_template) if metric[0] == metrics.NAMESPACE]
    assert graphed == [(metrics.NAMESPACE, name, metrics.SERVICE_DIMENSION, service) for name in metrics.POSTPROCESS_METRICS]


def test_post_processing_functions_publish_under_the_dashboards_namespace_and_service(
    default_app: PipelineApp, pipeline_template: Template
) -> None:
    environments = [
        function["Properties"]["Environment"]["Variables"]
        for function in resources(pipeline_template, "AWS::Lambda::Function").values()
        if function["Properties"]["Handler"].startswith("postprocess.")
    ]
    assert environments
    for variables in environments:
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == metrics.NAMESPACE
        assert variables["POWERTOOLS_SERVICE_NAME"] == default_app.config.resource_name("postprocess")


def test_powertools_names_the_service_dimension_as_the_dashboard_does() -> None:
    """The handler sets no dimension itself: Powertools adds the service (POWERTOOLS_SERVICE_NAME) under this name."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    published = EphemeralMetrics(namespace=metrics.NAMESPACE, service="pbp-dev-postprocess")
    published.add_metric(name=metrics.LINES_PROCESSED, unit=MetricUnit.Count, value=1)
    (directive,) = published.serialize_metric_set()["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [[metrics.SERVICE_DIMENSION]]


# ------------------------------------------------------------------------------------------------------------
# Statuses: state machine, alert rule and CLI


def _compared_statuses(rule: dict[str, Any]) -> set[str]:
    """The strings a Choice rule (with its nested And/Or/Not) compares a `...Status` field to."""
    nested = [*rule.get("And", []), *rule.get("Or", []), *([rule["Not"]] if "Not" in rule else [])]
    found = {rule["StringEquals"]} if str(rule.get("Variable", "")).endswith(".Status") and "StringEquals" in rule else set()
    return found.union(*(_compared_statuses(inner) for inner in nested))


def test_the_state_machine_knows_exactly_the_personalize_statuses_of_the_contract(
    default_app: PipelineApp, default_templates: dict[str, Template]
) -> None:
    # Every job stage polls in a child execution (an import's, a solution's, a batch job's): nested states too.
    states = all_states(pipeline_definition(default_app, default_templates)).values()
    compared = set().union(
        *(_compared_statuses(rule) for state in states if state["Type"] == "Choice" for rule in state["Choices"])
    )
    assert compared == {PERSONALIZE_DONE_STATUS, *PERSONALIZE_FAILED_STATUSES}


def test_the_alert_rule_and_the_cli_fail_the_same_executions(pipeline_template: Template) -> None:
    patterns = [
        rule["Properties"]["EventPattern"]
        for rule in resources(pipeline_template, "AWS::Events::Rule").values()
        if "Step Functions Execution Status Change" in rule["Properties"].get("EventPattern", {}).get("detail-type", [])
    ]
    assert [set(pattern["detail"]["status"]) for pattern in patterns] == [set(EXECUTION_NOT_SUCCEEDED_STATUSES)]
    for status in ("RUNNING", "SUCCEEDED", *EXECUTION_NOT_SUCCEEDED_STATUSES):
        timeline = Timeline(status=status, started=None, stopped=None, stages=())
        expected = ExitCode.RUN_FAILED if status in EXECUTION_NOT_SUCCEEDED_STATUSES else ExitCode.OK
        assert exit_code_for(timeline) == expected, status


# ------------------------------------------------------------------------------------------------------------
# Pinned versions: the Powertools layer and the moto the offline harness patches


def test_the_powertools_layer_is_the_version_requirements_pin(pipeline_template: Template) -> None:
    layers = [
        parameter["Default"]
        for parameter in pipeline_template.to_json()["Parameters"].values()
        if str(parameter.get("Default", "")).startswith("/aws/service/powertools/")
    ]
    assert [layer.rsplit("/", 1)[1] for layer in layers] == [pinned_version("aws-lambda-powertools")]


def test_the_offline_harness_patches_the_pinned_moto() -> None:
    assert PATCHED_MOTO_VERSION == pinned_version("moto")


def test_the_offline_harness_refuses_another_moto() -> None:
    require_patched_moto(PATCHED_MOTO_VERSION)
    other = "0.0.1"
    expected = rf"moto {re.escape(PATCHED_MOTO_VERSION)}'s .* but moto {re.escape(other)} is installed.*requirements-dev"
    with pytest.raises(UnsupportedMotoVersion, match=expected):
        require_patched_moto(other)


def test_pins_are_found_by_normalized_name_with_extras_and_comments(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("-r base.txt\n# tools\nmoto[s3,sqs]==5.2.5  # harness\nAWS_Lambda.Powertools==3.37.0\nrich>=15\n")
    assert pinned_version("moto", (requirements,)) == "5.2.5"
    assert pinned_version("aws-lambda-powertools", (requirements,)) == "3.37.0"
    with pytest.raises(LookupError, match="rich is not pinned"):
        pinned_version("rich", (requirements,))
