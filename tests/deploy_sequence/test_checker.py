"""The deploy-sequence checker (`tests/support/deploy_sequence.py`) on deliberately broken constructs: each must be
rejected, naming the resource and why, and its repaired twin accepted."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_personalize as personalize
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from aws_cdk.assertions import Template

from tests.support.deploy_sequence import (
    CUSTOM_UPDATES_TESTED_ELSEWHERE,
    DeployPlan,
    Templates,
    create_only_paths,
    create_only_properties,
    name_property,
    plan_update,
    sdk_call,
    value_at,
)

STACK = "Probe"
ANY_VERSION = ("v1", "v2")


def _templates(build: Callable[[cdk.Stack, str], None], version: str) -> Templates:
    app = cdk.App()
    stack = cdk.Stack(app, STACK)
    build(stack, version)
    return {STACK: Template.from_stack(stack).to_json()}


def _plan(build: Callable[[cdk.Stack, str], None]) -> DeployPlan:
    """The plan of deploying `build`'s v2 over its v1."""
    return plan_update(*(_templates(build, version) for version in ANY_VERSION))


def _replaced(plan: DeployPlan) -> set[str]:
    return {change.resource.logical_id for change in plan.of("replace")}


# --- a fixed name, replaced ------------------------------------------------------------------------------------


def _role(fixed_name: bool) -> Callable[[cdk.Stack, str], None]:
    def build(stack: cdk.Stack, version: str) -> None:
        iam.Role(
            stack,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            role_name="probe-role" if fixed_name else None,
            path=f"/{version}/",  # create-only
        )

    return build


def test_a_fixed_name_resource_whose_create_only_property_changes_is_rejected() -> None:
    plan = _plan(_role(fixed_name=True))
    assert _replaced(plan) == {"Role1ABCC5F0"}
    (fault,) = plan.faults
    assert "Probe/Role1ABCC5F0 (AWS::IAM::Role)" in fault
    assert 'create-only Path changes from "/v1/" to "/v2/"' in fault
    assert 'keeps its RoleName "probe-role"' in fault


def test_a_generated_name_resource_may_be_replaced() -> None:
    plan = _plan(_role(fixed_name=False))
    assert _replaced(plan) == {"Role1ABCC5F0"}
    assert plan.faults == []


# --- a Personalize dataset, replaced ---------------------------------------------------------------------------


def _dataset(*, schema_changes: bool, dataset_name_changes: bool) -> Callable[[cdk.Stack, str], None]:
    def build(stack: cdk.Stack, version: str) -> None:
        group = personalize.CfnDatasetGroup(stack, "Group", name="probe-group")
        fields = [{"name": "ITEM_ID", "type": "string"}] + (
            [{"name": f"FIELD_{version.upper()}", "type": "string"}] if schema_changes else []
        )
        schema = personalize.CfnSchema(
            stack,
            "Schema",
            name=f"probe-items-{version}" if schema_changes else "probe-items",
            schema=json.dumps({"type": "record", "name": "Items", "fields": fields, "version": "1.0"}),
        )
        personalize.CfnDataset(
            stack,
            "Dataset",
            name=f"probe-items-{version}" if dataset_name_changes else "probe-items",
            dataset_type="Items",
            dataset_group_arn=group.attr_dataset_group_arn,
            schema_arn=schema.attr_schema_arn,
        )

    return build


def test_a_dataset_whose_schema_arn_changes_is_rejected() -> None:
    plan = _plan(_dataset(schema_changes=True, dataset_name_changes=False))
    assert _replaced(plan) == {"Schema", "Dataset"}
    assert plan.faults == [
        "Probe/Dataset (AWS::Personalize::Dataset) is replaced (create-only SchemaArn refers to replaced "
        'Probe/Schema) but keeps its Name "probe-items": the new one cannot be created beside the old one',
        "Probe/Dataset (AWS::Personalize::Dataset) is replaced (create-only SchemaArn refers to replaced "
        "Probe/Schema): a dataset group holds one dataset per type",
    ]


def test_a_renamed_dataset_is_still_one_dataset_too_many() -> None:
    plan = _plan(_dataset(schema_changes=True, dataset_name_changes=True))
    assert plan.faults == [
        "Probe/Dataset (AWS::Personalize::Dataset) is replaced (create-only Name changes from \"probe-items-v1\" to "
        '"probe-items-v2"): a dataset group holds one dataset per type'
    ]


def test_a_dataset_left_alone_is_not_touched() -> None:
    plan = _plan(_dataset(schema_changes=False, dataset_name_changes=False))
    assert plan.changes == {} and plan.faults == []


# --- a logical id renamed --------------------------------------------------------------------------------------


