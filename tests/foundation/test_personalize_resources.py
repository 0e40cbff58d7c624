"""The dataset group, schema, dataset and the solution created with auto training off."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk.assertions import Template

from pipeline_contracts.event_types import INTERACTIONS_FIELDS
from stacks.personalize import INTERACTIONS_SCHEMA
from tests.support.cdk_app import synth, templates_of
from tests.support.personalize_provider import literal, provider_grants
from tests.support.templates import logical_id


def _solution(template: Template) -> dict[str, Any]:
    (solution,) = template.find_resources("Custom::PersonalizeSolution").values()
    return solution["Properties"]


def test_dataset_group_is_encrypted_with_the_data_key(data_template: Template) -> None:
    data_key = logical_id(data_template, "AWS::KMS::Key", "/Keys/DataKey/")
    role = logical_id(data_template, "AWS::IAM::Role", "/PersonalizeAccess/ServiceRole/")
    data_template.has_resource_properties(
        "AWS::Personalize::DatasetGroup",
        {
            "Name": "pbp-dev-interactions",
            "KmsKeyArn": {"Fn::GetAtt": [data_key, "Arn"]},
            "RoleArn": {"Fn::GetAtt": [role, "Arn"]},
        },
    )


def test_interactions_schema_and_dataset(data_template: Template) -> None:
    (schema,) = data_template.find_resources("AWS::Personalize::Schema").values()
    fields = json.loads(schema["Properties"]["Schema"])["fields"]
    assert fields == [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        # The same for every configuration (Personalize cannot replace an interactions dataset's schema).
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
    ]
    assert json.loads(schema["Properties"]["Schema"]) == INTERACTIONS_SCHEMA
    assert tuple(field["name"] for field in fields) == INTERACTIONS_FIELDS  # what the doctor expects deployed
    schema_id = logical_id(data_template, "AWS::Personalize::Schema", "/Personalize/InteractionsSchema")
    group_id = logical_id(data_template, "AWS::Personalize::DatasetGroup", "/Personalize/DatasetGroup")
    data_template.has_resource_properties(
        "AWS::Personalize::Dataset",
        {
            "DatasetType": "Interactions",
            "Name": "pbp-dev-interactions-events",
            "SchemaArn": {"Fn::GetAtt": [schema_id, "SchemaArn"]},
            "DatasetGroupArn": {"Fn::GetAtt": [group_id, "DatasetGroupArn"]},
        },
    )
    # A replacement (the upgrade from the three-field schema) has the same ARN: the old one is never deleted.
    (dataset,) = data_template.find_resources("AWS::Personalize::Dataset").values()
    assert dataset["UpdateReplacePolicy"] == "Retain"


def test_solution_is_created_with_auto_training_off(data_template: Template) -> None:
    properties = _solution(data_template)
    assert properties["PerformAutoTraining"] is False
    assert literal(properties["RecipeArn"]) == "arn:<AWS::Partition>:personalize:::recipe/aws-user-personalization"
    assert re.fullmatch(r"pbp-dev-solution-[0-9a-f]{8}", properties["Name"])
    assert set(properties) == {"ServiceToken", "Name", "DatasetGroupArn", "RecipeArn", "PerformAutoTraining"}


def test_solution_is_deleted_with_the_stack_even_when_data_is_retained(data_template: Template) -> None:
    (solution,) = data_template.find_resources("Custom::PersonalizeSolution").values()
    assert solution["DeletionPolicy"] == "Delete"
    assert solution["UpdateReplacePolicy"] == "Delete"
    (group,) = data_template.find_resources("AWS::Personalize::DatasetGroup").values()
    assert group["DeletionPolicy"] == "Retain"


def test_new_settings_make_a_new_solution(tmp_path, data_template: Template) -> None:
    pipeline = synth(tmp_path, perform_auto_training=True, recipe="aws-user-personalization-v2")
    changed = templates_of(pipeline)[pipeline.data_stack.stack_name]
    before, after = _solution(data_template), _solution(changed)
    assert after["PerformAutoTraining"] is True
    assert literal(after["RecipeArn"]).endswith("recipe/aws-user-personalization-v2")
    assert after["Name"] != before["Name"]


def test_solution_resource_may_touch_only_its_solution(data_template: Template) -> None:
    grants = provider_grants(data_template)
    solution_name = _solution(data_template)["Name"]
    assert any(target.endswith(f":solution/{solution_name}") for target in grants["personalize:CreateSolution"])
    assert any("DatasetGroupArn" in target for target in grants["personalize:CreateSolution"])
    for action in ("personalize:DeleteSolution", "personalize:DescribeSolution"):
        assert [target.rsplit(":", 1)[1] for target in grants[action]] == ["solution/pbp-dev-solution-????????"]
    assert set(grants) == {
        "personalize:CreateSolution", "personalize:DeleteSolution", "personalize:DescribeSolution",
        "personalize:StopSolutionVersionCreation", "logs:CreateLogStream", "logs:PutLogEvents",
    }
    assert all("*" not in target for action, targets in grants.items() if action != "personalize:StopSolutionVersionCreation"
               for target in targets)
