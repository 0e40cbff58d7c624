"""Every validation rule of the config stops synth with the key, the value and what is allowed."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest

from stacks.config import (
    GLUE_WORKER_TYPES,
    REMOVAL_POLICIES,
    ConfigError,
    GlueWorkerTypeName,
    PipelineConfig,
    RemovalPolicyName,
)
from tests.support.cdk_app import CDK_CONTEXT, ROOT, synth


def test_cdk_json_holds_every_key_and_nothing_unknown() -> None:
    field_names = {field.name for field in dataclasses.fields(PipelineConfig)}
    config_keys = {key for key in CDK_CONTEXT if not key.startswith("@")}
    assert config_keys == field_names


def test_cdk_json_values_are_the_documented_defaults() -> None:
    assert PipelineConfig.from_mapping(CDK_CONTEXT) == PipelineConfig()


def test_command_line_strings_are_parsed() -> None:
    config = PipelineConfig.from_mapping(
        {
            "min_rating": "4",
            "num_results": "50",
            "schedule_enabled": "false",
            "raw_delimiter": ",",
            "raw_has_header": "False",
            "data_removal_policy": "DESTROY",
            "exploration_weight": "0.3",
            "notification_email": "ops@example.com",
        }
    )
    assert config.min_rating == 4.0
    assert config.num_results == 50
    assert config.schedule_enabled is False
    assert config.raw_delimiter == ","
    assert config.raw_has_header is False
    assert config.destroy_data
    assert config.exploration_weight == 0.3
    assert config.notification_email == "ops@example.com"


def test_tab_escape_and_empty_optionals() -> None:
    config = PipelineConfig.from_mapping({"raw_delimiter": "\\t", "filter_arn": "", "notification_email": ""})
    assert config.raw_delimiter == "\t"
    assert config.filter_arn is None
    assert config.notification_email is None


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("prefix", "PBP", "lower-case letters, digits and '-'"),
        ("prefix", "a-very-long-prefix-name", "2-16 characters"),
        ("environment", "Prod!", "1-10 lower-case letters and digits"),
        ("data_removal_policy", "SNAPSHOT", "one of RETAIN, DESTROY"),
        ("schedule_enabled", "yes", "true or false"),
        ("schedule_expression", "every sunday", "cron(...), rate(N unit) or at(...)"),
        ("schedule_expression", "cron(banana)", "cron needs 6 fields"),
        ("schedule_expression", "cron(0 3 * * SUN *)", "exactly one of day-of-month ('*') and day-of-week ('SUN')"),
        ("schedule_expression", "cron(0 3 ? * ? *)", "exactly one of day-of-month ('?') and day-of-week ('?')"),
        ("schedule_expression", "cron(60 3 ? * SUN *)", "minutes"),
        ("schedule_expression", "cron(0 24 ? * SUN *)", "hours"),
        ("schedule_expression", "cron(0 3 ? * 8 *)", "day-of-week"),
        ("schedule_expression", "rate(0 minutes)", "N >= 1"),
        ("schedule_expression", "rate(2 weeks)", "minute(s)|hour(s)|day(s)"),
        ("schedule_expression", "at(2027-13-01T00:00:00)", "bad date"),
        ("schedule_timezone", "Mars/Olympus", "an IANA time zone name"),
        ("raw_prefix", "ratings", "ending in '/'"),
        ("raw_delimiter", ";;", "a single character"),
        ("raw_has_header", 1, "true or false"),
        ("raw_user_column", "", "a column name from the header, or a 0-based position"),
        ("raw_timestamp_unit", "ns", "one of ms, s"),
        ("raw_encoding", "latin1", "one of utf-8, utf-8-sig, latin-1, cp1252"),
        ("min_rating", 3.7, "a number from 0.5 to 5.0 in steps of 0.5"),
        ("min_rating", "high", "a number from 0.5 to 5.0"),
        ("min_rating", 6, "a number from 0.5 to 5.0"),
        ("glue_worker_type", "Standard", "one of G.1X, G.2X, G.4X, G.8X"),
        ("glue_worker_type", "G.025X", "one of G.1X, G.2X, G.4X, G.8X"),
        ("glue_worker_count", 1, "a whole number from 2 to 100"),
        ("glue_worker_count", 2.5, "a whole number from 2 to 100"),
        ("glue_timeout_minutes", 0, "a whole number from 5 to 2880"),
        ("recipe", "aws-sims", "one of aws-user-personalization, aws-user-personalization-v2"),
        ("perform_auto_training", "sometimes", "true or false"),
        ("training_mode", "PARTIAL", "one of FULL, UPDATE"),
        ("import_mode", "APPEND", "one of FULL, INCREMENTAL"),
        ("num_results", 0, "a whole number from 1 to 500"),
        ("num_results", True, "a whole number from 1 to 500"),
        ("filter_arn", "arn:aws:s3:::bucket", "a Personalize filter ARN"),
        ("exploration_weight", 1.5, "a number from 0.0 to 1.0"),
        ("exploration_item_age_cut_off_days", 0, "a whole number from 1 to 3650"),
        ("status_poll_seconds", 1, "a whole number from 5 to 3600"),
        ("busy_retry_seconds", 99999, "a whole number from 5 to 3600"),
        ("busy_retry_max_attempts", 0, "a whole number from 1 to 1000"),
        ("job_max_wait_hours", 100, "a whole number from 1 to 72"),
        ("execution_timeout_hours", 0, "a whole number from 1 to 168"),
        ("notification_email", "not-an-address", "an e-mail address"),
    ],
)
def test_bad_value_names_key_value_and_allowed(key: str, value: object, allowed: str) -> None:
    with pytest.raises(ConfigError) as error:
        PipelineConfig.from_mapping({key: value})
    message = str(error.value)
    assert message.startswith(f"cdk.json context key '{key}' has value {value!r}; allowed: ")  # ConfigError.invalid
    assert allowed in message


@pytest.mark.parametrize(
    "expression",
    ["cron(0 3 ? * SUN *)", "cron(0 3 1 * ? *)", "cron(0/15 * * * ? *)", "cron(0 9 ? * 2#1 *)", "rate(1 day)",
     "rate(12 hours)", "at(2027-01-01T00:00:00)"],
)
def test_a_valid_schedule_expression_is_kept(expression: str) -> None:
    assert PipelineConfig.from_mapping({"schedule_expression": expression}).schedule_expression == expression


def test_every_field_names_its_parser() -> None:
    assert [field.name for field in dataclasses.fields(PipelineConfig) if not callable(field.metadata.get("parse"))] == []


@pytest.mark.parametrize(
    ("literal", "mapping", "field"),
    [
        (RemovalPolicyName, REMOVAL_POLICIES, "removal_policy"),
        (GlueWorkerTypeName, GLUE_WORKER_TYPES, "glue_worker"),
    ],
)
def test_each_choice_maps_to_its_cdk_enum(literal: Any, mapping: dict[str, Any], field: str) -> None:
    key = {"removal_policy": "data_removal_policy", "glue_worker": "glue_worker_type"}[field]
    assert tuple(mapping) == get_args(literal)
    for choice in get_args(literal):
        assert getattr(PipelineConfig.from_mapping({key: choice}), field) is mapping[choice]


LITERAL_FIELDS = {
    key: get_args(hint) for key, hint in get_type_hints(PipelineConfig).items() if get_origin(hint) is Literal
}


def test_choices_are_literal_types() -> None:
    assert set(LITERAL_FIELDS) == {
        "data_removal_policy", "raw_timestamp_unit", "raw_encoding", "glue_worker_type", "recipe", "training_mode", "import_mode",
        "quality_gate_on_fail", "quality_gate_on_missing_metric", "glue_execution_class",
    }  # fmt: skip


@pytest.mark.parametrize(("key", "choices"), LITERAL_FIELDS.items())
def test_literal_fields_accept_each_choice_and_nothing_else(key: str, choices: tuple[str, ...]) -> None:
    for choice in choices:
        assert getattr(PipelineConfig.from_mapping({key: choice}), key) == choice
    with pytest.raises(ConfigError, match=re.escape("allowed: one of " + ", ".join(choices))):
        PipelineConfig.from_mapping({key: "other"})


def test_update_training_needs_user_personalization() -> None:
    with pytest.raises(ConfigError, match=r"'training_mode' has value 'UPDATE'.*FULL when recipe"):
        PipelineConfig.from_mapping({"training_mode": "UPDATE", "recipe": "aws-user-personalization-v2"})


def test_execution_must_outlast_one_job_wait() -> None:
    with pytest.raises(ConfigError, match=r"'execution_timeout_hours' has value 10.*more than job_max_wait_hours \(12\)"):
        PipelineConfig.from_mapping({"execution_timeout_hours": 10, "job_max_wait_hours": 12})


def test_bad_context_stops_synth(tmp_path) -> None:
    with pytest.raises(ConfigError, match="'min_rating' has value 'lots'"):
        synth(tmp_path, min_rating="lots")


def test_documented_config_table_matches_cdk_json() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", reference, flags=re.MULTILINE)
    documented = {key: default.strip() for key, default in rows}
    config_keys = {key: value for key, value in CDK_CONTEXT.items() if not key.startswith("@")}
    assert set(documented) == set(config_keys)
    for key, value in config_keys.items():
        shown = "empty" if value == "" else f"`{str(value).lower() if isinstance(value, bool) else value}`"
        assert documented[key] == shown, key
