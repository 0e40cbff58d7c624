"""Several solutions in one run: one wrapped branch each, their batch jobs in Distributed Maps, IAM per solution.

The template is the small orchestration stack (stand-in resources) with four solutions, one of each output kind;
expectations are derived from the config's solutions, not from fixed names.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_contracts.solutions import JOB_ARN_RESOURCE_TYPE, JOB_RESOURCE, job_name_prefix_step
from stacks.config import PipelineConfig
from stacks.orchestration.prepare import SOLUTION_UNAVAILABLE_ERROR
from stacks.personalize import solution_arn_parameter_name
from pipeline_rehearsal.deployment import SynthesizedOrchestration
from tests.support.orchestration_stack import PERSONALIZE, synth_orchestration
from tests.support.templates import as_list, past_function_error_reader, role_statements

SOLUTIONS = [
    {"name": "users", "recipe": "aws-user-personalization"},
    {"name": "similar", "recipe": "aws-similar-items", "training_mode": "FULL"},
    {"name": "segments", "recipe": "aws-item-affinity", "training_mode": "FULL"},
    {
        "name": "genre_fans",
        "recipe": "aws-item-attribute-affinity",
        "training_mode": "FULL",
        "queries": ['ITEMS.GENRES = "Comedy"'],
    },
]
ITEMS_DATASET = {
    "fields": [{"name": "GENRES", "type": "categorical"}],
    "sources": [{"prefix": "items/genres/", "delimiter": "\\t", "id_column": "movieID", "columns": {"GENRES": "genre"}}],
}
MULTI_CONFIG = PipelineConfig.from_mapping(
    {
        "environment": "multi",
        "solutions": SOLUTIONS,
        "items_dataset": ITEMS_DATASET,
        "filter_arn": f"{PERSONALIZE}:filter/pbp-multi-unseen",
        # Four solutions and the Items import beside each other: polls of 240 s keep the history budget.
        "status_poll_seconds": 240,
        "busy_retry_seconds": 240,
    }
)


@pytest.fixture(scope="module")
def multi() -> SynthesizedOrchestration:
    return synth_orchestration({"multi": MULTI_CONFIG})["multi"]


def solution_child(multi: SynthesizedOrchestration, name: str) -> dict[str, Any]:
    """The states of solution `name`'s child execution (the one-item Distributed Map of its branch)."""
    (branch,) = [b for b in multi.definition["States"]["Solutions"]["Branches"] if b["StartAt"] == f"{name}: hand over"]
    return branch["States"][f"{name}: own history"]["ItemProcessor"]["States"]


def solution_branch(multi: SynthesizedOrchestration, name: str) -> dict[str, Any]:
    """The states of solution `name`'s branch inside its "Solution <name>" wrapper (in its child execution)."""
    (body,) = solution_child(multi, name)[f"Solution {name}"]["Branches"]
    return body["States"]


def child_states(multi: SynthesizedOrchestration, name: str) -> dict[str, Any]:
    """The states of one batch job (the Distributed Map's child), inside its wrapper Parallel."""
    processor = solution_branch(multi, name)[f"{name} batch: each job"]["ItemProcessor"]
    (body,) = processor["States"][f"{name} batch job"]["Branches"]
    return body["States"]


