"""`doctor` end to end: a healthy deployment passes every check; each check broken on its own
fails (or warns on) its line with the fix and sets the exit code; refused calls; output formats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import pytest

from pipeline_cli.checks import CHECKS

from .conftest import (
    DATA_STACK,
    FUNCTION_NAMES,
    GLUE_JOB,
    RAW_BUCKET,
    RAW_FILES,
    SCHEDULE_NAME,
    SOLUTION_ARN,
    SOLUTION_PARAMETER,
    STACK,
    AwsError,
    DoctorWorld,
    Result,
    allowed,
    interactions_schema,
)
from .test_cli_errors import no_aws_env  # noqa: F401  (fixture: a machine with no AWS configuration)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)  # a Wednesday
TITLES = [check.title for check in CHECKS]
DENIED = "User: arn:aws:sts::123456789012:assumed-role/operator/jane is not authorized to perform: {action}"


def doctor(run: Callable[..., Result], world: DoctorWorld, *extra: str) -> Result:
    return run(["doctor", *extra], world.session, clock=lambda: NOW)


def line_of(result: Result, title: str) -> str:
    """The output line of the check titled `title` (each check prints exactly one)."""
    lines = [line for line in result.out.splitlines() if line[6:].startswith(title + " ")]
    assert len(lines) == 1, (title, result.out)
    return lines[0]


def warning_line(result: Result, title: str) -> str:
    """The line of `title`, which warns while the doctor still exits 0 (warnings are allowed)."""
    assert result.code == 0, result.out + result.err
    line = line_of(result, title)
    assert line.startswith("WARN  "), line
    return line


def statuses(result: Result) -> dict[str, str]:
    return {title: line_of(result, title)[:4].strip() for title in TITLES}


# --- healthy --------------------------------------------------------------------------


def test_a_healthy_deployment_passes_every_check(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    result = doctor(run, healthy)

    assert result.code == 0, result.out + result.err
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0] == f"doctor: {STACK} and {DATA_STACK} in us-east-1"
    assert lines[-1] == f"{len(CHECKS)} checks: {len(CHECKS)} passed, 0 warned, 0 failed, 0 skipped"
    assert len(lines) == len(CHECKS) + 2  # one line per check
    assert set(statuses(result).values()) == {"PASS"}
    assert "pbp-dev-pipeline CREATE_COMPLETE, pbp-dev-data CREATE_COMPLETE" in line_of(result, "stacks deployed")
    assert f"{SOLUTION_PARAMETER} -> {SOLUTION_ARN}" in line_of(result, "pipeline's solutions")
    raw_bytes = sum(len(body) for body in RAW_FILES.values())
    assert (
        f"2 file(s), {raw_bytes / 1024:.1f} KiB under s3://{RAW_BUCKET}/ratings/ (1 hidden file(s) Spark ignores)"
        in line_of(result, "raw files")
    )
    assert healthy.layer_arn in line_of(result, "Lambda layers")
    assert "s3:GetObject, s3:ListBucket, kms:Decrypt" in line_of(result, "Glue role access")
    assert "dataset import jobs 0/5 in progress" in line_of(result, "Personalize quotas")
    # Sunday 03:00 in Berlin (CET, UTC+1) after Wednesday noon UTC
    assert "ENABLED: cron(0 3 ? * SUN *) (Europe/Berlin), next start 2026-11-29 02:00:00 UTC" in line_of(
        result, "schedule"
    )
    assert "email:ops@example.com" in line_of(result, "alert topic")
    assert "1 filter(s) ACTIVE: pbp-dev-unrated-0123abcd" in line_of(result, "filters")


def test_json_output(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    result = doctor(run, healthy, "--json")

    assert result.code == 0
    document = json.loads(result.out)
    assert document["exitCode"] == 0
    assert document["pipelineStack"] == STACK and document["dataStack"] == DATA_STACK
    assert document["summary"] == {"PASS": len(CHECKS), "WARN": 0, "FAIL": 0, "SKIP": 0}
    assert [c["check"] for c in document["checks"]] == [check.key for check in CHECKS]
    by_key = {c["check"]: c for c in document["checks"]}
    assert by_key["schedule"]["facts"]["nextStart"] == "2026-11-29T02:00:00+00:00"
    assert by_key["raw-files"]["facts"]["files"] == 2
    assert by_key["quotas"]["facts"]["batchInferenceJobs"] == {
        "quota": 5,
        "source": "Service Quotas",
        "running": 0,
        "free": 5,
    }
    assert all(c["fix"] is None and c["couldNotCheck"] is False for c in document["checks"])


def test_the_data_stack_name_can_be_given(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    result = doctor(run, healthy, "--data-stack", "other-data")
    assert result.code == 1
    assert "not deployed in us-east-1: other-data" in line_of(result, "stacks deployed")


def test_a_pipeline_stack_name_without_the_suffix_needs_data_stack(
    healthy: DoctorWorld, run: Callable[..., Result]
) -> None:
    result = run(["doctor", "--stack", "my-stack"], healthy.session)
    assert result.code == 2
    assert result.err.strip() == (
        "error: cannot derive the data stack from 'my-stack' (no '-pipeline' suffix): pass --data-stack"
    )


def test_usage_error_exits_2(run: Callable[..., Result]) -> None:
    assert run(["doctor", "--bogus"]).code == 2


# --- each check broken on its own ------------------------------------------------------


def _redeploy(world: DoctorWorld, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Update a moto stack with its template's outputs changed."""
    cfn = world.client("cloudformation")
    template = cfn.get_template(StackName=name)["TemplateBody"]
    template = template if isinstance(template, dict) else json.loads(template)
    change(template["Outputs"])
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(template))


