"""The dataset group, schema, dataset and the solution created with auto training off."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk.assertions import Template

from stacks.personalize import INTERACTIONS_SCHEMA
from tests.support.cdk_app import synth, templates_of
from tests.support.templates import logical_id


def _solution_call(template: Template, phase: str) -> dict[str, Any]:
    (solution,) = template.find_resources("Custom::PersonalizeSolution").values()
    call = solution["Properties"][phase]
    if isinstance(call, dict):  # Fn::Join around the dataset group ARN: read the literal parts
        call = "".join(part if isinstance(part, str) else "<token>" for part in call["Fn::Join"][1])
    return json.loads(call)


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
    ]
    assert json.loads(schema["Properties"]["Schema"]) == INTERACTIONS_SCHEMA
    schema_id = logical_id(data_template, "AWS::Personalize::Schema", "/Personalize/InteractionsSchema")
    group_id = logical_id(data_template, "AWS::Personalize::DatasetGroup", "/Personalize/DatasetGroup")
    data_template.has_resource_properties(
        "AWS::Personalize::Dataset",
        {
            "DatasetType": "Interactions",
            "SchemaArn": {"Fn::GetAtt": [schema_id, "SchemaArn"]},
            "DatasetGroupArn": {"Fn::GetAtt": [group_id, "DatasetGroupArn"]},
        },
    )


def test_solution_is_created_with_auto_training_off(data_template: Template) -> None:
    create = _solution_call(data_template, "Create")
    assert create["action"] == "createSolution"
    parameters = create["parameters"]
    assert parameters["performAutoTraining"] is False
    assert parameters["performHPO"] is False
    assert parameters["recipeArn"] == "arn:<token>:personalize:::recipe/aws-user-personalization"
    assert re.fullmatch(r"pbp-dev-solution-[0-9a-f]{8}", parameters["name"])
    assert _solution_call(data_template, "Update") == create
    delete = _solution_call(data_template, "Delete")
    assert delete["action"] == "deleteSolution"
    assert delete["parameters"] == {"solutionArn": "PHYSICAL:RESOURCEID:"}


def test_solution_is_deleted_with_the_stack_even_when_data_is_retained(data_template: Template) -> None:
    (solution,) = data_template.find_resources("Custom::PersonalizeSolution").values()
    assert solution["DeletionPolicy"] == "Delete"
    assert solution["UpdateReplacePolicy"] == "Delete"
    (group,) = data_template.find_resources("AWS::Personalize::DatasetGroup").values()
    assert group["DeletionPolicy"] == "Retain"


def test_new_settings_make_a_new_solution(tmp_path, data_template: Template) -> None:
    pipeline = synth(tmp_path, perform_auto_training=True, recipe="aws-user-personalization-v2")
    changed = templates_of(pipeline)[pipeline.data_stack.stack_name]
    before, after = _solution_call(data_template, "Create")["parameters"], _solution_call(changed, "Create")["parameters"]
    assert after["performAutoTraining"] is True
    assert after["recipeArn"].endswith("recipe/aws-user-personalization-v2")
    assert after["name"] != before["name"]


def test_solution_resource_may_touch_only_its_solution(data_template: Template) -> None:
    role = logical_id(data_template, "AWS::IAM::Role", "/Personalize/SolutionResourceRole/")
    statements = [
        statement
        for policy in data_template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_action = {json.dumps(s["Action"]): s["Resource"] for s in statements}
    solution_name = _solution_call(data_template, "Create")["parameters"]["name"]
    create = json.dumps(by_action['"personalize:CreateSolution"'])
    assert solution_name in create and "DatasetGroupArn" in create
    assert "pbp-dev-solution-????????" in json.dumps(by_action['"personalize:DeleteSolution"'])
    assert set(by_action) == {'"personalize:CreateSolution"', '"personalize:DeleteSolution"', '["logs:CreateLogStream", "logs:PutLogEvents"]'}
    assert all(resource != "*" for resource in by_action.values())
