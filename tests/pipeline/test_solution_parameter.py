"""A solution ARN crosses from the data stack to the pipeline at run time, through its SSM parameter.

A recipe or auto-training change replaces the solution (its name carries a settings hash). A value the pipeline
stack took at deploy time (a weak cross-stack reference is resolved once, when that stack deploys) would keep
the deleted solution's ARN until the pipeline stack is deployed again; the parameter cannot go stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stacks.app_factory import PipelineApp
from pipeline_contracts.stack_outputs import SOLUTION_ARN_PARAMETER_NAMES as SOLUTION_ARN_PARAMETER_OUTPUT
from tests.support.cdk_app import mask_asset_hashes, synth, templates_of
from tests.support.templates import resources

PARAMETER = "/pbp/dev/personalize/solution-arn"


def test_the_data_stack_keeps_the_solution_arn_in_the_parameter(data_template) -> None:
    template = data_template.to_json()
    (solution_id,) = resources(template, "Custom::PersonalizeSolution")
    (parameter,) = resources(template, "AWS::SSM::Parameter").values()
    assert parameter["Properties"]["Name"] == PARAMETER
    assert parameter["Properties"]["Type"] == "String"
    assert parameter["Properties"]["Value"] == {"Fn::GetAtt": [solution_id, "solutionArn"]}


def test_both_stacks_name_the_default_parameter_in_the_list_output(default_app: PipelineApp, default_templates) -> None:
    for stack in default_app.stacks:
        outputs = default_templates[stack.stack_name].to_json()["Outputs"]
        assert outputs[SOLUTION_ARN_PARAMETER_OUTPUT]["Value"] == PARAMETER, stack.stack_name


def test_no_cross_stack_reference_reaches_the_solution(data_template, pipeline_template) -> None:
    """Every value the pipeline stack takes from the data stack is one that a settings change does not replace."""
    data = data_template.to_json()
    solutions = set(resources(data, "Custom::PersonalizeSolution"))
    referenced = set(_stack_output_names(pipeline_template.to_json()))
    assert referenced, "the pipeline stack takes buckets, keys and roles from the data stack"
    for output in referenced:
        value = json.dumps(data["Outputs"][output]["Value"])
        assert not any(solution in value for solution in solutions), output


def test_a_settings_change_leaves_the_pipeline_template_unchanged(
    tmp_path: Path, default_app: PipelineApp, default_templates
) -> None:
    """So deploying only the data stack after such a change is enough: the next run reads the new solution."""
    changed = synth(tmp_path, recipe="aws-user-personalization-v2", perform_auto_training=True)
    data_name, pipeline_name = default_app.data_stack.stack_name, default_app.pipeline_stack.stack_name
    templates = templates_of(changed)
    before, after = (mask_asset_hashes(t[pipeline_name].to_json()) for t in (default_templates, templates))
    assert after == before
    # ...while the data stack does replace the solution (another name).
    names = [_solution_name(t[data_name].to_json()) for t in (default_templates, templates)]
    assert names[0] != names[1]


def _stack_output_names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [name for item in value for name in _stack_output_names(item)]
    if not isinstance(value, dict):
        return []
    if "Fn::GetStackOutput" in value:
        return [value["Fn::GetStackOutput"]["OutputName"]]
    return [name for item in value.values() for name in _stack_output_names(item)]


def _solution_name(template: dict[str, Any]) -> str:
    (solution,) = resources(template, "Custom::PersonalizeSolution").values()
    return solution["Properties"]["Name"]


def test_the_dashboard_has_a_stage_table_per_solution(synthesized_apps) -> None:
    """One Logs Insights table per configured solution over the state machine's log group (config/full.json)."""
    from stacks.dashboard import solution_stages_query

    synthesized = synthesized_apps("full")
    app = synthesized.app
    template = synthesized.templates[app.pipeline_stack.stack_name].to_json()
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body = "".join(part if isinstance(part, str) else json.dumps(part) for part in parts)
    log_groups = resources(template, "AWS::Logs::LogGroup")
    (log_group,) = [logical_id for logical_id in log_groups if logical_id.startswith("OrchestrationLogs")]
    for spec in app.config.solutions:
        assert f"Solution {spec.name} ({spec.output_kind.name}): stages per run" in body
        assert json.dumps(log_group) in body
        query = solution_stages_query(spec.name)
        words = "( training| quality gate| batch job| batch| post-process)?"
        assert f"details.name like /^{spec.name}{words}: /" in query[1]
    assert body.count("stages per run") == len(app.config.solutions)


def test_a_solution_stage_query_matches_its_states_only() -> None:
    """The query's name filter, as a Python regex: the solution's states, not another's, not run-level ones."""
    import re

    from stacks.dashboard import solution_stages_query

    pattern = re.compile(solution_stages_query("solution")[1].split("like /")[1].rstrip("/"))
    assert pattern.match("solution training: create job") and pattern.match("solution: read solution ARN")
    assert pattern.match("solution batch job: create job")
    assert not pattern.match("Solutions") and not pattern.match("Solution solution")
    assert not pattern.match("solution_eu training: create job")
