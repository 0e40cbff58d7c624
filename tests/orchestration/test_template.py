"""The synthesized state machine: states, timeout, logging, tracing, IAM scoping, naming wiring, ASL validity."""

from __future__ import annotations

from stacks.personalize import solution_name_pattern

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stacks.config import ConfigError, PipelineConfig
from stacks.orchestration import BUSY_ERRORS, HISTORY_EVENT_LIMIT
from tests.support.orchestration_stack import SynthesizedOrchestration
from tests.support.templates import as_list, logical_id_starting_with, role_statements

from .conftest import HOOK_STATE

ROOT = Path(__file__).resolve().parents[2]
STAGES = {"Import": "import", "Training": "train", "Batch inference": "batch"}
LOOP_STATES = [
    "start", "create job", "busy?", "count busy retry", "wait while busy", "still busy",
    "wait", "describe job", "job status?", "count poll", "job failed", "job ended", "timed out",
]  # fmt: skip


@pytest.fixture(scope="module")
def sm_statements(orchestration: SynthesizedOrchestration) -> list[dict[str, Any]]:
    role = orchestration.properties["RoleArn"]["Fn::GetAtt"][0]
    return [
        {**s, "Action": as_list(s["Action"]), "Resource": orchestration.cloud.resolve(as_list(s["Resource"]))}
        for s in role_statements(orchestration.template, role)
    ]


def resources_for(sm_statements: list[dict[str, Any]], action: str) -> set[str]:
    return {r for s in sm_statements if action in s["Action"] for r in s["Resource"]}


def test_every_state_is_present(orchestration: SynthesizedOrchestration) -> None:
    states = set(orchestration.definition["States"])
    expected = {f"{label}: {suffix}" for label in STAGES for suffix in LOOP_STATES} | {
        "List running executions", "Other runs active?", "Find oldest running", "Oldest running is this one?",
        "Skip: another run is active", "Skipped", "Prepare run", "Prepare run: read solution ARN",
        "Prepare run: solution ARN unavailable", "Transform (Glue)", "Transform failed",
        "Transform succeeded?", "Transform did not succeed", "Transform done", "Summarize run", "Run succeeded",
    }  # fmt: skip
    assert states == expected
    assert orchestration.definition["StartAt"] == "List running executions"
    assert "QueryLanguage" not in orchestration.definition  # JSONPath: moto cannot run JSONata
    assert "Assign" not in json.dumps(orchestration.definition)


def test_stages_run_in_order_and_end_in_the_summary(orchestration: SynthesizedOrchestration) -> None:
    states = orchestration.definition["States"]

    def on_active(label: str) -> str:
        (rule,) = [c for c in states[f"{label}: job status?"]["Choices"] if c.get("StringEquals") == "ACTIVE"]
        return rule["Next"]

    assert states["Transform done"]["Next"] == "Import: start"
    assert on_active("Import") == "Training: start"
    assert on_active("Training") == "Batch inference: start"
    assert on_active("Batch inference") == "Summarize run"
    assert states["Summarize run"]["Next"] == "Run succeeded"


def test_post_process_hook_sits_between_batch_active_and_summary(hooked: SynthesizedOrchestration) -> None:
    states = hooked.definition["States"]
    (rule,) = [c for c in states["Batch inference: job status?"]["Choices"] if c.get("StringEquals") == "ACTIVE"]
    assert rule["Next"] == HOOK_STATE
    assert states[HOOK_STATE]["Next"] == "Summarize run"


def test_busy_errors_are_caught_on_every_create(orchestration: SynthesizedOrchestration) -> None:
    for label in STAGES:
        (catch,) = orchestration.definition["States"][f"{label}: create job"]["Catch"]
        assert catch["ErrorEquals"] == list(BUSY_ERRORS) and catch["Next"] == f"{label}: busy?"
        assert "Retry" not in orchestration.definition["States"][f"{label}: create job"]  # visible loop, no Retry


def test_bounds_and_waits_come_from_config(orchestration: SynthesizedOrchestration) -> None:
    config, states = orchestration.config, orchestration.definition["States"]
    assert orchestration.definition["TimeoutSeconds"] == config.execution_timeout_hours * 3600
    for label in STAGES:
        assert states[f"{label}: wait"]["Seconds"] == config.status_poll_seconds
        assert states[f"{label}: wait while busy"]["Seconds"] == config.busy_retry_seconds
        (busy_rule,) = states[f"{label}: busy?"]["Choices"]
        assert busy_rule["NumericGreaterThanEquals"] == config.busy_retry_max_attempts - 1
        (bound,) = [c for c in states[f"{label}: job status?"]["Choices"] if "NumericGreaterThanEquals" in c]
        assert bound["NumericGreaterThanEquals"] == config.job_max_wait_hours * 3600 // config.status_poll_seconds - 1


