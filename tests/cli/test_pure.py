"""Pure helpers: durations, execution names, links, output lookup and summary, error wording."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError

from pipeline_cli.errors import CliError, ExitCode, translate_botocore_error, translate_client_error
from pipeline_cli.formatting import RunAccounting, format_duration, format_time, summarize_output
from pipeline_cli.names import (
    console_url,
    execution_arn_for,
    execution_name_problem,
    execution_name_warning,
)
from pipeline_cli.outputs import OUTPUT_STATE_MACHINE_ARN, pipeline_from_outputs

SM_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:pbp-dev-pipeline"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (float("nan"), "-"),
        (-3, "0s"),
        (0, "0s"),
        (0.9, "0s"),
        (59.99, "59s"),
        (60, "1m 00s"),
        (187, "3m 07s"),
        (3599, "59m 59s"),
        (3600, "1h 00m"),
        (7500, "2h 05m"),
        (86399, "23h 59m"),
        (86400 + 3 * 3600 + 59, "1d 03h"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_time_is_utc_whatever_the_input_zone() -> None:
    from datetime import timedelta

    plus_two = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 11, 22, 5, 0, 1, tzinfo=plus_two)) == "2026-11-22 03:00:01 UTC"
    assert format_time(None) == "-"


@pytest.mark.parametrize("name", ["a", "run-2026-11-22", "manual_backfill_1", "x" * 80, "run.1", "ünïcode"])
def test_valid_execution_names(name: str) -> None:
    assert execution_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "1-80 characters"),
        ("x" * 81, "1-80 characters long (got 81)"),
        ("nightly run", "whitespace"),
        ("tab\there", "whitespace (U+0009)"),
        ("nbsp\u00a0here", "whitespace (U+00A0)"),
        ("bell\x07", "control characters (U+0007)"),
        ("del\x7f", "control characters (U+007F)"),
        ("c1\x9b", "control characters (U+009B)"),
        ("run[1]", "brackets"),
        ("run<1>", "brackets"),
        ("run{1}", "brackets"),
        ("run*", "wildcards"),
        ("run?", "wildcards"),
        ("a:b", "':'"),
        ("a/b", "'/'"),
        ('a"b', "'\"'"),
        ("50%", "'%'"),
        ("nonchar\ufffe", "non-characters"),
    ],
)
def test_invalid_execution_names_say_what_is_wrong(name: str, fragment: str) -> None:
    problem = execution_name_problem(name)
    assert problem is not None and fragment in problem


def test_name_warning_only_for_names_outside_the_cloudwatch_safe_set() -> None:
    assert execution_name_warning("run-1_a") is None
    assert "CloudWatch" in (execution_name_warning("run.1") or "")


def test_execution_arn_and_console_links() -> None:
    arn = execution_arn_for(SM_ARN, "run-1")
    assert arn == "arn:aws:states:eu-west-1:123456789012:execution:pbp-dev-pipeline:run-1"
    assert console_url(arn) == (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
        f"#/v2/executions/details/{arn}"
    )
    cn = "arn:aws-cn:states:cn-north-1:123456789012:execution:sm:r"
    assert console_url(cn).startswith("https://console.amazonaws.cn/states/home?region=cn-north-1#")


def test_outputs_lookup_reads_required_and_optional_keys() -> None:
    pipeline = pipeline_from_outputs(
        "s",
        [
            {"OutputKey": "StateMachineArn", "OutputValue": SM_ARN},
            {"OutputKey": "CuratedBucketName", "OutputValue": "curated"},
            {"OutputKey": "Unrelated", "OutputValue": "x"},
        ],
    )
    assert pipeline.state_machine_arn == SM_ARN
    assert pipeline.curated_bucket == "curated" and pipeline.alert_topic_arn is None
    assert pipeline.curated_runs_uri == "s3://curated/runs/"
    assert pipeline.state_machine_name == "pbp-dev-pipeline"


def test_outputs_lookup_without_state_machine_lists_what_is_there() -> None:
    with pytest.raises(CliError) as info:
        pipeline_from_outputs("pbp-dev-data", [{"OutputKey": "RawBucketName", "OutputValue": "raw"}])
    assert info.value.exit_code is ExitCode.USAGE
    assert OUTPUT_STATE_MACHINE_ARN in info.value.message and "RawBucketName" in info.value.message


def test_outputs_lookup_mentions_an_unhealthy_stack_status() -> None:
    with pytest.raises(CliError) as info:
        pipeline_from_outputs("pbp-dev-pipeline", [], "ROLLBACK_COMPLETE")
    assert "(its outputs: none, stack status ROLLBACK_COMPLETE)" in info.value.message
    with pytest.raises(CliError) as info:
        pipeline_from_outputs("pbp-dev-pipeline", [], "CREATE_COMPLETE")
    assert "(its outputs: none)" in info.value.message


def test_outputs_lookup_rejects_a_value_that_is_not_a_state_machine_arn() -> None:
    with pytest.raises(CliError, match="not a state machine ARN"):
        pipeline_from_outputs("s", [{"OutputKey": "StateMachineArn", "OutputValue": "arn:aws:sns:x:1:topic"}])


def test_summarize_output_picks_arns_and_locations_by_shape() -> None:
    output = (
        '{"import": {"datasetImportJobArn": "arn:aws:personalize:r:1:dataset-import-job/a"},'
        ' "batch": {"jobArn": "arn:aws:personalize:r:1:batch-inference-job/b", "outputPrefix": "runs/r/"},'
        ' "files": ["s3://bucket/runs/r/users.json.out", 3], "count": 7, "name": "r"}'
    )
    summary = summarize_output(output)
    assert dict(summary.arns) == {
        "import.datasetImportJobArn": "arn:aws:personalize:r:1:dataset-import-job/a",
        "batch.jobArn": "arn:aws:personalize:r:1:batch-inference-job/b",
    }
    assert dict(summary.locations) == {"batch.outputPrefix": "runs/r/", "files[0]": "s3://bucket/runs/r/users.json.out"}
    assert summarize_output("not json").arns == () and summarize_output(None).locations == ()


def client_error(code: str, message: str, operation: str = "StartExecution", retries: int | None = None) -> ClientError:
    response: dict = {"Error": {"Code": code, "Message": message}}
    if retries is not None:
        response["ResponseMetadata"] = {"RetryAttempts": retries}
    return ClientError(response, operation)


def test_access_denied_names_the_denied_action_and_principal_from_the_message() -> None:
    err = translate_client_error(
        client_error(
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/ops/jane is not authorized to perform: "
            "states:StartExecution on resource: arn:aws:states:... because no identity-based policy allows it",
        ),
        "states:StartExecution",
    )
    assert err.exit_code is ExitCode.AWS
    assert err.message == (
        "access denied: states:StartExecution is not allowed for "
        "arn:aws:sts::123456789012:assumed-role/ops/jane (ask for this IAM permission)"
    )


def test_access_denied_without_details_falls_back_to_the_called_action() -> None:
    err = translate_client_error(client_error("AccessDenied", "Access Denied"), "cloudformation:DescribeStacks")
    assert err.message.startswith("access denied: cloudformation:DescribeStacks is not allowed")


def test_other_client_errors() -> None:
    throttled = translate_client_error(client_error("ThrottlingException", "Rate exceeded", retries=7), "states:X")
    assert throttled.exit_code is ExitCode.AWS and "throttled states:X after 8 attempts" in throttled.message
    expired = translate_client_error(client_error("ExpiredTokenException", "expired"), "states:X")
    assert "expired" in expired.message and expired.exit_code is ExitCode.AWS
    other = translate_client_error(client_error("InternalFailure", "oops"), "states:X")
    assert other.message == "states:X failed: InternalFailure: oops"


def test_botocore_errors() -> None:
    assert "no AWS credentials" in translate_botocore_error(NoCredentialsError()).message
    partial = translate_botocore_error(PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"))
    assert "AWS_SECRET_ACCESS_KEY" in partial.message and partial.exit_code is ExitCode.AWS
    assert translate_botocore_error(NoRegionError()).exit_code is ExitCode.USAGE


# --- run accounting (the model quality gate's part of an execution's output) --------------------------


def test_run_accounting_of_a_run_the_gate_stopped_is_rejected_with_its_cause() -> None:
    cause = "Run r: the model quality gate rejected solution version arn:v2: ndcg = 0.1 is below the floor 0.2 (rule: ...)"
    accounting = RunAccounting.of(None, "ModelQualityGateFailed", cause)
    assert (accounting.decision, accounting.reason, accounting.model) == ("REJECTED", cause, "REJECTED")
    # Any other failure says nothing about the model.
    assert RunAccounting.of(None, "PostProcessFailed", "x").decision is None


def test_run_accounting_of_an_output() -> None:
    output = {
        "modelDecision": "ACCEPTED",
        "modelDecisionReason": "Accepted arn:v3: ...",
        "usedFallback": False,
        "trainingHours": 0.5,
        "glueDpuSeconds": 900,
        "estimatedCost": {"currency": "USD", "total": 0.11, "complete": True},
    }
    accounting = RunAccounting.of(json.dumps(output))
    assert (accounting.model, accounting.model_short, accounting.estimated_cost) == ("ACCEPTED", "ACCEPTED", "0.1100 USD")
    assert (accounting.training_hours, accounting.glue_dpu_seconds) == (0.5, 900.0)
    assert RunAccounting.of("not json").to_json()["modelDecision"] is None
    assert RunAccounting.of({"status": "SKIPPED"}).estimated_cost == "-"


# --- several solutions: each one's status and gate decision, from the output's `solutions` list --------------

SOLUTIONS_OUTPUT = {
    "status": "SUCCEEDED",
    "manifestUri": "s3://curated/runs/r/_manifest.json",
    "solutions": [
        {"name": "users", "status": "SUCCEEDED", "gate": {"decision": "ACCEPTED", "usedFallback": False, "reason": "ok"}},
        {
            "name": "segments",
            "status": "SUCCEEDED",
            "gate": {"decision": "REJECTED", "usedFallback": True, "reason": "Rejected arn:v: below the floor"},
        },
        {"name": "similar", "status": "SUCCEEDED", "gate": None},
    ],
    "accounting": {
        "trainingHours": [1.5, None, 0.25],
        "glueDpuSeconds": 600,
        "estimatedCost": {"currency": "USD", "total": 2.5, "complete": True},
    },
}


def test_run_accounting_of_several_solutions() -> None:
    accounting = RunAccounting.of(json.dumps(SOLUTIONS_OUTPUT))
    assert [(o.name, o.status, o.model_short) for o in accounting.solutions] == [
        ("users", "SUCCEEDED", "ACCEPTED"),
        ("segments", "SUCCEEDED", "FALLBACK"),
        ("similar", "SUCCEEDED", "-"),
    ]
    assert accounting.model_short == "users ACCEPTED, segments FALLBACK, similar -"
    assert accounting.used_fallback is True
    assert accounting.training_hours == 1.75  # per solution, the null (no training) skipped
    assert (accounting.glue_dpu_seconds, accounting.estimated_cost) == (600.0, "2.5000 USD")
    document = accounting.to_json()
    assert document["solutions"][1] == {
        "name": "segments",
        "status": "SUCCEEDED",
        "modelDecision": "REJECTED",
        "usedFallback": True,
        "reason": "Rejected arn:v: below the floor",
    }


def test_a_failed_solution_without_a_decision_shows_its_status() -> None:
    output = {"solutions": [{"name": "users", "status": "FAILED", "gate": None}, {"name": "x"}]}
    (users, other) = RunAccounting.of(output).solutions
    assert users.model_short == "FAILED"
    assert other.status == "-" and other.model_short == "-"
    assert RunAccounting.of({"solutions": "not a list"}).solutions == ()
    assert RunAccounting.of({"solutions": [{"status": "FAILED"}]}).solutions == ()  # no name: not a solution


def test_status_and_history_render_each_solution_and_its_fallback() -> None:
    import io

    from rich.console import Console

    from pipeline_cli.outputs import Pipeline
    from pipeline_cli.render import print_history, print_status
    from pipeline_cli.formatting import OutputSummary
    from pipeline_cli.stages import build_timeline

    start = datetime(2026, 11, 22, 3, 0, tzinfo=timezone.utc)
    stop = datetime(2026, 11, 22, 5, 0, tzinfo=timezone.utc)
    output = json.dumps(SOLUTIONS_OUTPUT)
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    print_history(console, [{"name": "run-1", "status": "SUCCEEDED", "startDate": start, "stopDate": stop, "output": output}], stop)
    history = buffer.getvalue()
    assert "users ACCEPTED, segments FALLBACK, similar -" in history
    assert "1.75 h" in history

    buffer.truncate(0)
    description = {"name": "run-1", "executionArn": SM_ARN.replace("stateMachine", "execution") + ":run-1", "status": "SUCCEEDED",
                   "startDate": start, "stopDate": stop, "output": output}
    timeline = build_timeline([], description)
    print_status(console, Pipeline("pbp-dev-pipeline", SM_ARN), description, timeline, OutputSummary(), stop)
    status = buffer.getvalue()
    assert "solutions:" in status
    assert "users     SUCCEEDED  model ACCEPTED\n" in status
    assert "segments  SUCCEEDED  model REJECTED (FALLBACK: last accepted version)" in status
    assert "reason: Rejected arn:v: below the floor" in status
    assert "similar   SUCCEEDED\n" in status
    assert "training:  1.75 h" in status


def test_status_shows_each_chosen_mode_with_its_reason() -> None:
    import io

    from rich.console import Console

    from pipeline_cli.outputs import Pipeline
    from pipeline_cli.render import print_status
    from pipeline_cli.formatting import OutputSummary
    from pipeline_cli.stages import build_timeline

    modes = {
        "imports": {"interactions": {"mode": "FULL", "reason": "no ACTIVE bulk import yet"},
                    "items": {"mode": "INCREMENTAL", "reason": "1 ACTIVE import"}},
        "training": {"users": {"mode": "FULL", "reason": "no ACTIVE version trained FULL"}},
    }
    start = datetime(2026, 11, 22, 3, 0, tzinfo=timezone.utc)
    output = json.dumps({**SOLUTIONS_OUTPUT, "modes": modes})
    description = {"name": "run-1", "executionArn": SM_ARN.replace("stateMachine", "execution") + ":run-1",
                   "status": "SUCCEEDED", "startDate": start, "stopDate": start, "output": output}
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    print_status(console, Pipeline("pbp-dev-pipeline", SM_ARN), description, build_timeline([], description),
                 OutputSummary(), start)
    status = buffer.getvalue()
    assert "  modes:\n" in status
    assert "    import interactions  FULL  (no ACTIVE bulk import yet)\n" in status
    assert "    import items         INCREMENTAL  (1 ACTIVE import)\n" in status
    assert "    training users       FULL  (no ACTIVE version trained FULL)\n" in status
    assert RunAccounting.of(output).to_json()["modes"] == modes
    assert RunAccounting.of({"solutions": []}).modes is None  # a run from before the modes stage
