"""Filters reach the batch jobs (README "Filters and event types"): each configured filter's ARN crosses from the data
stack to the pipeline at run time, through its SSM parameter (as a solution's ARN does), and every batch inference
and batch segment request of a solution with a `filter` carries the ARN of the filter the data stack created.

Derived from `config/full.json`'s templates: the filters are the data template's `Custom::PersonalizeFilter`s, the
parameters its `AWS::SSM::Parameter`s, the states that read them the pipeline definition's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_src.postprocess.manifest import SUCCESS_SUBJECT
from pipeline_contracts.personalize_resources import FILTER_ARN_ATTRIBUTE, FILTER_RESOURCE_TYPE
from stacks.app_factory import PipelineApp
from tests.pipeline.test_executed_pipeline import REGION, Run, Scenario, executor
from tests.support.cdk_app import mask_asset_hashes, synth, templates_of
from pipeline_rehearsal import ACCOUNT
from pipeline_rehearsal.deployment import SynthesizedOrchestration, app_orchestration
from tests.support.templates import all_states, logical_id_of, resources

USERS = {"users.json": ["75", "78"]}


@pytest.fixture(scope="module")
def full(synthesized_apps: Callable[[str], Any]) -> Any:
    return synthesized_apps("full")


@pytest.fixture(scope="module")
def full_pipeline(full: Any) -> SynthesizedOrchestration:
    return app_orchestration(full.app, full.templates, region=REGION)


def data_json(full: Any) -> dict[str, Any]:
    template: dict[str, Any] = full.templates[full.app.data_stack.stack_name].to_json()
    return template


def created_filters(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> properties of every filter the data stack creates."""
    return {logical: r["Properties"] for logical, r in resources(data, FILTER_RESOURCE_TYPE).items()}


def filter_parameters(data: dict[str, Any]) -> dict[str, str]:
    """Filter logical id -> the name of the SSM parameter that holds its ARN (its value: GetAtt filterArn)."""
    found = {}
    for parameter in resources(data, "AWS::SSM::Parameter").values():
        value = parameter["Properties"]["Value"]
        if isinstance(value, dict) and value.get("Fn::GetAtt", [None, None])[1] == FILTER_ARN_ATTRIBUTE:
            found[value["Fn::GetAtt"][0]] = parameter["Properties"]["Name"]
    return found


def test_the_data_stack_keeps_each_filter_arn_in_a_parameter(full: Any) -> None:
    data = data_json(full)
    filters = created_filters(data)
    assert len(filters) == len(full.app.config.filters) >= 1
    assert set(filter_parameters(data)) == set(filters)


def test_each_filtered_solution_reads_its_filter_parameter_and_passes_it_to_its_jobs(
    full: Any, full_pipeline: SynthesizedOrchestration
) -> None:
    data = data_json(full)
    parameters = filter_parameters(data)
    parameter_of_name = {props["Name"]: parameters[logical] for logical, props in created_filters(data).items()}
    states = all_states(full_pipeline.definition)
    for spec in full.app.config.solutions:
        read = states.get(f"{spec.name}: read filter ARN")
        if spec.filter is None:
            assert read is None, spec.name
            continue
        prefix = full.app.config.resource_name(spec.filter) + "-"
        personalize_name = next(name for name in parameter_of_name if name.startswith(prefix))
        assert read["Parameters"]["Name"] == parameter_of_name[personalize_name], spec.name
        create = states[f"{spec.name} batch job: create job"]["Parameters"]
        assert create["FilterArn.$"] == "$.filterArn"


def test_a_changed_expression_leaves_the_pipeline_template_unchanged(tmp_path: Path, full: Any) -> None:
    """So deploying only the data stack after such a change is enough: the next run reads the new filter's ARN."""
    filters = [
        {"name": f.name, "expression": f.expression + (" | EXCLUDE ItemID WHERE Items.YEAR < 1950" if i == 1 else "")}
        for i, f in enumerate(full.app.config.filters)
    ]
    changed: PipelineApp = synth(tmp_path, configuration="full", filters=filters)
    after = templates_of(changed)
    pipeline_name, data_name = full.app.pipeline_stack.stack_name, full.app.data_stack.stack_name
    before_pipeline = mask_asset_hashes(full.templates[pipeline_name].to_json())
    assert mask_asset_hashes(after[pipeline_name].to_json()) == before_pipeline
    names = [
        sorted(p["Name"] for p in created_filters(t[data_name].to_json()).values()) for t in (full.templates, after)
    ]
    assert len(set(names[0]) - set(names[1])) == 1  # the changed filter is a new one, under a new name


@pytest.fixture
def run_full(full: Any, full_pipeline: SynthesizedOrchestration, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    notices_topic = full_pipeline.cloud.arn(logical_id_of(full.app.pipeline_stack.notices.topic))
    with executor(full_pipeline, notices_topic, monkeypatch) as execute:
        yield execute(Scenario(batch_input=USERS))


def test_every_batch_request_carries_the_arn_of_the_filter_the_stack_created(full: Any, run_full: Run) -> None:
    assert run_full.result.status == "SUCCEEDED", run_full.result
    created = {p["Name"] for p in created_filters(data_json(full)).values()}
    filtered = [spec for spec in full.app.config.solutions if spec.filter]
    assert {spec.job_type for spec in filtered} == {"batch_inference", "batch_segment"}
    for spec in full.app.config.solutions:
        creates = run_full.batch_creates(spec.name)
        assert creates, spec.name
        for call in creates:
            if spec.filter is None:
                assert "filterArn" not in call.params or call.params["filterArn"] == full.app.config.filter_arn
                continue
            prefix, name = call.params["filterArn"].split(":filter/")
            assert prefix == f"arn:aws:personalize:{REGION}:{ACCOUNT}"
            assert name in created and name.startswith(full.app.config.resource_name(spec.filter) + "-"), call.params


def test_the_manifest_and_the_notice_name_each_solutions_filter(full: Any, run_full: Run) -> None:
    (notice,) = [n for n in run_full.notices() if n["Subject"].startswith(SUCCESS_SUBJECT)]
    lines = {line.split(" ", 2)[1]: line for line in notice["Message"].splitlines() if line.startswith("- ")}
    for spec in full.app.config.solutions:
        section = run_full.section(spec.name)
        used = {call.params.get("filterArn") for call in run_full.batch_creates(spec.name)}
        assert {section["filter_arn"]} == used, spec.name  # None for a solution whose jobs used no filter
        if section["filter_arn"]:
            assert f"; filter {section['filter_arn'].rsplit('/', 1)[-1]}" in lines[spec.name], lines[spec.name]
        else:
            assert "; filter " not in lines[spec.name]
