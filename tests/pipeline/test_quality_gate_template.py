"""Templates of the model quality gate, the accounting, the completion event, the freshness alarm and Glue Flex,
for every configuration: what each new call may do (least privilege), the table, the alarm, the event grant."""

from __future__ import annotations


import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.app_factory import PipelineApp
from stacks.config import ConfigError, PipelineConfig
from stacks.model_gate import EVENT_SOURCE, gate_rejected_state
from tests.support.templates import (
    all_states,
    grants,
    logical_id_of,
    only,
    pipeline_definition,
    resources,
    role_statements,
)


def _pipeline(app: PipelineApp, templates: dict[str, Template]) -> dict[str, Any]:
    return templates[app.pipeline_stack.stack_name].to_json()


def _data(app: PipelineApp, templates: dict[str, Template]) -> dict[str, Any]:
    return templates[app.data_stack.stack_name].to_json()


def _role_of(app: PipelineApp, part: Any) -> str:
    return logical_id_of(part.role)


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def test_the_accepted_version_table_is_stateful_data(configured_app: PipelineApp, configured_templates) -> None:
    data = _data(configured_app, configured_templates)
    table_id, table = only(data, "AWS::DynamoDB::Table")
    properties = table["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # Encrypted with the deployment's data key (customer managed), like the buckets.
    data_key = logical_id_of(configured_app.data_stack.keys.data_key)
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert properties["SSESpecification"]["KMSMasterKeyId"] == {"Fn::GetAtt": [data_key, "Arn"]}
    expected = "Delete" if configured_app.config.destroy_data else "Retain"
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == (expected, expected)
    assert "TableName" not in properties  # generated: a retained table must not block the next deployment


def test_gate_functions_may_make_their_own_calls_and_nothing_else(
    configured_app: PipelineApp, configured_templates
) -> None:
    template = _pipeline(configured_app, configured_templates)
    gate = configured_app.pipeline_stack.model_gate
    config = configured_app.config
    # The versions of every configured solution, one pattern each (named <prefix>-<env>-<name>-<settings hash>).
    versions = {f":solution/{config.resource_name(spec.name)}-????????/*" for spec in config.solutions}

    def allowed(part: Any) -> dict[str, set[str]]:
        found = grants(role_statements(template, _role_of(configured_app, part)))
        # Every function may write its own logs (PipelineFunction); X-Ray is off for these functions.
        return {action: where for action, where in found.items() if not action.startswith("logs:")}

    evaluate, accept, account = allowed(gate.evaluate), allowed(gate.accept), allowed(gate.account)
    assert set(evaluate) == {
        "personalize:DescribeSolutionVersion",
        "personalize:GetSolutionMetrics",
        "dynamodb:GetItem",
        "kms:Decrypt",
        "kms:DescribeKey",
    }
    for action in ("personalize:DescribeSolutionVersion", "personalize:GetSolutionMetrics"):
        assert {json.loads(resource)["Fn::Join"][1][-1] for resource in evaluate[action]} == versions
    assert set(accept) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
    }
    for action in ("dynamodb:GetItem", "dynamodb:PutItem"):
        (resource,) = accept[action]
        assert "AcceptedVersionsTable" in resource and "Arn" in resource, resource  # the data stack's table only
        assert evaluate["dynamodb:GetItem"] == accept["dynamodb:GetItem"]
    assert set(account) == {"glue:GetJobRun"}
    (job,) = account["glue:GetJobRun"]
    assert logical_id_of(configured_app.pipeline_stack.etl.job) in job


def test_completion_event_goes_to_the_default_bus_with_this_source_only(
    configured_app: PipelineApp, configured_templates
) -> None:
    template = _pipeline(configured_app, configured_templates)
    machine_role = logical_id_of(configured_app.pipeline_stack.orchestration.state_machine.role)
    statements = [s for s in role_statements(template, machine_role) if "events:PutEvents" in _text(s["Action"])]
    (statement,) = statements
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"]["Fn::Join"][1][-1] == ":event-bus/default"
    assert statement["Condition"] == {"StringEquals": {"events:source": EVENT_SOURCE}}


