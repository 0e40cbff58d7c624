"""`pipeline_cli.graph`: the state machine as text, from a template, in run order."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_cli.graph import definition_from_template, render_graph, stage_of

LOOP = {
    "StartAt": "Job: create job",
    "States": {
        "Job: create job": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:personalize:createBatchInferenceJob",
            "Next": "Job: wait",
            "Catch": [{"ErrorEquals": ["Personalize.LimitExceededException"], "Next": "Job: busy"}],
        },
        "Job: busy": {"Type": "Wait", "Seconds": 60, "Next": "Job: create job"},
        "Job: wait": {"Type": "Wait", "Seconds": 45, "Next": "Job: done?"},
        "Job: done?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.status", "StringEquals": "ACTIVE", "Next": "Fan out"}],
            "Default": "Job: wait",
        },
        "Fan out": {
            "Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Child",
                "States": {"Child": {"Type": "Pass", "End": True}},
            },
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"},
            "MaxConcurrencyPath": "$.plan.max_concurrency",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def test_every_state_is_printed_once_in_run_order_with_loops_and_catches() -> None:
    text = render_graph(LOOP)
    names = [line.split("  [")[0] for line in text.splitlines() if not line.startswith(" ")]
    assert names == ["Job: create job", "Job: wait", "Job: done?", "Fan out", "Done", "Job: busy"]
    assert "  catch Personalize.LimitExceededException -> Job: busy" in text
    assert "  otherwise -> Job: wait" in text  # the poll loop, back to a state printed before
    assert "Map, distributed (STANDARD children), items from s3:getObject, at most $.plan.max_concurrency" in text
    assert "\n    Child  [Pass]" in text  # the item processor, indented under its Map


def test_the_outline_shows_a_stage_per_label_and_where_it_leads() -> None:
    text = render_graph(LOOP, outline=True)
    assert text.splitlines()[0] == "Job  [4 states]"
    assert "  -> Fan out" in text
    assert stage_of("users training: create job") == "users training"
    assert stage_of("Solutions") == "Solutions"


def test_a_synthesized_template_renders_with_references_as_placeholders(
    configured_templates: dict[str, Any], configured_app: Any
) -> None:
    template = configured_templates[configured_app.pipeline_stack.stack_name].to_json()
    definition = definition_from_template(template)
    text = render_graph(definition)
    # Every state of the definition, nested ones included, appears exactly once.
    def names(machine: dict[str, Any]) -> list[str]:
        found = []
        for name, state in machine["States"].items():
            found.append(name)
            for branch in state.get("Branches", ()):
                found += names(branch)
            if "ItemProcessor" in state or "Iterator" in state:
                found += names(state.get("ItemProcessor") or state["Iterator"])
        return found

    printed = [line.strip().split("  [")[0] for line in text.splitlines() if "  [" in line]
    assert sorted(printed) == sorted(names(definition))


def test_a_template_without_one_state_machine_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one AWS::StepFunctions::StateMachine"):
        definition_from_template({"Resources": {}})


def test_the_graph_command_reads_a_template_offline(
    tmp_path: Any, configured_templates: dict[str, Any], configured_app: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline_cli.__main__ import main

    path = tmp_path / "pipeline.template.json"
    import json

    path.write_text(json.dumps(configured_templates[configured_app.pipeline_stack.stack_name].to_json()))
    assert main(["graph", "--template", str(path), "--outline"]) == 0
    out = capsys.readouterr().out
    assert "Solutions  [Parallel]" in out
    for spec in configured_app.config.solutions:
        assert f"Solution {spec.name}  [Parallel]" in out
    assert main(["graph", "--template", str(tmp_path / "missing.json")]) == 2
    assert f"error: no template {tmp_path / 'missing.json'}; " in capsys.readouterr().err
    path.write_text("{not json")
    assert main(["graph", "--template", str(path)]) == 2
    assert "error: cannot read a state machine from" in capsys.readouterr().err


def test_graph_without_a_template_names_the_templates_there_are(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline_cli.__main__ import main

    monkeypatch.chdir(tmp_path)
    assert main(["graph"]) == 2
    assert "cdk.out/ holds no pipeline template: run `make synth`" in capsys.readouterr().err
    (tmp_path / "cdk.out").mkdir()
    (tmp_path / "cdk.out" / "pbp-full-pipeline.template.json").write_text("{}")
    (tmp_path / "cdk.out" / "pbp-full-data.template.json").write_text("{}")
    assert main(["graph"]) == 2
    err = capsys.readouterr().err
    assert "error: no template cdk.out/pbp-dev-pipeline.template.json; the pipeline templates in cdk.out/ are: " \
        "cdk.out/pbp-full-pipeline.template.json (--template FILE, or --config NAME)" in err
    assert main(["graph", "--config", "full"]) == 2  # found by name: '{}' holds no state machine
    assert "cannot read a state machine from cdk.out/pbp-full-pipeline.template.json" in capsys.readouterr().err
