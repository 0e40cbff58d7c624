"""The cadence in the synthesized state machine of every named configuration: each solution with a `retrain`
cadence has a "train or reuse?" Choice before its training whose REUSE way skips training and gate and goes to its
batch planning; the modes function gets the run's start and input, and reads only the accepted-versions table."""

from __future__ import annotations

from typing import Any

from pipeline_cli.stages import stage_of
from stacks.app_factory import PipelineApp
from tests.support.templates import all_states, logical_id_of, pipeline_definition, role_statements


def reuse_states(name: str, gate: bool) -> set[str]:
    states = {f"{name} training: train or reuse?", f"{name} training: reuse the accepted version"}
    return states | ({f"{name} quality gate: reused, nothing to judge"} if gate else set())


def test_each_cadenced_solution_and_only_it_has_the_reuse_states(
    configured_app: PipelineApp, configured_templates: dict[str, Any]
) -> None:
    states = all_states(pipeline_definition(configured_app, configured_templates))
    for spec in configured_app.config.solutions:
        expected = reuse_states(spec.name, gate=True)
        if not spec.retrain.on:
            assert not expected & set(states), spec.name
            continue
        assert expected <= set(states), spec.name
        choice = states[f"{spec.name} training: train or reuse?"]
        (rule,) = choice["Choices"]
        assert rule == {"Variable": f"$.modes.training.{spec.name}.mode", "StringEquals": "REUSE",
                        "Next": f"{spec.name} training: reuse the accepted version"}  # fmt: skip
        reuse = states[f"{spec.name} training: reuse the accepted version"]
        assert reuse["ResultPath"] == "$.train" and reuse["Next"] == f"{spec.name} quality gate: reused, nothing to judge"
        gate = states[f"{spec.name} quality gate: reused, nothing to judge"]
        assert gate["Next"] == f"{spec.name} batch: plan jobs" and gate["ResultPath"] == "$.gate"
        assert gate["Parameters"]["action"] == "reuse_last_accepted" and gate["Parameters"]["trainingHours"] == 0
        # The training way: the default is the training's first state, and the stages stay the solution's own.
        assert choice["Default"] == f"{spec.name} training: start"
        for state in expected:
            found = stage_of(state)
            assert found is not None and found.label.startswith(spec.name), state


def test_the_modes_function_reads_the_accepted_versions_only_with_a_cadence(
    configured_app: PipelineApp, configured_templates: dict[str, Any]
) -> None:
    stack = configured_app.pipeline_stack
    template = configured_templates[stack.stack_name].to_json()
    function = stack.orchestration.run_modes_function
    role = logical_id_of(function.role)  # type: ignore[arg-type]
    queries = [s for s in role_statements(template, role) if "dynamodb:Query" in s["Action"]]
    properties = template["Resources"][logical_id_of(function)]["Properties"]
    states = all_states(pipeline_definition(configured_app, configured_templates))
    payload = states["Choose modes"]["Parameters"]  # payload_response_only: the parameters are the payload
    if not any(spec.retrain.on for spec in configured_app.config.solutions):
        assert not queries and "ACCEPTED_VERSIONS_TABLE" not in properties["Environment"]["Variables"]
        assert "run_started_at.$" not in payload
        return
    table = logical_id_of(configured_app.data_stack.accepted_versions.table)
    (statement,) = queries
    assert statement["Action"] == "dynamodb:Query" and table in str(statement["Resource"])
    assert table in str(properties["Environment"]["Variables"]["ACCEPTED_VERSIONS_TABLE"])
    assert payload["run_started_at.$"] == "$$.Execution.StartTime" and payload["execution_input.$"] == "$$.Execution.Input"
    cadenced = {s.name: s.retrain.as_dict() for s in configured_app.config.solutions if s.retrain.on}
    assert {n: e["retrain"] for n, e in payload["solutions"].items() if "retrain" in e} == cadenced
