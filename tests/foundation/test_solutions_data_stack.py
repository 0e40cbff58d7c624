"""Several solutions in the data stack (config/full.json): one custom resource, name and SSM parameter per solution,
IAM scoped to each solution's names, creates chained, and the list outputs both stacks export."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Template

from pipeline_contracts.stack_outputs import SOLUTION_ARN_PARAMETER_NAMES, SOLUTION_ARNS, split_list
from stacks.app_factory import PipelineApp
from stacks.config import PipelineConfig
from stacks.personalize import (
    personalize_solution_name,
    settings_hash8,
    solution_arn_parameter_name,
    solution_name_pattern,
)
from tests.support.personalize_provider import literal, provider_grants
from tests.support.templates import resources

FULL = "full"


@pytest.fixture(scope="module")
def full_app(synthesized_apps: Callable[[str], Any]) -> PipelineApp:
    return synthesized_apps(FULL).app


@pytest.fixture(scope="module")
def full_data(synthesized_apps: Callable[[str], Any], full_app: PipelineApp) -> dict[str, Any]:
    return synthesized_apps(FULL).templates[full_app.data_stack.stack_name].to_json()


def _solutions_by_name(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Personalize solution name -> (logical id, custom resource properties)."""
    return {
        resource["Properties"]["Name"]: (logical_id, resource["Properties"])
        for logical_id, resource in resources(template, "Custom::PersonalizeSolution").items()
    }


def test_one_solution_per_configured_solution(full_app: PipelineApp, full_data: dict[str, Any]) -> None:
    config = full_app.config
    assert len(config.solutions) == 4
    solutions = _solutions_by_name(full_data)
    assert set(solutions) == {personalize_solution_name(config, spec) for spec in config.solutions}
    for spec in config.solutions:
        _, properties = solutions[personalize_solution_name(config, spec)]
        assert re.fullmatch(rf"pbp-full-{spec.name}-[0-9a-f]{{8}}", properties["Name"])
        assert literal(properties["RecipeArn"]).endswith(f"recipe/{spec.recipe}")
        assert properties["PerformAutoTraining"] is spec.perform_auto_training


def test_each_solution_has_its_parameter(full_app: PipelineApp, full_data: dict[str, Any]) -> None:
    config = full_app.config
    solutions = _solutions_by_name(full_data)
    parameters = {p["Properties"]["Name"]: p["Properties"]["Value"] for p in resources(full_data, "AWS::SSM::Parameter").values()}
    for spec in config.solutions:
        logical_id, _ = solutions[personalize_solution_name(config, spec)]
        name = solution_arn_parameter_name(config, spec.name)
        assert name == f"/pbp/full/personalize/{spec.name}-arn"
        assert parameters[name] == {"Fn::GetAtt": [logical_id, "solutionArn"]}


def test_the_creates_are_chained_in_config_order(full_app: PipelineApp, full_data: dict[str, Any]) -> None:
    """Personalize throttles its control plane per account: one CreateSolution after the other."""
    config = full_app.config
    solutions = _solutions_by_name(full_data)
    ids = [solutions[personalize_solution_name(config, spec)][0] for spec in config.solutions]
    custom = resources(full_data, "Custom::PersonalizeSolution")
    datasets = set(resources(full_data, "AWS::Personalize::Dataset")) | set(
        resources(full_data, "Custom::PersonalizeDataset")
    )
    for previous, current in zip(ids, ids[1:]):
        assert previous in custom[current].get("DependsOn", []), current
    for logical_id in ids:
        assert datasets <= set(custom[logical_id].get("DependsOn", [])), "a solution trains on every dataset"


def test_each_solution_statement_reaches_only_its_names(full_app: PipelineApp, full_data: dict[str, Any]) -> None:
    config = full_app.config
    grants = provider_grants(full_data)
    deletes, creates = grants["personalize:DeleteSolution"], grants["personalize:CreateSolution"]
    assert len(deletes) == len(config.solutions) and len(creates) == len(config.solutions) + 1  # + the group
    for spec in config.solutions:
        pattern = solution_name_pattern(config, spec.name)
        (delete,) = [d for d in deletes if d.endswith(f"solution/{pattern}")]
        assert "*" not in delete
        (create,) = [c for c in creates if c.endswith(f"solution/{personalize_solution_name(config, spec)}")]
        assert "*" not in create


def test_a_solution_pattern_matches_its_names_only() -> None:
    """IAM `?` is one character: users' pattern must not reach users_eu's solutions (pbp-dev-users_eu-<hash>)."""
    config = PipelineConfig.from_mapping({})
    pattern = solution_name_pattern(config, "users")
    as_regex = re.compile("^" + re.escape(pattern).replace(r"\?", ".") + "$")
    assert as_regex.match("pbp-dev-users-0123abcd")
    assert not as_regex.match("pbp-dev-users_eu-0123abcd")
    assert not as_regex.match("pbp-dev-users-0123abcd-x")


def test_the_default_solution_keeps_its_name_and_parameter() -> None:
    """Upgrading a deployment without `solutions` replaces nothing: same name, same parameter."""
    config = PipelineConfig.from_mapping({})
    (spec,) = config.solutions
    assert spec.name == "solution"
    assert personalize_solution_name(config, spec) == f"pbp-dev-solution-{settings_hash8(spec)}"
    assert solution_arn_parameter_name(config, spec.name) == "/pbp/dev/personalize/solution-arn"
    # the hash covers recipe + performAutoTraining only (as before several solutions existed)
    changed = PipelineConfig.from_mapping({"num_results": 10, "training_mode": "UPDATE"})
    assert settings_hash8(changed.solutions[0]) == settings_hash8(spec)
    assert settings_hash8(PipelineConfig.from_mapping({"perform_auto_training": True}).solutions[0]) != settings_hash8(spec)


def test_both_stacks_list_every_parameter(synthesized_apps: Callable[[str], Any], full_app: PipelineApp) -> None:
    templates = synthesized_apps(FULL).templates
    expected = [solution_arn_parameter_name(full_app.config, spec.name) for spec in full_app.config.solutions]
    for stack in full_app.stacks:
        outputs = templates[stack.stack_name].to_json()["Outputs"]
        assert split_list(outputs[SOLUTION_ARN_PARAMETER_NAMES]["Value"]) == expected, stack.stack_name


def test_the_solution_arns_output_follows_the_parameter_order(full_app: PipelineApp, full_data: dict[str, Any]) -> None:
    config = full_app.config
    solutions = _solutions_by_name(full_data)
    delimiter, parts = full_data["Outputs"][SOLUTION_ARNS]["Value"]["Fn::Join"]
    assert delimiter == ","
    assert parts == [
        {"Fn::GetAtt": [solutions[personalize_solution_name(config, spec)][0], "solutionArn"]} for spec in config.solutions
    ]


def test_split_list() -> None:
    assert split_list("/a, /b,") == ["/a", "/b"]
    assert split_list(None) == [] and split_list("") == []
