"""The synthesized state machine: states, timeout, logging, tracing, IAM scoping, naming wiring, ASL validity."""

from __future__ import annotations


import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stacks.config import ConfigError, PipelineConfig
from stacks.orchestration import BUSY_ERRORS, HISTORY_EVENT_LIMIT
from pipeline_rehearsal.deployment import GUARD_STATE, SynthesizedOrchestration
from tests.support.templates import all_states, as_list, logical_id_starting_with, role_statements

from .conftest import HOOK_STATE

ROOT = Path(__file__).resolve().parents[2]
# The job stages of the test config's one (default) solution: the import, its training, its batch job (in the
# Distributed Map's child).
STAGES = {"Import": "import", "solution training": "train", "solution batch job": "batch"}
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
    states = set(all_states(orchestration.definition))
    expected = {f"{label}: {suffix}" for label in STAGES for suffix in LOOP_STATES} | {
        GUARD_STATE, "Overlap guard: lease taken?", "Skip: another run is active", "Skipped", "Prepare run", "Prepare run: check solution parameters",
        "Prepare run: every solution parameter exists?", "Prepare run: solution parameters missing",
        "Prepare run: solution ARN unavailable", "Transform (Glue)", "Transform failed",
        "Transform succeeded?", "Transform did not succeed", "Transform done", "Choose modes",
        "Choose modes: read the reason", "Choose modes: import not possible", "Choose modes failed",
        "Import: hand over", "Import: own history", "Import: in its child", "Import: hand back",
        "Import: keep the error", "Import: failed?", "Import: failed in its child", "Import: result",
        "Solutions", "solution: hand over", "solution: own history", "solution: failed: no child execution",
        "Solution solution",
        "solution: read solution ARN", "solution batch: plan jobs", "solution batch: each job", "solution batch job",
        "solution batch job: place input?", "solution batch job: place input", "solution batch job: done",
        "solution batch job: failed", "solution: succeeded", "solution: failed", "Summarize run", "Release run lease",
        "Run succeeded", "Prepare run failed", "Overlap guard failed",
    } | {
        f"{label}: {step}"  # readable_function_error at each catch a function error reaches
        for label in (
            "Overlap guard failure", "Prepare run failure", "Choose modes failure", "solution: failed",
            "solution batch job: failure",
        )
        for step in ("function error?", "read the function error", "type and message only")
    }  # fmt: skip
    assert states == expected
    assert orchestration.definition["StartAt"] == GUARD_STATE
    assert "QueryLanguage" not in orchestration.definition  # JSONPath: moto cannot run JSONata
    assert "Assign" not in json.dumps(orchestration.definition)


def test_stages_run_in_order_and_end_in_the_summary(orchestration: SynthesizedOrchestration) -> None:
    states = all_states(orchestration.definition)

    def on_active(label: str) -> str:
        (rule,) = [c for c in states[f"{label}: job status?"]["Choices"] if c.get("StringEquals") == "ACTIVE"]
        return rule["Next"]

    assert states["Transform done"]["Next"] == "Choose modes"
    assert states["Choose modes"]["Next"] == "Import: hand over"
    # The import polls in a child execution of its own; the parent goes on with its result, or fails with its error.
    assert states["Import: own history"]["Next"] == "Import: failed?"
    (failed,) = states["Import: failed?"]["Choices"]
    assert failed == {"Variable": "$.importChild.outcome.error", "IsPresent": True, "Next": "Import: failed in its child"}
    assert states["Import: failed in its child"] == {
        "Type": "Fail", "ErrorPath": "$.importChild.outcome.error.Error", "CausePath": "$.importChild.outcome.error.Cause"
    }
    assert states["Import: failed?"]["Default"] == "Import: result"
    assert states["Import: result"]["Next"] == "Solutions"
    # The import and the training read the mode chosen for this run, not the configured one.
    assert states["Import: create job"]["Parameters"]["ImportMode.$"] == "$.modes.imports.interactions.mode"
    assert states["solution training: create job"]["Parameters"]["TrainingMode.$"] == "$.modes.training.solution.mode"
    assert on_active("Import") == "Import: hand back"
    assert states["solution: read solution ARN"]["Next"] == "solution training: start"
    assert on_active("solution training") == "solution batch: plan jobs"
    assert on_active("solution batch job") == "solution batch job: done"
    assert states["solution batch: each job"]["Next"] == "solution: succeeded"
    assert states["Solutions"]["Next"] == "Summarize run"
    assert states["Summarize run"]["Next"] == "Release run lease"
    assert states["Release run lease"]["Next"] == "Run succeeded"