def _redeploy_without(output: str) -> Callable[[DoctorWorld], None]:
    def change(world: DoctorWorld) -> None:
        for name in (STACK, DATA_STACK):
            _redeploy(world, name, lambda outputs: outputs.pop(output, None))

    return change


def _redeploy_pipeline_with(**values: str) -> Callable[[DoctorWorld], None]:
    def change(world: DoctorWorld) -> None:
        _redeploy(world, STACK, lambda outputs: outputs.update({k: {"Value": v} for k, v in values.items()}))

    return change


def _set(service: str, operation: str, reply: Any) -> Callable[[DoctorWorld], None]:
    return lambda world: world.script.set(service, operation, reply)


def _personalize_resource(operation: str, key: str, **fields: Any) -> Callable[[DoctorWorld], None]:
    """Scripted Describe answer: the healthy one with `fields` changed."""

    def change(world: DoctorWorld) -> None:
        healthy = world.script.replies[("personalize", operation)]

        def reply(params: dict[str, Any]) -> dict[str, Any]:
            answer = healthy(params) if callable(healthy) else healthy
            return {key: {**answer[key], **fields}}

        world.script.set("personalize", operation, reply)

    return change


def _stale_parameter(world: DoctorWorld) -> None:
    world.client("ssm").put_parameter(
        Name=SOLUTION_PARAMETER,
        Value=SOLUTION_ARN.replace("pbp-dev-solution", "pbp-dev-old"),
        Type="String",
        Overwrite=True,
    )


def _deleted_solution(world: DoctorWorld) -> None:
    _stale_parameter(world)
    healthy = world.script.replies[("personalize", "DescribeSolution")]
    world.script.set(
        "personalize",
        "DescribeSolution",
        lambda params: (
            healthy(params) if params["solutionArn"] == SOLUTION_ARN else AwsError("ResourceNotFoundException")
        ),
    )


def _no_raw_files(world: DoctorWorld) -> None:
    for key in RAW_FILES:
        world.client("s3").delete_object(Bucket=RAW_BUCKET, Key=key)


def _running_jobs(world: DoctorWorld) -> None:
    running = [{"jobName": f"other-{i}", "status": "CREATE IN_PROGRESS"} for i in range(5)]
    world.script.set("personalize", "ListDatasetImportJobs", {"datasetImportJobs": running})


def _denied_for(action: str) -> Callable[[dict[str, Any]], Any]:
    return lambda params: (
        {"EvaluationResults": [{"EvalActionName": action, "EvalDecision": "implicitDeny"}]}
        if params["ActionNames"] == [action]
        else allowed(params)
    )