def test_one_wrapped_branch_per_solution_in_config_order(multi: SynthesizedOrchestration) -> None:
    states = multi.definition["States"]
    solutions = states["Solutions"]
    assert states["Imports"]["Next"] == "Solutions" and solutions["ResultPath"] == "$.solutions"
    assert [b["StartAt"] for b in solutions["Branches"]] == [f"{s.name}: hand over" for s in MULTI_CONFIG.solutions]
    for spec, branch in zip(MULTI_CONFIG.solutions, solutions["Branches"], strict=True):
        # Each solution runs in one STANDARD child execution of its own, which ends with its record.
        child = branch["States"][f"{spec.name}: own history"]
        assert child["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
        assert child["ItemsPath"] == "$.ownHistory" and child["OutputPath"] == "$[0]"
        assert branch["States"][f"{spec.name}: hand over"]["Result"] == [spec.name]
        assert child["ItemSelector"] == {"run.$": "$.run", "modes.$": "$.modes"}
        (unstarted,) = child["Catch"]
        assert branch["States"][unstarted["Next"]]["Parameters"]["status"] == "FAILED"
        branch = {"States": solution_child(multi, spec.name)}
        wrapper = branch["States"][f"Solution {spec.name}"]
        assert wrapper["Type"] == "Parallel" and len(wrapper["Branches"]) == 1 and wrapper["OutputPath"] == "$[0]"
        (catch,) = wrapper["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        assert past_function_error_reader(branch["States"], catch["Next"]) == f"{spec.name}: failed"
        failed = branch["States"][f"{spec.name}: failed"]
        assert failed["Parameters"]["status"] == "FAILED" and failed["Parameters"]["name"] == spec.name
        assert failed["Parameters"]["kind"] == spec.output_kind.name
        assert failed["Parameters"]["error"] == {"Error.$": "$.solutionError.Error", "Cause.$": "$.solutionError.Cause"}


def test_a_solution_runs_in_order_and_ends_in_its_record(multi: SynthesizedOrchestration) -> None:
    for spec in MULTI_CONFIG.solutions:
        name, states = spec.name, solution_branch(multi, spec.name)
        read = states[f"{name}: read solution ARN"]
        assert read["Parameters"] == {"Name": solution_arn_parameter_name(MULTI_CONFIG, name)}
        assert read["Next"] == f"{name} training: start"
        create = states[f"{name} training: create job"]
        assert create["Parameters"]["Name.$"] == f"$.run.train_{name}"
        # The mode "Choose modes" picked for this run (the configured one once the solution has a FULL version).
        assert create["Parameters"]["TrainingMode.$"] == f"$.modes.training.{name}.mode"
        (active,) = [c for c in states[f"{name} training: job status?"]["Choices"] if c.get("StringEquals") == "ACTIVE"]
        assert active["Next"] == f"{name} batch: plan jobs"
        assert states[f"{name} batch: plan jobs"]["Next"] == f"{name} batch: each job"
        assert states[f"{name} batch: each job"]["Next"] == f"{name}: succeeded"
        record = states[f"{name}: succeeded"]["Parameters"]
        assert record["status"] == "SUCCEEDED" and record["jobType"] == spec.job_type
        assert states[f"{name}: succeeded"]["End"] is True
        # Errors name the step, not the solution; causes name the solution.
        assert states[f"{name} training: job failed"]["Error"] == "TrainingFailed"
        assert f"Solution {name}: " in states[f"{name} training: job failed"]["CausePath"]


def test_plan_event_names_the_solution_its_input_and_its_quota_share(multi: SynthesizedOrchestration) -> None:
    for spec in MULTI_CONFIG.solutions:
        plan = solution_branch(multi, spec.name)[f"{spec.name} batch: plan jobs"]
        payload = plan["Parameters"]["Payload"]
        assert payload["solution"] == spec.name and payload["job_type"] == spec.job_type
        assert payload["solutions_sharing_quota"] == len(MULTI_CONFIG.solutions_of_job_type(spec.job_type))
        assert payload["job_name_base.$"] == f"$.run.batch_{spec.name}"
        assert payload.get("max_job_records") == spec.output_kind.max_job_records
        assert plan["ResultPath"] == "$.plan" and "jobs.$" not in plan["ResultSelector"]
        assert plan["ResultSelector"]["jobs_key.$"] == "$.Payload.jobs_key"


def test_batch_jobs_run_in_a_distributed_map_of_standard_children(multi: SynthesizedOrchestration) -> None:
    for spec in MULTI_CONFIG.solutions:
        each = solution_branch(multi, spec.name)[f"{spec.name} batch: each job"]
        assert each["Type"] == "Map" and each["MaxConcurrencyPath"] == "$.plan.max_concurrency"
        reader = each["ItemReader"]
        assert reader["Resource"] == "arn:aws:states:::s3:getObject"
        assert reader["ReaderConfig"] == {"InputType": "JSON"}
        assert reader["Parameters"]["Key.$"] == "$.plan.jobs_key"
        assert reader["Parameters"]["Bucket"] == multi.expected("transformed_bucket")
        assert each["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
        assert each["ItemSelector"]["job.$"] == "$$.Map.Item.Value"
        assert each["ResultPath"] == "$.batchJobs"


def test_child_places_input_only_when_copied_and_reports_either_way(multi: SynthesizedOrchestration) -> None:
    for spec in MULTI_CONFIG.solutions:
        name = spec.name
        processor = solution_branch(multi, name)[f"{name} batch: each job"]["ItemProcessor"]
        wrapper = processor["States"][f"{name} batch job"]
        (catch,) = wrapper["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        assert past_function_error_reader(processor["States"], catch["Next"]) == f"{name} batch job: failed"
        failed = processor["States"][f"{name} batch job: failed"]["Parameters"]
        assert failed["status"] == "FAILED" and failed["cause.$"] == "$.jobError.Cause"
        states = child_states(multi, name)
        (copy,) = states[f"{name} batch job: place input?"]["Choices"]
        assert copy == {"Variable": "$.job.copy", "BooleanEquals": True, "Next": f"{name} batch job: place input"}
        assert states[f"{name} batch job: place input?"]["Default"] == f"{name} batch job: start"
        assert states[f"{name} batch job: place input"]["Next"] == f"{name} batch job: start"
        (active,) = [c for c in states[f"{name} batch job: job status?"]["Choices"] if c.get("StringEquals") == "ACTIVE"]
        assert active["Next"] == f"{name} batch job: done"
        assert states[f"{name} batch job: done"]["Parameters"]["status"] == "ACTIVE"
        assert states[f"{name} batch job: job failed"]["Error"] == "BatchJobFailed"


def test_job_task_follows_the_kind(multi: SynthesizedOrchestration) -> None:
    for spec in MULTI_CONFIG.solutions:
        create = child_states(multi, spec.name)[f"{spec.name} batch job: create job"]
        resource = JOB_RESOURCE[spec.job_type]
        assert create["Resource"] == f"arn:aws:states:::aws-sdk:personalize:create{resource}"
        parameters = create["Parameters"]
        assert parameters["JobName.$"] == "$.job.job_name" and parameters["SolutionVersionArn.$"] == "$.solutionVersionArn"
        assert parameters["JobInput"]["S3DataSource"]["Path.$"] == "$.job.input_uri"
        assert parameters["JobOutput"]["S3DataDestination"]["Path.$"] == "$.job.output_uri"
        assert parameters["NumResults"] == spec.num_results
        user_recommendations = spec.output_kind.name == "user_recommendations"
        assert ("FilterArn" in parameters) == user_recommendations
        describe = child_states(multi, spec.name)[f"{spec.name} batch job: describe job"]
        assert describe["Resource"] == f"arn:aws:states:::aws-sdk:personalize:describe{resource}"


def test_every_state_of_a_solution_is_inside_its_caught_wrapper(multi: SynthesizedOrchestration) -> None:
    """Nothing of a solution sits outside its wrapper: a Fail state inside (training, gate, job...) fails the
    wrapper's branch, and the wrapper's catch turns it into the FAILED record instead of failing the run."""
    top = multi.definition["States"]
    for spec, branch in zip(MULTI_CONFIG.solutions, top["Solutions"]["Branches"], strict=True):
        # Besides the wrapper: its catch's states (the function error read down to type and message, the record).
        reader = {f"{spec.name}: failed: {step}" for step in ("function error?", "read the function error",
                                                                "type and message only")}
        assert set(branch["States"]) == {f"{spec.name}: hand over", f"{spec.name}: own history",
                                         f"{spec.name}: failed: no child execution"}
        assert set(solution_child(multi, spec.name)) == {f"Solution {spec.name}", f"{spec.name}: failed", *reader}
        body = solution_branch(multi, spec.name)
        fails = [name for name, state in body.items() if state["Type"] == "Fail"]
        assert f"{spec.name} training: timed out" in fails
        assert not any(name.startswith(spec.name) for name in top)  # no solution state at the top level


def test_prepare_checks_every_solution_parameter_before_the_etl(multi: SynthesizedOrchestration) -> None:
    states = multi.definition["States"]
    check = states["Prepare run: check solution parameters"]
    assert check["Resource"] == "arn:aws:states:::aws-sdk:ssm:getParameters"
    assert check["Parameters"]["Names"] == [solution_arn_parameter_name(MULTI_CONFIG, s.name) for s in MULTI_CONFIG.solutions]
    (missing,) = states["Prepare run: every solution parameter exists?"]["Choices"]
    assert missing["Next"] == "Prepare run: solution parameters missing"
    assert states["Prepare run: every solution parameter exists?"]["Default"] == "Transform (Glue)"
    assert states["Prepare run: solution ARN unavailable"]["Error"] == SOLUTION_UNAVAILABLE_ERROR
    keys = {f"{step}_{s.name}" for s in MULTI_CONFIG.solutions for step in ("train", "batch")}
    assert keys <= set(states["Prepare run"]["Parameters"]["Payload"]["namePrefixes"])


def all_role_statements(multi: SynthesizedOrchestration) -> list[dict[str, Any]]:
    """The state machine role's statements: its policies and the managed policies CDK splits a large one into."""
    role = multi.properties["RoleArn"]["Fn::GetAtt"][0]
    overflow = [
        statement
        for policy in multi.template["Resources"].values()
        if policy["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": role} in policy["Properties"].get("Roles", [])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    return [*role_statements(multi.template, role), *overflow]


@pytest.fixture(scope="module")
def sm_statements(multi: SynthesizedOrchestration) -> list[dict[str, Any]]:
    return [
        {**s, "Action": as_list(s["Action"]), "Resource": multi.cloud.resolve(as_list(s["Resource"]))}
        for s in all_role_statements(multi)
    ]


def resources_for(statements: list[dict[str, Any]], action: str) -> set[str]:
    return {r for s in statements if action in s["Action"] for r in s["Resource"]}


def test_iam_is_scoped_per_solution(multi: SynthesizedOrchestration, sm_statements: list[dict[str, Any]]) -> None:
    config = MULTI_CONFIG
    solutions = {f"{PERSONALIZE}:solution/{config.resource_name(s.name)}-????????" for s in config.solutions}
    assert resources_for(sm_statements, "personalize:CreateSolutionVersion") == solutions
    assert resources_for(sm_statements, "personalize:DescribeSolutionVersion") == {f"{s}/*" for s in solutions}
    for job_type in ("batch_inference", "batch_segment"):
        specs = config.solutions_of_job_type(job_type)
        jobs = {
            f"{PERSONALIZE}:{JOB_ARN_RESOURCE_TYPE[job_type]}/"
            f"{config.resource_name(job_name_prefix_step('batch', s.name))}-*"
            for s in specs
        }
        versions = {f"{PERSONALIZE}:solution/{config.resource_name(s.name)}-????????/*" for s in specs}
        assert resources_for(sm_statements, f"personalize:Create{JOB_RESOURCE[job_type]}") == jobs | versions
        assert resources_for(sm_statements, f"personalize:Describe{JOB_RESOURCE[job_type]}") == jobs
    # Each create statement names one solution only.
    for statement in sm_statements:
        if any(a.startswith("personalize:Create") and "Job" in a and "Import" not in a for a in statement["Action"]):
            names = {s.name for s in config.solutions if any(f"-{s.name}-" in r for r in statement["Resource"])}
            assert len(names) == 1, statement


def test_distributed_map_can_read_its_job_list_and_run_children(
    multi: SynthesizedOrchestration, sm_statements: list[dict[str, Any]]
) -> None:
    name = multi.state_machine_name
    executions = f"arn:aws:states:{multi.region}:123456789012:execution:{name}"
    assert resources_for(sm_statements, "states:StartExecution") == {
        f"arn:aws:states:{multi.region}:123456789012:stateMachine:{name}"
    }
    assert resources_for(sm_statements, "states:DescribeExecution") == {f"{executions}:*"}
    assert resources_for(sm_statements, "states:StopExecution") == {f"{executions}:*"}
    # In the role's own policies (which the state machine waits for), not in a policy that references it.
    assert not [r for r in multi.template["Resources"] if r.endswith("DistributedMapPolicy") or "DistributedMapPolicy" in r]
    assert resources_for(sm_statements, "kms:Decrypt") >= {multi.expected("data_key_arn")}
    bucket = multi.expected("transformed_bucket")
    # Each solution's Map reads its own job list in any run, and no other object of the bucket.
    assert resources_for(sm_statements, "s3:GetObject") == {
        f"arn:aws:s3:::{bucket}/runs/*/batch-jobs/{spec.name}/_jobs.json" for spec in MULTI_CONFIG.solutions
    }