def test_a_renamed_logical_id_that_keeps_its_name_is_rejected() -> None:
    def build(stack: cdk.Stack, version: str) -> None:
        ssm.StringParameter(stack, f"Parameter{version}", parameter_name="/probe/name", string_value="x")

    plan = _plan(build)
    (added,) = plan.of("add")
    (removed,) = plan.of("remove")
    assert plan.faults == [
        f"{added.resource} (AWS::SSM::Parameter) is added while {removed.resource} is removed, with the same name "
        '"/probe/name": CloudFormation creates the new one before it deletes the old one'
    ]


def test_a_renamed_dataset_of_the_same_type_in_the_same_group_is_rejected() -> None:
    def build(stack: cdk.Stack, version: str) -> None:
        group_arn = "arn:aws:personalize:us-east-1:123456789012:dataset-group/probe"
        personalize.CfnDataset(
            stack, f"Users{version}", name=f"users-{version}", dataset_type="Users", dataset_group_arn=group_arn,
            schema_arn="arn:aws:personalize:us-east-1:123456789012:schema/probe",
        )

    (fault,) = _plan(build).faults
    assert "is added while Probe/Usersv1" in fault and "with the same place" in fault


# --- custom resources ------------------------------------------------------------------------------------------


def _filter_call(name: str, genre: str) -> cr.AwsSdkCall:
    return cr.AwsSdkCall(
        service="Personalize",
        action="createFilter",
        parameters={
            "name": name,
            "datasetGroupArn": "arn:aws:personalize:us-east-1:123456789012:dataset-group/probe",
            "filterExpression": f'EXCLUDE ItemID WHERE Items.GENRES IN ("{genre}")',
        },
        physical_resource_id=cr.PhysicalResourceId.from_response("filterArn"),
    )


def _aws_custom_resource(name_follows_settings: bool) -> Callable[[cdk.Stack, str], None]:
    def build(stack: cdk.Stack, version: str) -> None:
        call = _filter_call(f"probe-filter-{version}" if name_follows_settings else "probe-filter", version)
        cr.AwsCustomResource(
            stack,
            "Filter",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
            install_latest_aws_sdk=False,
        )

    return build


def test_an_aws_custom_resource_whose_update_creates_under_the_same_name_is_rejected() -> None:
    (fault,) = _plan(_aws_custom_resource(name_follows_settings=False)).faults
    assert fault.startswith("Probe/Filter")
    assert 'its Update calls Personalize.createFilter with the same name "probe-filter" as before' in fault


def test_an_aws_custom_resource_whose_update_creates_under_a_new_name_is_replaced() -> None:
    plan = _plan(_aws_custom_resource(name_follows_settings=True))
    (replaced,) = [c for c in plan.of("replace") if c.type == "Custom::AWS"]
    assert replaced.why == 'its Update calls Personalize.createFilter under the new name "probe-filter-v2"'
    assert plan.faults == []


def _provider_resource(resource_type: str) -> Callable[[cdk.Stack, str], None]:
    def build(stack: cdk.Stack, version: str) -> None:
        token = "arn:aws:lambda:us-east-1:123456789012:function:probe-provider"
        cdk.CustomResource(stack, "Thing", service_token=token, resource_type=resource_type, properties={"V": version})

    return build


def test_an_updated_custom_resource_of_an_unchecked_provider_is_rejected() -> None:
    (fault,) = _plan(_provider_resource("Custom::Probe")).faults
    assert fault.startswith("Probe/Thing (Custom::Probe) is updated (properties V change)")
    assert "add the type to CUSTOM_UPDATES_TESTED_ELSEWHERE" in fault


@pytest.mark.parametrize("resource_type", sorted(CUSTOM_UPDATES_TESTED_ELSEWHERE))
def test_an_updated_custom_resource_of_a_checked_provider_is_accepted(resource_type: str) -> None:
    plan = _plan(_provider_resource(resource_type))
    assert [c.action for c in plan.changes.values()] == ["update"] and plan.faults == []


def test_the_calls_of_an_aws_custom_resource_are_read_with_their_tokens() -> None:
    def build(stack: cdk.Stack, version: str) -> None:
        group = personalize.CfnDatasetGroup(stack, "Group", name="probe-group")
        call = cr.AwsSdkCall(
            service="Personalize", action="createSolution",
            parameters={"name": "probe", "datasetGroupArn": group.attr_dataset_group_arn},
            physical_resource_id=cr.PhysicalResourceId.from_response("solutionArn"),
        )
        cr.AwsCustomResource(
            stack, "Solution", on_create=call, on_update=call, install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
        )

    (resource,) = [r for r in _templates(build, "v1")[STACK]["Resources"].values() if r["Type"] == "Custom::AWS"]
    call = sdk_call(resource["Properties"], "Update")
    assert call is not None and call.creates and call.name == "probe"
    assert call.parameters["datasetGroupArn"] == "«{Fn::GetAtt: [Group, DatasetGroupArn]}»"


