"""The doctor's pure parts: when a schedule fires next, quota matching, Spark's hidden files, names."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from aws_cdk.assertions import Template

from pipeline_cli.checks import data_stack_name
from pipeline_cli.checks.functions import LAMBDA_FUNCTION
from pipeline_cli.checks.operations import SCHEDULE
from pipeline_cli.checks.quotas import JOB_KINDS, quota_for
from pipeline_cli.checks.raw_data import INPUT_ARGUMENT, format_size, is_hidden
from pipeline_cli.errors import CliError, ExitCode
from pipeline_cli.outputs import (
    OUTPUT_ALERT_TOPIC_ARN,
    OUTPUT_DATA_KEY_ARN,
    OUTPUT_DATASET_GROUP_ARN,
    OUTPUT_GLUE_JOB_NAME,
    OUTPUT_SOLUTION_ARNS,
)
from pipeline_contracts.schedule_times import ScheduleExpressionError, next_start


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


WEDNESDAY_NOON = utc(2026, 11, 25, 12, 0)


@pytest.mark.parametrize(
    ("expression", "zone", "now", "expected"),
    [
        ("cron(0 3 ? * SUN *)", "UTC", WEDNESDAY_NOON, utc(2026, 11, 29, 3, 0)),
        # wall-clock time in the zone: CET (UTC+1) in November, CEST (UTC+2) in July
        ("cron(0 3 ? * SUN *)", "Europe/Berlin", WEDNESDAY_NOON, utc(2026, 11, 29, 2, 0)),
        ("cron(0 3 ? * SUN *)", "Europe/Berlin", utc(2026, 7, 1, 12, 0), utc(2026, 7, 5, 1, 0)),
        ("cron(0 3 ? * 1 *)", None, WEDNESDAY_NOON, utc(2026, 11, 29, 3, 0)),  # 1 = Sunday
        ("cron(0/15 * * * ? *)", "UTC", utc(2026, 11, 25, 12, 7), utc(2026, 11, 25, 12, 15)),
        ("cron(0/15 * * * ? *)", "UTC", utc(2026, 11, 25, 12, 15), utc(2026, 11, 25, 12, 30)),  # strictly after
        ("cron(10-40/10 8 * * ? *)", "UTC", utc(2026, 11, 25, 8, 35), utc(2026, 11, 25, 8, 40)),
        ("cron(0 8 ? * MON-FRI *)", "UTC", utc(2026, 11, 27, 10, 0), utc(2026, 11, 30, 8, 0)),  # Friday -> Monday
        ("cron(0 8,20 * * ? *)", "UTC", WEDNESDAY_NOON, utc(2026, 11, 25, 20, 0)),
        ("cron(0 12 L * ? *)", "UTC", utc(2026, 2, 10, 0, 0), utc(2026, 2, 28, 12, 0)),
        ("cron(0 9 ? * 6L *)", "UTC", WEDNESDAY_NOON, utc(2026, 11, 27, 9, 0)),  # last Friday of November
        ("cron(0 9 ? * 2#1 *)", "UTC", WEDNESDAY_NOON, utc(2026, 12, 7, 9, 0)),  # first Monday of December
        ("cron(0 9 15W * ? *)", "UTC", utc(2026, 11, 1, 0, 0), utc(2026, 11, 16, 9, 0)),  # the 15th is a Sunday
        ("cron(0 9 LW * ? *)", "UTC", utc(2026, 5, 1, 0, 0), utc(2026, 5, 29, 9, 0)),  # May 31 is a Sunday
        ("cron(0 0 1 JAN ? 2027)", "UTC", WEDNESDAY_NOON, utc(2027, 1, 1, 0, 0)),
        ("cron(0 0 1 JAN ? 2020)", "UTC", WEDNESDAY_NOON, None),
        ("cron(0 0 30 FEB ? *)", "UTC", WEDNESDAY_NOON, None),
        ("at(2026-12-24T18:00:00)", "Europe/Berlin", WEDNESDAY_NOON, utc(2026, 12, 24, 17, 0)),
        ("at(2026-01-01T00:00:00)", "UTC", WEDNESDAY_NOON, None),
    ],
)
def test_next_start(expression: str, zone: str | None, now: datetime, expected: datetime | None) -> None:
    assert next_start(expression, zone, now) == expected


def test_a_rate_counts_from_the_start_date_or_the_creation() -> None:
    created = utc(2026, 11, 25, 1, 0)
    assert next_start("rate(6 hours)", "UTC", WEDNESDAY_NOON, created=created) == utc(2026, 11, 25, 13, 0)
    assert next_start("rate(1 minute)", "UTC", WEDNESDAY_NOON, created=created) == utc(2026, 11, 25, 12, 1)
    start = utc(2026, 12, 1, 6, 30)
    assert next_start("rate(2 days)", "UTC", WEDNESDAY_NOON, start_date=start, created=created) == start


def test_start_and_end_dates_bound_the_schedule() -> None:
    assert next_start("cron(0 3 ? * SUN *)", "UTC", WEDNESDAY_NOON, start_date=utc(2026, 12, 1)) == utc(
        2026, 12, 6, 3, 0
    )
    assert next_start("cron(0 3 ? * SUN *)", "UTC", WEDNESDAY_NOON, end_date=utc(2026, 11, 28)) is None


@pytest.mark.parametrize(
    ("expression", "zone", "message"),
    [
        ("cron(0 3 * * ?)", "UTC", "cron needs 6 fields"),
        ("cron(61 3 * * ? *)", "UTC", "bad minutes value '61'"),
        ("cron(0 3 ? * FUNDAY *)", "UTC", "bad day-of-week value 'FUNDAY'"),
        ("cron(0 5-3 * * ? *)", "UTC", "bad hours range '5-3'"),
        ("rate(5 weeks)", "UTC", "bad rate"),
        ("every sunday", "UTC", "not a cron(...), rate(...) or at(...) expression"),
        ("cron(0 3 ? * SUN *)", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_unreadable_expressions_say_what_is_wrong(expression: str, zone: str, message: str) -> None:
    with pytest.raises(ScheduleExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        next_start(expression, zone, WEDNESDAY_NOON)


def test_quota_for_matches_the_concurrency_quota_not_a_size_quota() -> None:
    imports, versions, batch = JOB_KINDS
    quotas = [
        {"QuotaName": "Maximum size of a dataset import job", "Value": 100.0},
        {"QuotaName": "Dataset import jobs in progress or pending", "Value": 7.0},
        {"QuotaName": "Solution versions with status pending or in progress", "Value": 25.0},
    ]
    assert quota_for(imports, quotas) == 7.0
    assert quota_for(versions, quotas) == 25.0
    assert quota_for(batch, quotas) is None


@pytest.mark.parametrize(
    ("key", "hidden"),
    [
        ("ratings/part-1.dat", False),
        ("ratings/2026/11/part-1.dat", False),
        ("ratings/_SUCCESS", True),
        ("ratings/.part-1.dat.crc", True),
        ("ratings/_tmp/part-1.dat", True),
        ("ratings/a_b.dat", False),
    ],
)
def test_is_hidden_follows_hadoop(key: str, hidden: bool) -> None:
    assert is_hidden(key, "ratings/") is hidden


def test_format_size() -> None:
    assert [format_size(n) for n in (0, 1023, 1024, 3 * 1024**2 // 2, 5 * 1024**3)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 MiB",
        "5.0 GiB",
    ]


def test_data_stack_name() -> None:
    assert data_stack_name("pbp-prod-pipeline") == "pbp-prod-data"
    with pytest.raises(CliError) as raised:
        data_stack_name("pipeline")
    assert raised.value.exit_code is ExitCode.USAGE


# --- what the doctor reads exists in the synthesized stacks ---------------------------------


def test_the_outputs_and_resources_the_doctor_reads_are_synthesized(
    default_app: Any, data_template: Template, pipeline_template: Template
) -> None:
    """Guards the doctor against a renamed output or a resource moved to another stack.
    (`SolutionArnParameterNames`, on both stacks, is asserted in tests/foundation/test_solutions_data_stack.py.)"""
    assert default_app.data_stack.stack_name == data_stack_name(default_app.pipeline_stack.stack_name)
    pipeline_outputs = pipeline_template.to_json()["Outputs"]
    data_outputs = data_template.to_json()["Outputs"]
    assert {OUTPUT_ALERT_TOPIC_ARN, OUTPUT_GLUE_JOB_NAME} <= set(pipeline_outputs)
    assert {OUTPUT_SOLUTION_ARNS, OUTPUT_DATASET_GROUP_ARN, OUTPUT_DATA_KEY_ARN} <= set(data_outputs)
    resources = pipeline_template.to_json()["Resources"].values()
    types = [r["Type"] for r in resources]
    assert types.count(SCHEDULE) == 1  # the doctor checks the one schedule it finds
    assert LAMBDA_FUNCTION in types
    jobs = [r for r in resources if r["Type"] == "AWS::Glue::Job"]
    assert len(jobs) == 1 and INPUT_ARGUMENT in jobs[0]["Properties"]["DefaultArguments"]