def _pending_subscription(world: DoctorWorld) -> None:
    world.script.set(
        "sns",
        "ListSubscriptionsByTopic",
        {
            "Subscriptions": [
                {
                    "SubscriptionArn": "PendingConfirmation",
                    "Protocol": "email",
                    "Endpoint": "ops@example.com",
                    "TopicArn": world.topic_arn,
                }
            ]
        },
    )


def _no_subscription(world: DoctorWorld) -> None:
    sns = world.client("sns")
    for subscription in sns.list_subscriptions_by_topic(TopicArn=world.topic_arn)["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])


@dataclass(frozen=True)
class Broken:
    title: str
    change: Callable[[DoctorWorld], None]
    detail: str
    fix: str


BROKEN = {
    "data stack missing": Broken(
        "stacks deployed",
        lambda world: world.client("cloudformation").delete_stack(StackName=DATA_STACK),
        f"not deployed in us-east-1: {DATA_STACK}",
        "fix: deploy both stacks: npx cdk deploy --all",
    ),
    "stack rolled back": Broken(
        "stacks deployed",
        _set(
            "cloudformation",
            "DescribeStacks",
            lambda params: {
                "Stacks": [
                    {
                        "StackName": params["StackName"],
                        "CreationTime": NOW,
                        "StackStatus": "UPDATE_ROLLBACK_COMPLETE"
                        if params["StackName"] == STACK
                        else "CREATE_COMPLETE",
                    }
                ]
            },
        ),
        f"not in a *_COMPLETE state: {STACK} UPDATE_ROLLBACK_COMPLETE",
        "read the stack events",
    ),
    "solution parameter output missing": Broken(
        "pipeline's solutions",
        _redeploy_without("SolutionArnParameterNames"),
        "no SolutionArnParameterNames output on pbp-dev-pipeline or pbp-dev-data (deployed by an older version)",
        "fix: deploy both stacks: npx cdk deploy --all",
    ),
    "stacks name different parameters": Broken(
        "pipeline's solutions",
        _redeploy_pipeline_with(SolutionArnParameterNames="/pbp/other/personalize/solution-arn"),
        f"{STACK} reads /pbp/other/personalize/solution-arn, but {DATA_STACK} writes {SOLUTION_PARAMETER}",
        "fix: deploy both stacks: npx cdk deploy --all",
    ),
    "solution parameter stale": Broken(
        "pipeline's solutions",
        _stale_parameter,
        f"{SOLUTION_PARAMETER} holds {SOLUTION_ARN.replace('pbp-dev-solution', 'pbp-dev-old')}, but {DATA_STACK} manages {SOLUTION_ARN}",
        f"fix: redeploy the data stack, which rewrites the parameter: npx cdk deploy {DATA_STACK}",
    ),
    "solution parameter names a deleted solution": Broken(
        "pipeline's solutions",
        _deleted_solution,
        "names a solution that does not exist",
        f"npx cdk deploy {DATA_STACK}",
    ),
    "Personalize not offered": Broken(
        "Personalize in region",
        lambda world: setattr(
            world.session, "get_available_regions", lambda service, partition_name: ["eu-west-1", "us-west-2"]
        ),
        "Amazon Personalize is not offered in us-east-1",
        "fix: deploy to a region that offers it (eu-west-1, us-west-2) and pass that --region",
    ),
    "interactions dataset with the three-field schema": Broken(
        "interactions schema",
        _set("personalize", "DescribeSchema", {"schema": {"schema": interactions_schema(("USER_ID", "ITEM_ID", "TIMESTAMP"))}}),
        "dataset/pbp-dev/INTERACTIONS has the schema USER_ID, ITEM_ID, TIMESTAMP; this version writes USER_ID, ITEM_ID, "
        "TIMESTAMP, EVENT_TYPE, EVENT_VALUE, and Personalize cannot replace an interactions dataset's schema",
        "fix: follow the one-time upgrade in docs/operations.md, 'Upgrading to the event-type interactions schema'",
    ),
    "filter failed": Broken(
        "filters",
        _personalize_resource("DescribeFilter", "filter", status="CREATE FAILED", failureReason="bad expression"),
        "filter/pbp-dev-unrated-0123abcd is CREATE FAILED (bad expression)",
        f"fix: redeploy the data stack: npx cdk deploy {DATA_STACK}",
    ),
    "filter deleted": Broken(
        "filters",
        _set("personalize", "DescribeFilter", AwsError("ResourceNotFoundException", "no such filter", 400)),
        "filter/pbp-dev-unrated-0123abcd does not exist",
        f"fix: redeploy the data stack: npx cdk deploy {DATA_STACK}",
    ),
    "dataset group failed": Broken(
        "dataset group",
        _personalize_resource(
            "DescribeDatasetGroup", "datasetGroup", status="CREATE FAILED", failureReason="KMS key disabled"
        ),
        "dataset-group/pbp-dev is CREATE FAILED (KMS key disabled)",
        "fix: delete the failed dataset group and redeploy the data stack",
    ),
    "solution still creating": Broken(
        "pipeline's solutions",
        _personalize_resource("DescribeSolution", "solution", status="CREATE IN_PROGRESS"),
        "solution/pbp-dev-solution is CREATE IN_PROGRESS",
        "fix: wait until it is ACTIVE",
    ),
    "layer not resolvable": Broken(
        "Lambda layers",
        _set("lambda", "GetLayerVersionByArn", AwsError("AccessDeniedException", "cross-account layer", 403)),
        "layer not resolvable in us-east-1",
        "fix: redeploy the pipeline stack (it resolves the current Powertools layer)",
    ),
    "function deleted": Broken(
        "Lambda layers",
        lambda world: world.client("lambda").delete_function(FunctionName=FUNCTION_NAMES[1]),
        f"function {FUNCTION_NAMES[1]} does not exist",
        f"fix: redeploy the pipeline stack: npx cdk deploy {STACK}",
    ),
    "no raw files": Broken(
        "raw files",
        _no_raw_files,
        f"no raw files under s3://{RAW_BUCKET}/ratings/ (1 hidden file(s) Spark ignores)",
        f"fix: upload the ratings: aws s3 cp FILE s3://{RAW_BUCKET}/ratings/",
    ),
    "Glue job deleted": Broken(
        "raw files",
        lambda world: world.client("glue").delete_job(JobName=GLUE_JOB),
        f"Glue job {GLUE_JOB} does not exist",
        f"fix: redeploy the pipeline stack: npx cdk deploy {STACK}",
    ),
    "Glue role cannot decrypt": Broken(
        "Glue role access",
        _set("iam", "SimulatePrincipalPolicy", _denied_for("kms:Decrypt")),
        "may not read the raw files: kms:Decrypt implicitDeny",
        "fix: redeploy the pipeline stack (it grants these)",
    ),
    "import slots taken": Broken(
        "Personalize quotas",
        _running_jobs,
        "no free slot for dataset import jobs (dataset import jobs 5/5 in progress;",
        "fix: wait for the running jobs to end",
    ),
    "schedule deleted": Broken(
        "schedule",
        lambda world: world.client("scheduler").delete_schedule(Name=SCHEDULE_NAME),
        f"schedule {SCHEDULE_NAME} does not exist",
        f"fix: redeploy the pipeline stack: npx cdk deploy {STACK}",
    ),
    "subscription pending": Broken(
        "alert topic",
        _pending_subscription,
        "(1 waiting for confirmation: click the link in the e-mail): failures reach nobody",
        "fix: deploy with -c notification_email=ops@example.com and confirm the e-mail",
    ),
    "no subscription": Broken(
        "alert topic",
        _no_subscription,
        "no confirmed subscription on arn:aws:sns:us-east-1:123456789012:pbp-dev-alerts: failures reach nobody",
        "aws sns subscribe --topic-arn",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_each_broken_check_fails_its_line_with_the_fix(
    case: str, healthy: DoctorWorld, run: Callable[..., Result]
) -> None:
    broken = BROKEN[case]
    broken.change(healthy)
    result = doctor(run, healthy)

    assert result.code == 1, result.out + result.err
    line = line_of(result, broken.title)
    assert line.startswith("FAIL  "), line
    assert broken.detail in line and broken.fix in line, line
    failed_or_skipped = {title for title, status in statuses(result).items() if status != "PASS"}
    dependents = {c.title for c in CHECKS if any(d.title == broken.title for d in CHECKS if d.key in c.needs)}
    assert failed_or_skipped <= {broken.title} | dependents
    assert all(statuses(result)[title] == "SKIP" for title in failed_or_skipped - {broken.title})


def test_dependents_of_a_failed_check_are_skipped_with_the_reason(
    healthy: DoctorWorld, run: Callable[..., Result]
) -> None:
    BROKEN["data stack missing"].change(healthy)
    result = doctor(run, healthy)

    assert statuses(result) == {title: "FAIL" if title == "stacks deployed" else "SKIP" for title in TITLES}
    assert "skipped: needs stacks deployed, which did not pass" in line_of(result, "alert topic")
    assert "skipped: needs raw files, stacks deployed" not in result.out  # only the checks that did not pass
    assert (
        result.out.splitlines()[-1] == f"{len(CHECKS)} checks: 0 passed, 0 warned, 1 failed, {len(CHECKS) - 1} skipped"
    )


# --- several solutions: each parameter -> its solution, one line ---------------------------

SECOND_PARAMETER = "/pbp/dev/personalize/similar-arn"
SECOND_ARN = SOLUTION_ARN.replace("pbp-dev-solution", "pbp-dev-similar-0123abcd")


def _two_solutions(world: DoctorWorld) -> None:
    """The deployment of a config with `solutions`: a second parameter and solution, listed on both stacks."""
    world.client("ssm").put_parameter(Name=SECOND_PARAMETER, Value=SECOND_ARN, Type="String")
    parameters = f"{SOLUTION_PARAMETER},{SECOND_PARAMETER}"
    _redeploy(world, STACK, lambda outputs: outputs.update({"SolutionArnParameterNames": {"Value": parameters}}))
    _redeploy(
        world,
        DATA_STACK,
        lambda outputs: outputs.update(
            {
                "SolutionArnParameterNames": {"Value": parameters},
                "SolutionArns": {"Value": f"{SOLUTION_ARN},{SECOND_ARN}"},
            }
        ),
    )


def _second_solution_answers(world: DoctorWorld, **fields: Any) -> None:
    healthy = world.script.replies[("personalize", "DescribeSolution")]

    def reply(params: dict[str, Any]) -> dict[str, Any]:
        answer = healthy(params)
        if params["solutionArn"] == SECOND_ARN:
            return {"solution": {**answer["solution"], **fields}}
        return answer

    world.script.set("personalize", "DescribeSolution", reply)


def test_every_configured_solution_is_checked(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    _two_solutions(healthy)
    result = doctor(run, healthy, "--json")
    assert result.code == 0, result.out
    (entry,) = [c for c in json.loads(result.out)["checks"] if c["check"] == "solution-reference"]
    assert entry["status"] == "PASS"
    assert [(s["parameter"], s["solutionArn"]) for s in entry["facts"]["solutions"]] == [
        (SOLUTION_PARAMETER, SOLUTION_ARN),
        (SECOND_PARAMETER, SECOND_ARN),
    ]
    assert f"{SECOND_PARAMETER} -> {SECOND_ARN} ACTIVE" in line_of(doctor(run, healthy), "pipeline's solutions")


def test_one_solution_not_active_fails_naming_it(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    _two_solutions(healthy)
    _second_solution_answers(healthy, status="CREATE FAILED")
    result = doctor(run, healthy)
    assert result.code == 1
    line = line_of(result, "pipeline's solutions")
    assert line.startswith("FAIL  ")
    assert f"{SECOND_PARAMETER}: solution {SECOND_ARN} is CREATE FAILED" in line
    assert "(1 of 2 solutions fine)" in line
    assert SOLUTION_PARAMETER + ":" not in line


def test_auto_training_warns_per_solution(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    _two_solutions(healthy)
    _second_solution_answers(healthy, performAutoTraining=True)
    line = warning_line(doctor(run, healthy), "pipeline's solutions")
    assert f"{SECOND_PARAMETER}: {SECOND_ARN} ACTIVE; performAutoTraining is on" in line
    assert SOLUTION_PARAMETER + ":" not in line


def test_a_missing_parameter_of_one_solution_fails(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    _two_solutions(healthy)
    healthy.client("ssm").delete_parameter(Name=SECOND_PARAMETER)
    line = line_of(doctor(run, healthy), "pipeline's solutions")
    assert line.startswith("FAIL  ") and f"SSM parameter {SECOND_PARAMETER} does not exist" in line


def test_stacks_listing_different_solutions_fail(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    _two_solutions(healthy)
    _redeploy(world=healthy, name=STACK, change=lambda o: o.update({"SolutionArnParameterNames": {"Value": SOLUTION_PARAMETER}}))
    line = line_of(doctor(run, healthy), "pipeline's solutions")
    assert f"{STACK} reads {SOLUTION_PARAMETER}, but {DATA_STACK} writes {SOLUTION_PARAMETER},{SECOND_PARAMETER}" in line


# --- warnings: runs work, but someone should know -----------------------------------------


def test_auto_training_warns_about_the_bill_unless_expected(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    _personalize_resource("DescribeSolution", "solution", performAutoTraining=True)(healthy)

    line = warning_line(doctor(run, healthy), "pipeline's solutions")
    assert "trains a new solution version every 7 days and bills the training hours" in line
    assert "fix: if unintended, deploy with perform_auto_training false for it" in line

    expected = doctor(run, healthy, "--expect-auto-training")
    assert expected.code == 0
    assert line_of(expected, "pipeline's solutions").startswith("PASS  ")
    assert "performAutoTraining on" in line_of(expected, "pipeline's solutions")


def _reschedule(world: DoctorWorld, expression: str, state: str) -> None:
    """UpdateSchedule replaces the whole schedule (no time zone: UTC); target and window stay."""
    scheduler = world.client("scheduler")
    current = scheduler.get_schedule(Name=SCHEDULE_NAME)
    scheduler.update_schedule(
        Name=SCHEDULE_NAME,
        ScheduleExpression=expression,
        State=state,
        FlexibleTimeWindow=current["FlexibleTimeWindow"],
        Target=current["Target"],
    )


def test_a_disabled_schedule_warns_that_runs_only_start_by_hand(
    healthy: DoctorWorld, run: Callable[..., Result]
) -> None:
    _reschedule(healthy, "rate(6 hours)", "DISABLED")
    line = warning_line(doctor(run, healthy), "schedule")
    assert "DISABLED: rate(6 hours) (UTC), next start" in line
    assert "runs only start by hand (python -m pipeline_cli start)" in line
    assert "fix: to run on schedule, deploy with -c schedule_enabled=true" in line


def test_a_one_time_schedule_in_the_past_warns(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    _reschedule(healthy, "at(2026-01-01T00:00:00)", "ENABLED")
    assert "no start left; it will not start any more runs" in warning_line(doctor(run, healthy), "schedule")


# --- refused calls ---------------------------------------------------------------------


def test_denied_stack_read_stops_with_exit_3(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    action = "cloudformation:DescribeStacks"
    healthy.script.set("cloudformation", "DescribeStacks", AwsError("AccessDenied", DENIED.format(action=action), 403))
    result = doctor(run, healthy)

    assert result.code == 3
    assert result.out == ""
    assert result.err.strip() == (
        f"error: access denied: {action} is not allowed for arn:aws:sts::123456789012:assumed-role/operator/jane "
        "(ask for this IAM permission)"
    )


def test_a_denied_read_inside_a_check_is_its_line_and_exit_3(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    action = "personalize:DescribeDatasetGroup"
    healthy.script.set(
        "personalize", "DescribeDatasetGroup", AwsError("AccessDeniedException", DENIED.format(action=action), 400)
    )
    result = doctor(run, healthy)

    assert result.code == 3
    line = line_of(result, "dataset group")
    assert line.startswith(f"FAIL  dataset group          could not check: access denied: {action} is not allowed")
    assert "fix: run the doctor with a role that may make this read-only call" in line
    assert {title for title, status in statuses(result).items() if status != "PASS"} == {"dataset group"}
    document = json.loads(doctor(run, healthy, "--json").out)
    entry = next(c for c in document["checks"] if c["check"] == "dataset-group")
    assert entry["couldNotCheck"] is True and document["exitCode"] == 3


def test_a_real_failure_outranks_a_denied_read(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    healthy.script.set("personalize", "DescribeDatasetGroup", AwsError("AccessDeniedException", "no", 400))
    _no_raw_files(healthy)
    assert doctor(run, healthy).code == 1


def test_a_denied_policy_simulation_is_a_warning(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    healthy.script.set("iam", "SimulatePrincipalPolicy", AwsError("AccessDenied", "no", 403))
    line = warning_line(doctor(run, healthy), "Glue role access")
    assert "cannot simulate the Glue role's policies: AccessDenied on iam:SimulatePrincipalPolicy" in line


def test_unreadable_service_quotas_fall_back_to_documented_defaults(
    healthy: DoctorWorld, run: Callable[..., Result]
) -> None:
    healthy.script.set("service-quotas", "ListServiceQuotas", AwsError("AccessDeniedException", "no", 400))
    result = doctor(run, healthy, "--json")

    assert result.code == 0
    entry = next(c for c in json.loads(result.out)["checks"] if c["check"] == "quotas")
    assert entry["status"] == "WARN"
    assert entry["facts"]["solutionVersions"] == {"quota": 20, "source": "documented default", "running": 0, "free": 20}
    assert "servicequotas:ListServiceQuotas" in entry["detail"]


def test_a_glue_role_given_by_name_is_simulated_by_its_arn(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    role = healthy.client("iam").create_role(RoleName="etl-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    glue = healthy.client("glue")
    job = glue.get_job(JobName=GLUE_JOB)["Job"]
    glue.delete_job(JobName=GLUE_JOB)  # moto has no UpdateJob
    glue.create_job(Name=GLUE_JOB, Role="etl-role", Command=job["Command"], DefaultArguments=job["DefaultArguments"])
    assert doctor(run, healthy).code == 0
    simulated = {params["PolicySourceArn"] for _, op, params in healthy.script.calls if op == "SimulatePrincipalPolicy"}
    assert simulated == {role}


def test_quotas_service_quotas_does_not_list_fall_back_without_a_warning(
    healthy: DoctorWorld, run: Callable[..., Result]
) -> None:
    for operation in ("ListServiceQuotas", "ListAWSDefaultServiceQuotas"):
        healthy.script.set("service-quotas", operation, AwsError("NoSuchResourceException", "", 400))
    result = doctor(run, healthy)
    assert result.code == 0
    assert line_of(result, "Personalize quotas").startswith("PASS  ")
    assert "solution versions 0/20 in progress" in line_of(result, "Personalize quotas")


@pytest.mark.usefixtures("no_aws_env")
def test_no_credentials_exit_3(run: Callable[..., Result]) -> None:
    result = run(["doctor", "--region", "us-east-1"], clock=lambda: NOW)
    assert result.code == 3
    assert result.err.startswith("error: no AWS credentials found")


def test_the_doctor_makes_read_calls_only_each_once(
    healthy: DoctorWorld, run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every AWS call of a doctor run is a Describe/Get/List/Simulate call, and no call is made
    twice with the same parameters (checks share answers: the stacks, the solution, the files)."""
    calls: list[tuple[str, str]] = []
    create = healthy.session.client

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, json.dumps(params, sort_keys=True, default=str)))

    def recording(service: str, *args: Any, **kwargs: Any) -> Any:
        made = create(service, *args, **kwargs)
        # first, so that calls the script answers are seen too
        made.meta.events.register_first("before-parameter-build", record)
        return made

    monkeypatch.setattr(healthy.session, "client", recording)
    assert doctor(run, healthy).code == 0
    operations = {name for name, _ in calls}
    assert {"DescribeSolution", "SimulatePrincipalPolicy", "ListServiceQuotas", "GetSchedule"} <= operations
    assert all(name.startswith(("Describe", "Get", "List", "Simulate")) for name in operations), operations
    assert len(calls) == len(set(calls)), calls