# --- references and the registry -------------------------------------------------------------------------------


def _resource(resource_type: str, **properties: Any) -> dict[str, Any]:
    return {"Type": resource_type, "Properties": properties}


def _two_stacks(schema_name: str) -> Templates:
    """A dataset whose schema lives in another stack, read through a weak reference (Fn::GetStackOutput)."""
    schema_arn = {"Fn::GetStackOutput": {"StackName": "Schemas", "OutputName": "SchemaArn", "Region": "us-east-1"}}
    return {
        "Schemas": {
            "Resources": {"Schema": _resource("AWS::Personalize::Schema", Name=schema_name, Schema="{}")},
            "Outputs": {"SchemaArn": {"Value": {"Fn::GetAtt": ["Schema", "SchemaArn"]}}},
        },
        "Datasets": {
            "Resources": {
                "Dataset": _resource("AWS::Personalize::Dataset", Name="d", DatasetType="Items", SchemaArn=schema_arn),
                "Log": _resource("AWS::Logs::LogGroup", LogGroupName={"Fn::Sub": ["/probe/${Arn}", {"Arn": schema_arn}]}),
                "Note": _resource("AWS::SSM::Parameter", Name={"Fn::Sub": "/probe/${Dataset.DatasetArn}"}, Value="x"),
            }
        },
    }


def test_replacements_are_followed_across_stacks_and_through_sub() -> None:
    plan = plan_update(_two_stacks("s-1"), _two_stacks("s-2"))
    assert {str(c.resource): c.why for c in plan.of("replace")} == {
        "Schemas/Schema": 'create-only Name changes from "s-1" to "s-2"',
        "Datasets/Dataset": "create-only SchemaArn refers to replaced Schemas/Schema",
        "Datasets/Log": "create-only LogGroupName refers to replaced Schemas/Schema",
        "Datasets/Note": "create-only Name refers to replaced Datasets/Dataset",
    }
    # Names built from a replaced resource's attributes change with it: only the dataset is a fault.
    assert [fault.split(" ")[0] for fault in plan.faults] == ["Datasets/Dataset", "Datasets/Dataset"]


def test_a_changed_type_is_a_replacement() -> None:
    before = {STACK: {"Resources": {"Thing": _resource("AWS::SQS::Queue", QueueName="probe")}}}
    after = {STACK: {"Resources": {"Thing": _resource("AWS::SNS::Topic", TopicName="probe")}}}
    (change,) = plan_update(before, after).of("replace")
    assert change.why == "type changed from AWS::SQS::Queue"


def test_every_nested_create_only_path_of_the_registry_replaces_its_resource() -> None:
    nested = sorted((t, p) for t, paths in create_only_properties().items() for p in paths if len(p) > 1 and "*" not in p)
    assert len(nested) > 100  # the registry has hundreds: a smaller number means it was not read
    for resource_type, steps in nested[:: len(nested) // 25]:
        before, after = ({STACK: {"Resources": {"R": _resource(resource_type, **_nested(steps, v))}}} for v in "ab")
        assert [c.action for c in plan_update(before, after).changes.values()] == ["replace"], (resource_type, steps)


def _nested(steps: tuple[str, ...], leaf: str) -> dict[str, Any]:
    value: Any = leaf
    for step in reversed(steps[1:]):
        value = {step: value}
    return {steps[0]: value}


def test_property_paths_read_nested_values_and_lists() -> None:
    properties = {"A": {"B": 1}, "L": [{"N": "x"}, {"N": "y"}, {}]}
    assert value_at(properties, ("A", "B")) == 1
    assert value_at(properties, ("L", "*", "N"))[:2] == ["x", "y"]
    assert value_at(properties, ("A", "C")) is value_at(properties, ("Z",)) is value_at(properties, ("L", "*", "N"))[2]


def test_the_registry_index_names_create_only_and_name_properties() -> None:
    assert ("SchemaArn",) in create_only_paths("AWS::Personalize::Dataset")
    assert name_property("AWS::Personalize::Dataset") == "Name"
    assert name_property("AWS::DynamoDB::Table") == "TableName"
    assert name_property("AWS::IAM::Policy") is None  # no create-only property: never replaced by a change
    with pytest.raises(KeyError, match="no CloudFormation registry schema for AWS::Nope::Thing"):
        create_only_paths("AWS::Nope::Thing")