def test_logging_all_to_an_encrypted_log_group_and_tracing(orchestration: SynthesizedOrchestration) -> None:
    logging = orchestration.properties["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is True
    (destination,) = logging["Destinations"]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert orchestration.template["Resources"][log_group_id]["DeletionPolicy"] == "Delete"  # redeployable stack
    log_group = orchestration.template["Resources"][log_group_id]["Properties"]
    assert log_group["KmsKeyId"] == {"Fn::GetAtt": [logical_id_starting_with(orchestration.template, "LogsKey"), "Arn"]}
    assert log_group["RetentionInDays"] > 0
    assert log_group["LogGroupName"] == f"/aws/vendedlogs/states/{orchestration.state_machine_name}"
    assert orchestration.properties["TracingConfiguration"] == {"Enabled": True}
    assert orchestration.state_machine_name == orchestration.config.resource_name("batch-pipeline")


def test_personalize_actions_are_scoped(orchestration: SynthesizedOrchestration, sm_statements: list) -> None:
    config = orchestration.config
    prefix = f"arn:aws:personalize:{orchestration.region}:123456789012"
    # Any solution this deployment can create (read at run time), not one ARN fixed at deploy time.
    solution = f"{prefix}:solution/{solution_name_pattern(config, config.solutions[0].name)}"
    import_jobs = f"{prefix}:dataset-import-job/{config.resource_name('import')}-*"
    batch_jobs = f"{prefix}:batch-inference-job/{config.resource_name('batch')}-*"
    assert resources_for(sm_statements, "personalize:CreateDatasetImportJob") == {
        orchestration.expected("dataset_arn"),
        import_jobs,
    }
    assert resources_for(sm_statements, "personalize:DescribeDatasetImportJob") == {import_jobs}
    assert resources_for(sm_statements, "personalize:CreateSolutionVersion") == {solution}
    assert resources_for(sm_statements, "personalize:DescribeSolutionVersion") == {f"{solution}/*"}
    assert resources_for(sm_statements, "personalize:CreateBatchInferenceJob") == {batch_jobs, solution, f"{solution}/*"}
    assert resources_for(sm_statements, "personalize:DescribeBatchInferenceJob") == {batch_jobs}
    actions = {a for s in sm_statements for a in s["Action"] if a.startswith("personalize:")}
    assert len(actions) == 6


def test_the_solution_arn_is_read_from_the_one_parameter(orchestration: SynthesizedOrchestration, sm_statements: list) -> None:
    config, states = orchestration.config, orchestration.definition["States"]
    name = f"/{config.prefix}/{config.environment}/personalize/solution-arn"
    assert orchestration.expected("solution_arn_parameter") == name
    assert resources_for(sm_statements, "ssm:GetParameter") == {
        f"arn:aws:ssm:{orchestration.region}:123456789012:parameter{name}"
    }
    assert {a for s in sm_statements for a in s["Action"] if a.startswith("ssm:")} == {"ssm:GetParameter"}
    read = states["Prepare run: read solution ARN"]
    assert (read["Resource"], read["Parameters"]) == ("arn:aws:states:::aws-sdk:ssm:getParameter", {"Name": name})
    assert states["Prepare run"]["Next"] == "Prepare run: read solution ARN"
    assert read["Next"] == "Transform (Glue)"
    assert states["Training: create job"]["Parameters"]["SolutionArn.$"] == read["ResultPath"] + ".Arn"


def test_pass_role_only_for_the_personalize_role_and_service(
    orchestration: SynthesizedOrchestration, sm_statements: list
) -> None:
    pass_role = [s for s in sm_statements if "iam:PassRole" in s["Action"]]
    assert pass_role and all(s["Action"] == ["iam:PassRole"] for s in pass_role)
    for statement in pass_role:
        assert statement["Resource"] == [orchestration.expected("personalize_role_arn")]
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}}


def test_only_log_delivery_and_xray_use_a_star(orchestration: SynthesizedOrchestration, sm_statements: list) -> None:
    starred = {a for s in sm_statements if "*" in s["Resource"] for a in s["Action"]}
    assert starred and all(a.startswith(("logs:", "xray:")) for a in starred), starred


