"""Post-processing functions, their least privilege, their place in the state machine, the dashboard."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from stacks.postprocess import POWERTOOLS_LAYER_PARAMETER
from pipeline_rehearsal import resolve_definition
from tests.support.templates import all_states, grants, past_function_error_reader, role_statements

HANDLERS = {
    "postprocess.handler.list_output_files": (256, 60),
    "postprocess.handler.process_file": (1769, 900),
    "postprocess.handler.write_manifest": (256, 120),
}


def _functions(template: Template) -> dict[str, dict[str, Any]]:
    return {
        resource["Properties"]["Handler"]: {"id": logical_id, **resource["Properties"]}
        for logical_id, resource in template.find_resources("AWS::Lambda::Function").items()
        if resource["Properties"].get("Handler", "").startswith("postprocess.")
    }


def _granted(template: Template, handler: str) -> dict[str, set[str]]:
    return grants(role_statements(template, _functions(template)[handler]["Role"]["Fn::GetAtt"][0]))


def test_three_python_313_functions_with_powertools_and_sizes(pipeline_template: Template) -> None:
    functions = _functions(pipeline_template)
    assert set(functions) == set(HANDLERS)
    (layer_parameter,) = [
        name for name, p in pipeline_template.to_json()["Parameters"].items() if p["Default"] == POWERTOOLS_LAYER_PARAMETER
    ]
    for handler, (memory, timeout) in HANDLERS.items():
        function = functions[handler]
        assert function["Runtime"] == "python3.13"
        assert (function["MemorySize"], function["Timeout"]) == (memory, timeout), handler
        assert function["Layers"] == [{"Ref": layer_parameter}]
        assert function["TracingConfig"] == {"Mode": "Active"}
        variables = function["Environment"]["Variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == "pbp-dev-postprocess"
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "PersonalizeBatchPipeline"
        assert "KeysDataKey" in json.dumps(variables["OUTPUT_KMS_KEY_ID"])


def test_process_file_reads_batch_output_and_writes_only_its_folders(pipeline_template: Template) -> None:
    granted = _granted(pipeline_template, "postprocess.handler.process_file")
    assert set(granted) - {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"} == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }
    assert [r for r in granted["s3:GetObject"]] == [r for r in granted["s3:GetObject"] if "/runs/*/batch-output/*" in r]
    assert len(granted["s3:GetObject"]) == 1
    writes = " ".join(granted["s3:PutObject"])
    assert "/runs/*/recommendations/*" in writes and "/runs/*/errors/*" in writes and len(granted["s3:PutObject"]) == 2
    assert all("DataKey" in r for r in granted["kms:Decrypt"])


def test_write_manifest_writes_only_manifest_and_marker(pipeline_template: Template) -> None:
    granted = _granted(pipeline_template, "postprocess.handler.write_manifest")
    puts = sorted(granted["s3:PutObject"])
    assert len(puts) == 2 and any("/runs/*/_manifest.json" in p for p in puts) and any("/runs/*/_SUCCESS" in p for p in puts)
    (delete,) = granted["s3:DeleteObject"]
    assert "/runs/*/_SUCCESS" in delete
    # It reads the solutions' batch-job plans (each job's expected output files), nothing else.
    (read,) = granted["s3:GetObject"]
    assert "/runs/*/batch-jobs/*" in read


def test_list_function_only_lists(pipeline_template: Template) -> None:
    granted = _granted(pipeline_template, "postprocess.handler.list_output_files")
    assert {a for a in granted if a.startswith(("s3:", "kms:"))} == {"s3:ListBucket"}


def test_post_processing_runs_per_solution_then_once_for_the_run(pipeline_template: Template) -> None:
    definition = resolve_definition(pipeline_template.to_json())
    states, nested = definition["States"], all_states(definition)
    # Per solution, inside its branch: after its batch jobs, list and flatten its files (no catch of their own:
    # the solution's wrapper catches every error and records the solution as FAILED).
    name = "solution"  # the default configuration's one solution
    assert nested[f"{name} batch: each job"]["Next"] == f"{name} post-process: list output files"
    listing = nested[f"{name} post-process: list output files"]
    assert listing["Parameters"]["Payload"]["jobs.$"] == "$.batchJobs"
    assert listing["Parameters"]["Payload"]["kind"] == "user_recommendations"
    assert listing["Next"] == f"{name} post-process: each output file"
    each = nested[f"{name} post-process: each output file"]
    assert each["Type"] == "Map" and each["ItemsPath"] == "$.outputFiles.files" and each["MaxConcurrency"] == 10
    assert each["Next"] == f"{name}: succeeded"
    assert "Catch" not in listing and "Catch" not in each
    # Once for the run: accounting before the manifest (which records it); acceptance after it; then the
    # completion event and the notice only when every solution succeeded.
    assert states["Solutions"]["Next"] == "Post-process: account for the run"
    assert states["Post-process: account for the run"]["Next"] == "Post-process: write manifest"
    assert states["Post-process: write manifest"]["Next"] == "Post-process: accept each model version"
    accept = states["Post-process: accept each model version"]
    assert accept["Type"] == "Map" and accept["ItemsPath"] == "$.manifest.solutions"
    assert accept["Next"] == "Post-process: every solution succeeded?"
    (succeeded,) = states["Post-process: every solution succeeded?"]["Choices"]
    assert succeeded == {
        "Variable": "$.manifest.status",
        "StringEquals": "SUCCEEDED",
        "Next": "Post-process: publish completion event",
    }
    # The run lease is given back before the run fails (tests/orchestration/test_overlap_guard_template.py).
    assert states["Post-process: every solution succeeded?"]["Default"] == "Post-process: release run lease"
    release = states["Post-process: release run lease"]
    assert release["Next"] == "Solutions failed" and release["ResultPath"] is None
    assert release["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Solutions failed"}]
    assert release["Parameters"]["Payload"] == states["Release run lease"]["Parameters"]["Payload"]
    assert states["Solutions failed"]["Error"] == "SolutionsFailed"
    assert states["Solutions failed"]["CausePath"] == "States.Format('{}', $.manifest.message)"
    assert states["Post-process: publish completion event"]["Next"] == "Post-process: announce success"
    assert states["Post-process: announce success"]["Next"] == "Post-process: done"
    assert states["Post-process: done"]["Next"] == "Summarize run"
    (notice_catch,) = states["Post-process: announce success"]["Catch"]
    assert notice_catch["Next"] == "Post-process: success notice not sent"
    assert states["Post-process: success notice not sent"]["Next"] == "Post-process: done"
    for state in ("Post-process: account for the run", "Post-process: write manifest"):
        (catch,) = states[state]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        assert past_function_error_reader(states, catch["Next"]) == "Post-processing failed"
    assert states["Post-processing failed"]["Error"] == "PostProcessFailed"
    manifest = states["Post-process: write manifest"]["Parameters"]["Payload"]
    assert manifest["solutions.$"] == "$.solutions" and "results.$" not in manifest


def test_dashboard_shows_runs_glue_postprocessing_and_lambda_health(pipeline_template: Template) -> None:
    (dashboard,) = pipeline_template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionTime",
        "glue.driver.aggregate.elapsedTime",
        "glue.driver.aggregate.numFailedTasks",
        "LinesProcessed",
        "ErroredLines",
        "Errors",
        "Throttles",
    ):
        assert metric in body, metric