def test_freshness_alarm_notifies_the_alert_topic_and_is_on_the_dashboard(
    configured_app: PipelineApp, configured_templates
) -> None:
    template = _pipeline(configured_app, configured_templates)
    config = configured_app.config
    alarm = template["Resources"][logical_id_of(configured_app.pipeline_stack.alerts.freshness_alarm)]["Properties"]
    assert alarm["AlarmName"] == config.resource_name("no-recent-success")  # admitted by the topic policy
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/States",
        "ExecutionsSucceeded",
        "Sum",
    )
    assert alarm["Period"] == config.freshness_max_age_hours * 3600 <= 604_800
    assert (alarm["EvaluationPeriods"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        1,
        1,
        "LessThanThreshold",
    )
    assert alarm["TreatMissingData"] == "breaching"
    topic = logical_id_of(configured_app.pipeline_stack.alerts.topic)
    assert alarm["AlarmActions"] == [{"Ref": topic}]
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    alarm_id = logical_id_of(configured_app.pipeline_stack.alerts.freshness_alarm)
    assert {"Fn::GetAtt": [alarm_id, "Arn"]} in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]


def test_glue_execution_class_follows_the_config(configured_app: PipelineApp, configured_templates) -> None:
    template = _pipeline(configured_app, configured_templates)
    _, job = only(template, "AWS::Glue::Job")
    assert job["Properties"]["ExecutionClass"] == configured_app.config.glue_execution_class


def test_the_gate_rule_and_prices_reach_their_states(configured_app: PipelineApp, configured_templates) -> None:
    states = pipeline_definition(configured_app, configured_templates)["States"]
    config = configured_app.config
    nested = all_states(pipeline_definition(configured_app, configured_templates))
    for spec in config.solutions:
        name = spec.name
        evaluate = nested[f"{name} quality gate: evaluate the model"]
        assert evaluate["Parameters"] == {"solutionVersionArn.$": "$.train.Arn", "rule": config.quality_gate_rule_of(spec)}
        # Only a gate failure goes to the named Fail state; anything else the function raises has its own.
        first, other = evaluate["Catch"]
        # (through a Pass that reads the reason out of the Lambda error's JSON cause, without the stack trace)
        reason = nested[first["Next"]]
        assert first["ErrorEquals"] == ["ModelQualityGateFailed"] and reason["Next"] == gate_rejected_state(name)
        assert reason["Parameters"] == {"reason.$": "States.StringToJson($.gateError.Cause)"}
        assert nested[gate_rejected_state(name)]["CausePath"].endswith("$.gateReason.reason.errorMessage)")
        assert other["ErrorEquals"] == ["States.ALL"]
        assert nested[gate_rejected_state(name)]["Error"] == "ModelQualityGateFailed"
        # The batch jobs use the version the gate chose.
        assert nested[f"{name} batch: each job"]["ItemSelector"]["solutionVersionArn.$"] == "$.gate.solutionVersionArn"
        assert nested[f"{name} batch job: create job"]["Parameters"]["SolutionVersionArn.$"] == "$.solutionVersionArn"
    assert states["Post-process: account for the run"]["Parameters"]["prices"] == config.price_overrides


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("quality_gate_metric", "auc", "one of coverage, "),
        ("quality_gate_min_value", 1.5, "a number from 0.0 to 1.0"),
        ("quality_gate_max_relative_drop", -0.1, "a number from 0.0 to 1.0"),
        ("quality_gate_on_fail", "ignore", "one of fail, use_last_accepted"),
        ("quality_gate_on_missing_metric", "maybe", "one of reject, accept"),
        ("freshness_max_age_hours", 200, "a whole number from 1 to 168"),
        ("glue_execution_class", "SPOT", "one of STANDARD, FLEX"),
        ("prices", {"glue_per_hour": 1}, "unknown key(s) glue_per_hour"),
        ("prices", {"glue_standard_per_dpu_hour": -1}, "is not a non-negative number"),
        ("prices", "not json", "an object of unit prices"),
    ],
)
def test_bad_gate_and_accounting_settings_stop_synth(key: str, value: Any, allowed: str) -> None:
    with pytest.raises(ConfigError, match=rf"'{key}' has value .*allowed: .*{__import__('re').escape(allowed)}"):
        PipelineConfig.from_mapping({key: value})


def test_flex_needs_a_flex_worker_type() -> None:
    with pytest.raises(ConfigError, match=r"'glue_execution_class' has value 'FLEX'.*STANDARD when glue_worker_type is G.4X"):
        PipelineConfig.from_mapping({"glue_execution_class": "FLEX", "glue_worker_type": "G.4X"})


def test_prices_from_the_command_line_are_json() -> None:
    config = PipelineConfig.from_mapping({"prices": '{"personalize_training_per_hour": 0.5}'})
    assert config.price_overrides == {"personalize_training_per_hour": 0.5}