def test_glue_and_list_executions_are_scoped(orchestration: SynthesizedOrchestration, sm_statements: list) -> None:
    job_arn = f"arn:aws:glue:{orchestration.region}:123456789012:job/{orchestration.expected('glue_job_name')}"
    glue_actions = {a for s in sm_statements for a in s["Action"] if a.startswith("glue:")}
    assert {"glue:StartJobRun", "glue:GetJobRun"} <= glue_actions
    for action in glue_actions:
        assert resources_for(sm_statements, action) == {job_arn}
    own_arn = f"arn:aws:states:{orchestration.region}:123456789012:stateMachine:{orchestration.state_machine_name}"
    assert resources_for(sm_statements, "states:ListExecutions") == {own_arn}
    lambda_arn = orchestration.run_names_function
    assert resources_for(sm_statements, "lambda:InvokeFunction") == {lambda_arn, f"{lambda_arn}:*"}


def test_job_names_and_paths_come_from_prepare_run(orchestration: SynthesizedOrchestration) -> None:
    states = orchestration.definition["States"]
    prepare = states["Prepare run"]
    assert prepare["Parameters"]["Payload"] == {
        "executionName.$": "$$.Execution.Name",
        "executionArn.$": "$$.Execution.Id",
        "startTime.$": "$$.Execution.StartTime",
        "namePrefixes": {
            "importJobName": orchestration.config.resource_name("import"),
            "solutionVersionName": orchestration.config.resource_name("train"),
            "batchInferenceJobName": orchestration.config.resource_name("batch"),
        },
    }
    transformed, curated = orchestration.expected("transformed_bucket"), orchestration.expected("curated_bucket")
    selector = prepare["ResultSelector"]
    assert selector["interactionsUri.$"] == f"States.Format('s3://{transformed}/runs/{{}}/interactions/', $.Payload.runId)"
    assert selector["batchInputUri.$"] == f"States.Format('s3://{transformed}/runs/{{}}/batch-input/', $.Payload.runId)"
    assert selector["batchOutputUri.$"] == f"States.Format('s3://{curated}/runs/{{}}/batch-output/', $.Payload.runId)"
    assert states["Transform (Glue)"]["Parameters"]["Arguments"] == {"--run_id.$": "$.run.id"}
    assert states["Import: create job"]["Parameters"]["JobName.$"] == "$.run.importJobName"
    assert states["Training: create job"]["Parameters"]["Name.$"] == "$.run.solutionVersionName"
    assert states["Batch inference: create job"]["Parameters"]["JobName.$"] == "$.run.batchInferenceJobName"


def test_naming_function(orchestration: SynthesizedOrchestration) -> None:
    (function,) = orchestration.cloud.resources_of_type("AWS::Lambda::Function").values()
    properties = function["Properties"]
    assert set(properties["Code"]) == {"S3Bucket", "S3Key"}  # an asset: run_names/ alone (tests/pipeline/test_lambda_assets.py)
    assert properties["Handler"] == "run_names.handler.handle"
    assert properties["Runtime"] == "python3.13"
    log_group = orchestration.template["Resources"][properties["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
    assert log_group["KmsKeyId"] == {"Fn::GetAtt": [logical_id_starting_with(orchestration.template, "LogsKey"), "Arn"]}
    assert "ManagedPolicyArns" not in orchestration.template["Resources"][properties["Role"]["Fn::GetAtt"][0]]["Properties"]


def test_optional_batch_parameters(orchestration: SynthesizedOrchestration, hooked: SynthesizedOrchestration) -> None:
    configured = orchestration.definition["States"]["Batch inference: create job"]["Parameters"]
    assert configured["FilterArn"] == orchestration.config.filter_arn
    assert configured["BatchInferenceJobConfig"] == {
        "ItemExplorationConfig": {"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"}
    }
    defaults = hooked.definition["States"]["Batch inference: create job"]["Parameters"]
    assert "FilterArn" not in defaults and "BatchInferenceJobConfig" not in defaults


def test_definition_passes_asl_validator(orchestration: SynthesizedOrchestration, tmp_path: Path) -> None:
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(orchestration.definition))
    result = subprocess.run(
        [str(ROOT / "node_modules/.bin/asl-validator"), "--json-path", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"status_poll_seconds": 30}, "status_poll_seconds"),  # 24 h of 30 s polls: ~31,800 events
        ({"busy_retry_seconds": 20, "status_poll_seconds": 60}, "busy_retry_seconds"),
        ({"status_poll_seconds": 5, "execution_timeout_hours": 4, "job_max_wait_hours": 1}, "status_poll_seconds"),
    ],
)
def test_configs_that_could_pass_the_history_limit_are_refused(overrides: dict, key: str) -> None:
    from tests.support.orchestration_stack import synth_orchestration

    with pytest.raises(ConfigError, match=rf"'{key}'.*{HISTORY_EVENT_LIMIT}"):
        synth_orchestration({"x": PipelineConfig(**overrides)})


def test_shipped_defaults_fit_the_history_limit() -> None:
    from stacks.orchestration import check_history_budget

    check_history_budget(PipelineConfig())