def test_post_process_hook_sits_between_the_solutions_and_summary(hooked: SynthesizedOrchestration) -> None:
    states = hooked.definition["States"]
    assert states["Solutions"]["Next"] == HOOK_STATE
    assert states[HOOK_STATE]["Next"] == "Summarize run"


def test_busy_errors_are_caught_on_every_create(orchestration: SynthesizedOrchestration) -> None:
    states = all_states(orchestration.definition)
    for label in STAGES:
        (catch,) = states[f"{label}: create job"]["Catch"]
        assert catch["ErrorEquals"] == list(BUSY_ERRORS) and catch["Next"] == f"{label}: busy?"
        assert "Retry" not in states[f"{label}: create job"]  # visible loop, no Retry


def test_bounds_and_waits_come_from_config(orchestration: SynthesizedOrchestration) -> None:
    config, states = orchestration.config, all_states(orchestration.definition)
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
    # Any Personalize solution this configured solution can have (read at run time), not one ARN fixed at deploy
    # time; its batch jobs by their name prefix.
    (spec,) = config.solutions
    solution = f"{prefix}:solution/{config.resource_name(spec.name)}-????????"
    import_jobs = f"{prefix}:dataset-import-job/{config.resource_name('import')}-*"
    batch_jobs = f"{prefix}:batch-inference-job/{config.resource_name('batch-' + spec.name)}-*"
    assert resources_for(sm_statements, "personalize:CreateDatasetImportJob") == {
        orchestration.expected("dataset_arn"),
        import_jobs,
    }
    assert resources_for(sm_statements, "personalize:DescribeDatasetImportJob") == {import_jobs}
    assert resources_for(sm_statements, "personalize:CreateSolutionVersion") == {solution}
    assert resources_for(sm_statements, "personalize:DescribeSolutionVersion") == {f"{solution}/*"}
    assert resources_for(sm_statements, "personalize:CreateBatchInferenceJob") == {batch_jobs, f"{solution}/*"}
    assert resources_for(sm_statements, "personalize:DescribeBatchInferenceJob") == {batch_jobs}
    actions = {a for s in sm_statements for a in s["Action"] if a.startswith("personalize:")}
    assert len(actions) == 6


def test_every_solution_parameter_is_checked_up_front_and_read_by_its_solution(
    orchestration: SynthesizedOrchestration, sm_statements: list
) -> None:
    config, states = orchestration.config, all_states(orchestration.definition)
    name = f"/{config.prefix}/{config.environment}/personalize/solution-arn"
    assert orchestration.expected("solution_arn_parameter") == name
    parameter = f"arn:aws:ssm:{orchestration.region}:123456789012:parameter{name}"
    assert resources_for(sm_statements, "ssm:GetParameters") == {parameter}
    assert resources_for(sm_statements, "ssm:GetParameter") == {parameter}
    assert {a for s in sm_statements for a in s["Action"] if a.startswith("ssm:")} == {"ssm:GetParameter", "ssm:GetParameters"}
    check = states["Prepare run: check solution parameters"]
    assert (check["Resource"], check["Parameters"]) == ("arn:aws:states:::aws-sdk:ssm:getParameters", {"Names": [name]})
    assert states["Prepare run"]["Next"] == "Prepare run: check solution parameters"
    assert states["Prepare run: every solution parameter exists?"]["Default"] == "Transform (Glue)"
    read = states["solution: read solution ARN"]
    assert (read["Resource"], read["Parameters"]) == ("arn:aws:states:::aws-sdk:ssm:getParameter", {"Name": name})
    assert states["solution training: create job"]["Parameters"]["SolutionArn.$"] == read["ResultPath"] + ".Arn"


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


def test_glue_is_scoped_and_executions_are_not_listed(orchestration: SynthesizedOrchestration, sm_statements: list) -> None:
    job_arn = f"arn:aws:glue:{orchestration.region}:123456789012:job/{orchestration.expected('glue_job_name')}"
    glue_actions = {a for s in sm_statements for a in s["Action"] if a.startswith("glue:")}
    assert {"glue:StartJobRun", "glue:GetJobRun"} <= glue_actions
    for action in glue_actions:
        assert resources_for(sm_statements, action) == {job_arn}
    # The overlap guard takes a lease (tests/orchestration/test_overlap_guard_template.py) instead of listing.
    assert resources_for(sm_statements, "states:ListExecutions") == set()
    lease_functions = {orchestration.functions[f"run_lease.handler.{name}"].arn for name in ("acquire", "release")}
    functions = {
        orchestration.run_names_function, orchestration.run_modes_function, *planning_functions(orchestration),
        *lease_functions,
    }  # fmt: skip
    assert resources_for(sm_statements, "lambda:InvokeFunction") == functions | {f"{arn}:*" for arn in functions}


