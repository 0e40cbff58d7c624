"""Items / Users datasets: the configuration's limits at synth, and what the `full` configuration synthesizes
(schemas from the config, datasets in the encrypted dataset group, Glue reads and import IAM scoped to them)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Template

from pipeline_contracts.metadata_datasets import avro_schema
from stacks.config import ConfigError, PipelineConfig
from tests.support.cdk_app import CDK_CONTEXT, ROOT, Synthesized
from tests.support.templates import logical_id

FULL = json.loads((ROOT / "config" / "full.json").read_text())


def _items(fields: list[Any], **source: Any) -> dict[str, Any]:
    names = [f["name"] for f in fields if isinstance(f, dict) and "name" in f]
    columns = {name: name.lower() for name in names}
    return {"fields": fields, "sources": [{"prefix": "items/", "id_column": "id", "columns": columns, **source}]}


def _fields(count: int) -> list[dict[str, str]]:
    return [{"name": f"F{index}", "type": "int"} for index in range(count)]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("items_dataset", _items([]), "'items_dataset.fields' has value 0; allowed: a list of 1 to 100"),
        ("items_dataset", _items(_fields(101)), "'items_dataset.fields' has value 101; allowed: a list of 1 to 100"),
        ("users_dataset", _items(_fields(26)), "'users_dataset.fields' has value 26; allowed: a list of 1 to 25"),
        ("items_dataset", _items([{"name": "EVENT_TYPE", "type": "categorical"}]), "not a Personalize reserved"),
        ("items_dataset", _items([{"name": "item_id", "type": "int"}]), "not a Personalize reserved"),
        ("items_dataset", _items([{"name": "YEAR", "type": "date"}]), "'items_dataset.fields[0].type' has value"),
        ("users_dataset", _items([{"name": "BIO", "type": "textual"}]), "one of categorical, int, long"),
        (
            "items_dataset",
            _items([{"name": "ADDED", "type": "creation_timestamp"}]),
            "allowed: CREATION_TIMESTAMP for type creation_timestamp",
        ),
        ("items_dataset", _items([{"name": "2X", "type": "int"}]), "letters, digits and '_'"),
        (
            "items_dataset",
            {"fields": [{"name": "A", "type": "int"}, {"name": "B", "type": "int"}],
             "sources": [{"prefix": "items/", "id_column": "id", "columns": {"A": "a"}}]},
            "'items_dataset.sources' has value ['B']; allowed: sources whose columns provide every declared field",
        ),
        (
            "items_dataset",
            _items([{"name": "YEAR", "type": "int"}], shape="long"),
            "one categorical field for a long source",
        ),
        ("items_dataset", _items([{"name": "G", "type": "categorical"}], prefix="ratings/x/"), "overlap|raw_prefix"),
        ("items_dataset", _items([{"name": "G", "type": "categorical"}], has_header=False), "0-based position"),
        ("items_dataset", "not json", "a JSON object with 'fields' and 'sources'"),
    ],
)
def test_limits_stop_synth_naming_key_value_and_limit(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        PipelineConfig.from_mapping({key: value})
    text = str(raised.value)
    assert re.search(message, text) or message in text, text
    assert f"'{key}" in text


def test_documented_metadata_examples_are_valid_configurations() -> None:
    text = (ROOT / "docs" / "raw-input.md").read_text()
    examples = re.findall(r'```json\n("items_dataset": .*?)\n```', text, flags=re.DOTALL)
    assert len(examples) == 2  # ml-latest and HetRec
    for example in examples:
        config = PipelineConfig.from_mapping(json.loads("{" + example + "}"))
        assert config.items_dataset is not None and config.items_dataset.sources


def test_default_configuration_has_no_metadata_datasets(data_template: Template) -> None:
    assert PipelineConfig.from_mapping(CDK_CONTEXT).metadata_datasets == ()
    types = [r["Properties"]["DatasetType"] for r in data_template.find_resources("AWS::Personalize::Dataset").values()]
    assert types == ["Interactions"]


@pytest.fixture(scope="module")
def full(synthesized_apps: Callable[[str], Synthesized]) -> tuple[Template, Template]:
    synthesized = synthesized_apps("full")
    app = synthesized.app
    return synthesized.templates[app.data_stack.stack_name], synthesized.templates[app.pipeline_stack.stack_name]


@pytest.mark.parametrize("kind", ["items", "users"])
def test_schema_is_generated_from_the_config_and_the_dataset_joins_the_encrypted_group(
    full: tuple[Template, Template], kind: str
) -> None:
    data, _ = full
    dataset_type = kind.title()
    spec = getattr(PipelineConfig.from_mapping({**CDK_CONTEXT, **FULL}), f"{kind}_dataset")
    schema_id = logical_id(data, "AWS::Personalize::Schema", f"/Personalize/{dataset_type}Schema")
    schema = json.loads(data.to_json()["Resources"][schema_id]["Properties"]["Schema"])
    assert schema == avro_schema(spec)
    fields = {field["name"]: field for field in schema["fields"]}
    if kind == "items":
        assert fields["GENRES"] == {"name": "GENRES", "type": ["null", "string"], "categorical": True}
        assert fields["YEAR"] == {"name": "YEAR", "type": ["null", "int"]}
        assert fields["CREATION_TIMESTAMP"] == {"name": "CREATION_TIMESTAMP", "type": "long"}
        assert schema["fields"][0] == {"name": "ITEM_ID", "type": "string"}
    else:
        assert schema["fields"][0] == {"name": "USER_ID", "type": "string"}
        assert all(field.get("categorical") for field in schema["fields"][1:])
    group_id = logical_id(data, "AWS::Personalize::DatasetGroup", "/Personalize/DatasetGroup")
    # A custom resource (schema replaced in place: tests/foundation/test_personalize_provider.py), not an
    # AWS::Personalize::Dataset.
    data.has_resource_properties(
        "Custom::PersonalizeDataset",
        {
            "DatasetType": dataset_type,
            "Name": f"pbp-full-{kind}",
            "SchemaArn": {"Fn::GetAtt": [schema_id, "SchemaArn"]},
            "DatasetGroupArn": {"Fn::GetAtt": [group_id, "DatasetGroupArn"]},
        },
    )
    # The datasets have no key of their own: Personalize encrypts them with the dataset group's, the data key.
    data_key = logical_id(data, "AWS::KMS::Key", "/Keys/DataKey/")
    (group,) = data.find_resources("AWS::Personalize::DatasetGroup").values()
    assert group["Properties"]["KmsKeyArn"] == {"Fn::GetAtt": [data_key, "Arn"]}


def _statements(template: Template, path_part: str) -> list[dict[str, Any]]:
    statements = []
    # A large role policy (several solutions) overflows into managed policies CDK adds under the role.
    policies = {**template.find_resources("AWS::IAM::Policy"), **template.find_resources("AWS::IAM::ManagedPolicy")}
    for resource in policies.values():
        if path_part in resource.get("Metadata", {}).get("aws:cdk:path", ""):
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _text(value: Any) -> str:
    return json.dumps(value)


def test_each_metadata_import_is_scoped_to_its_dataset_and_job_names(full: tuple[Template, Template]) -> None:
    _, pipeline = full
    statements = _statements(pipeline, "/Orchestration/StateMachine/Role/")
    # IAM policies are minimized: one statement per action lists every resource the action may touch.
    (create,) = [s for s in statements if s["Action"] == "personalize:CreateDatasetImportJob"]
    resources = [_text(resource) for resource in create["Resource"]]
    job_patterns = sorted(r for r in resources if "dataset-import-job/" in r)
    assert [re.search(r"dataset-import-job/([^\"]+)", r).group(1) for r in job_patterns] == [  # type: ignore[union-attr]
        "pbp-full-import-*", "pbp-full-items-import-*", "pbp-full-users-import-*"
    ]
    datasets = [r for r in resources if "dataset-import-job/" not in r]
    # The three datasets of the data stack, by their exported ARNs: no dataset pattern, no wildcard.
    assert len(datasets) == 3 and all("Fn::GetStackOutput" in r and "*" not in r for r in datasets)
    outputs = sorted(json.loads(r)["Fn::GetStackOutput"]["OutputName"] for r in datasets)
    assert [name for name in outputs if "Items" in name] and [name for name in outputs if "Users" in name]
    (describe,) = [s for s in statements if s["Action"] == "personalize:DescribeDatasetImportJob"]
    assert sorted(_text(r) for r in describe["Resource"]) == job_patterns


def test_glue_reads_the_metadata_prefixes_and_gets_the_datasets_as_arguments(full: tuple[Template, Template]) -> None:
    _, pipeline = full
    reads = _text(_statements(pipeline, "/Etl/Role/"))
    for prefix in ("ratings/*", "items/movies/*", "items/genres/*", "users/profiles/*"):
        assert f"/{prefix}" in reads, prefix
    (job,) = pipeline.find_resources("AWS::Glue::Job").values()
    arguments = job["Properties"]["DefaultArguments"]
    config = PipelineConfig.from_mapping({**CDK_CONTEXT, **FULL})
    assert json.loads(arguments["--items_dataset"]) == config.items_dataset.as_json()  # type: ignore[union-attr]
    assert json.loads(arguments["--users_dataset"]) == config.users_dataset.as_json()  # type: ignore[union-attr]