def test_job_names_and_paths_come_from_prepare_run(orchestration: SynthesizedOrchestration) -> None:
    states = orchestration.definition["States"]
    prepare = states["Prepare run"]
    assert prepare["Parameters"]["Payload"] == {
        "executionName.$": "$$.Execution.Name",
        "executionArn.$": "$$.Execution.Id",
        "startTime.$": "$$.Execution.StartTime",
        "namePrefixes": {
            "importJobName": orchestration.config.resource_name("import"),
            "train_solution": orchestration.config.resource_name("train-solution"),
            "batch_solution": orchestration.config.resource_name("batch-solution"),
        },
    }
    transformed, curated = orchestration.expected("transformed_bucket"), orchestration.expected("curated_bucket")
    selector = prepare["ResultSelector"]
    assert selector["interactionsUri.$"] == f"States.Format('s3://{transformed}/runs/{{}}/interactions/', $.Payload.runId)"
    assert selector["batchInputUri.$"] == f"States.Format('s3://{transformed}/runs/{{}}/batch-input/', $.Payload.runId)"
    assert selector["batchOutputUri.$"] == f"States.Format('s3://{curated}/runs/{{}}/batch-output/', $.Payload.runId)"
    assert states["Transform (Glue)"]["Parameters"]["Arguments"] == {"--run_id.$": "$.run.id"}
    nested = all_states(orchestration.definition)
    assert nested["Import: create job"]["Parameters"]["JobName.$"] == "$.run.importJobName"
    assert nested["solution training: create job"]["Parameters"]["Name.$"] == "$.run.train_solution"
    assert nested["solution batch: plan jobs"]["Parameters"]["Payload"]["job_name_base.$"] == "$.run.batch_solution"
    # Each job's name comes from the plan (numbered parts of that base).
    assert nested["solution batch job: create job"]["Parameters"]["JobName.$"] == "$.job.job_name"


def planning_functions(orchestration: SynthesizedOrchestration) -> set[str]:
    """The batch-planning functions the states invoke (their resolved ARNs)."""
    states = all_states(orchestration.definition)
    return {
        states["solution batch: plan jobs"]["Parameters"]["FunctionName"],
        states["solution batch job: place input"]["Resource"],  # invoked with the payload only
    }


def test_naming_planning_and_lease_functions(orchestration: SynthesizedOrchestration) -> None:
    functions = orchestration.cloud.resources_of_type("AWS::Lambda::Function").values()
    assert {f["Properties"]["Handler"] for f in functions} == {
        "run_names.handler.handle", "batch_plan.handler.plan_batch_jobs", "batch_plan.handler.place_job_input",
        "run_modes.handler.choose_modes", "run_lease.handler.acquire", "run_lease.handler.release",
    }  # fmt: skip
    for function in functions:
        properties = function["Properties"]
        assert set(properties["Code"]) == {"S3Bucket", "S3Key"}  # an asset (tests/pipeline/test_lambda_assets.py)
        assert properties["Runtime"] == "python3.13"
        log_group = orchestration.template["Resources"][properties["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
        logs_key = logical_id_starting_with(orchestration.template, "LogsKey")
        assert log_group["KmsKeyId"] == {"Fn::GetAtt": [logs_key, "Arn"]}
        role = orchestration.template["Resources"][properties["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert "ManagedPolicyArns" not in role


def test_optional_batch_parameters(orchestration: SynthesizedOrchestration, hooked: SynthesizedOrchestration) -> None:
    configured = all_states(orchestration.definition)["solution batch job: create job"]["Parameters"]
    assert configured["FilterArn"] == orchestration.config.filter_arn
    assert configured["BatchInferenceJobConfig"] == {
        "ItemExplorationConfig": {"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"}
    }
    defaults = all_states(hooked.definition)["solution batch job: create job"]["Parameters"]
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
        # A training's child: 12 h of 20 s polls and 60 busy retries, ~25,200 events (21 s fits: tests/orchestration/
        # test_budget.py).
        ({"status_poll_seconds": 20}, "status_poll_seconds"),
        ({"status_poll_seconds": 5, "job_max_wait_hours": 6}, "status_poll_seconds"),
    ],
)
def test_configs_that_could_pass_the_history_limit_are_refused(overrides: dict, key: str) -> None:
    from tests.support.orchestration_stack import synth_orchestration

    with pytest.raises(ConfigError, match=rf"'{key}'.*{HISTORY_EVENT_LIMIT}"):
        synth_orchestration({"x": PipelineConfig(**overrides)})


def test_shipped_defaults_fit_the_history_limit() -> None:
    from stacks.orchestration import check_history_budget

    check_history_budget(PipelineConfig())
