"""The data stack's Personalize custom resources, for every named configuration: each is served by the
personalize_resources handler (whose Update never creates under the same name: tests/personalize_resources), none
is an AwsCustomResource any more, Items / Users datasets are custom resources that honour the removal policy, the
default solution keeps its logical id, and the provider's IAM reaches this deployment's names only."""

from __future__ import annotations

import json
import re

from aws_cdk.assertions import Template

from pipeline_contracts.metadata_datasets import DATASET_TYPE, avro_schema
from pipeline_contracts.personalize_resources import DATASET_RESOURCE_TYPE, SOLUTION_RESOURCE_TYPE
from stacks.app_factory import PipelineApp
from stacks.personalize_filters import filter_name_pattern
from stacks.personalize import personalize_solution_name, solution_name_pattern
from stacks.personalize_provider import FORMER_SERVICE_FUNCTION_LOGICAL_ID, HANDLER
from tests.support.personalize_provider import handler_behind, provider_grants
from tests.support.templates import resources

# The logical id the default solution had as an AwsCustomResource: kept, so an upgrade updates it in place.
DEFAULT_SOLUTION_LOGICAL_ID = "PersonalizeSolutionEEF09EFE"
ARN_PREFIX = "arn:<AWS::Partition>:personalize:<AWS::Region>:<AWS::AccountId>:"


def _data(app: PipelineApp, templates: dict[str, Template]) -> dict:
    return templates[app.data_stack.stack_name].to_json()


def test_every_personalize_custom_resource_is_served_by_the_safe_handler(configured_app, configured_templates) -> None:
    for app_stack in configured_app.stacks:
        template = configured_templates[app_stack.stack_name].to_json()
        for logical_id, resource in template["Resources"].items():
            if not resource["Type"].startswith("Custom::"):
                continue
            # An AwsCustomResource carries its SDK calls (Create/Update/Delete); its Update re-runs a create.
            assert not {"Create", "Update", "Delete"} & set(resource["Properties"]), logical_id
            if resource["Type"] in (SOLUTION_RESOURCE_TYPE, DATASET_RESOURCE_TYPE):
                assert handler_behind(template, resource["Properties"]["ServiceToken"]) == HANDLER, logical_id
    data = _data(configured_app, configured_templates)
    assert len(resources(data, SOLUTION_RESOURCE_TYPE)) == len(configured_app.config.solutions)


def test_solutions_keep_the_logical_id_and_service_token_of_the_former_resource(
    configured_app, configured_templates
) -> None:
    data = _data(configured_app, configured_templates)
    solutions = resources(data, SOLUTION_RESOURCE_TYPE)
    by_name = {r["Properties"]["Name"]: (lid, r) for lid, r in solutions.items()}
    for spec in configured_app.config.solutions:
        logical_id, resource = by_name[personalize_solution_name(configured_app.config, spec)]
        construct_id = "Solution" if spec.name == "solution" else f"{spec.name}Solution"
        assert resource["Metadata"]["aws:cdk:path"].endswith(f"/Personalize/{construct_id}/Resource/Default")
        if spec.name == "solution":
            assert logical_id == DEFAULT_SOLUTION_LOGICAL_ID
        # CloudFormation refuses a changed ServiceToken: still the former provider function's (updated in place).
        assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [FORMER_SERVICE_FUNCTION_LOGICAL_ID, "Arn"]}
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Delete"


def test_metadata_datasets_are_custom_resources_with_the_configured_removal_policy(
    configured_app, configured_templates
) -> None:
    config = configured_app.config
    data = _data(configured_app, configured_templates)
    native = [r["Properties"]["DatasetType"] for r in resources(data, "AWS::Personalize::Dataset").values()]
    assert native == ["Interactions"]
    custom = {r["Properties"]["DatasetType"]: r for r in resources(data, DATASET_RESOURCE_TYPE).values()}
    assert set(custom) == {DATASET_TYPE[spec.kind] for spec in config.metadata_datasets}
    schemas = resources(data, "AWS::Personalize::Schema")
    policy = "Delete" if config.destroy_data else "Retain"
    for spec in config.metadata_datasets:
        dataset = custom[DATASET_TYPE[spec.kind]]
        properties = dataset["Properties"]
        assert properties["Name"] == config.resource_name(spec.kind)
        schema_id = properties["SchemaArn"]["Fn::GetAtt"][0]
        # The schema the handler checks a change against is the one the dataset is moved to.
        assert properties["Schema"] == schemas[schema_id]["Properties"]["Schema"]
        assert json.loads(properties["Schema"]) == avro_schema(spec)
        assert dataset["DeletionPolicy"] == dataset["UpdateReplacePolicy"] == policy


def test_solutions_wait_for_every_dataset(configured_app, configured_templates) -> None:
    data = _data(configured_app, configured_templates)
    datasets = set(resources(data, "AWS::Personalize::Dataset")) | set(resources(data, DATASET_RESOURCE_TYPE))
    for logical_id, solution in resources(data, SOLUTION_RESOURCE_TYPE).items():
        assert datasets <= set(solution.get("DependsOn", [])), logical_id


def test_the_provider_reaches_only_this_deployments_names(configured_app, configured_templates) -> None:
    config = configured_app.config
    grants = provider_grants(_data(configured_app, configured_templates))
    group = re.compile(r"^<PersonalizeDatasetGroup[0-9A-F]{8}\.DatasetGroupArn>$")
    solutions = [f"{ARN_PREFIX}solution/{personalize_solution_name(config, s)}" for s in config.solutions]
    patterns = [f"{ARN_PREFIX}solution/{solution_name_pattern(config, s.name)}" for s in config.solutions]
    group_name = config.resource_name("interactions")
    datasets = [f"{ARN_PREFIX}dataset/{group_name}/{DATASET_TYPE[s.kind].upper()}" for s in config.metadata_datasets]
    schemas = [f"{ARN_PREFIX}schema/{config.resource_name(s.kind)}-schema-????????" for s in config.metadata_datasets]
    expected = {
        "personalize:CreateSolution": solutions + ["<group>"],
        "personalize:DescribeSolution": patterns,
        "personalize:DeleteSolution": patterns,
        "personalize:StopSolutionVersionCreation": [f"{p}/*" for p in patterns],
    }
    if config.metadata_datasets:
        expected |= {
            "personalize:CreateDataset": datasets + schemas + ["<group>"],
            "personalize:UpdateDataset": datasets + schemas,
            "personalize:DescribeSchema": schemas,
            "personalize:DescribeDataset": datasets,
            "personalize:DeleteDataset": datasets,
        }
    if config.filters:  # one name pattern per filter (a changed expression is a new name: one '?' per hash digit)
        filters = [f"{ARN_PREFIX}filter/{filter_name_pattern(config, f.name)}" for f in config.filters]
        assert all(pattern.endswith("-????????") for pattern in filters)
        expected |= {
            "personalize:CreateFilter": filters + ["<group>"],
            "personalize:DescribeFilter": filters,
            "personalize:DeleteFilter": filters,
        }
    found = {
        action: sorted("<group>" if group.match(target) else target for target in targets)
        for action, targets in grants.items()
        if action.startswith("personalize:")
    }
    assert found == {action: sorted(targets) for action, targets in expected.items()}
    assert set(grants) - set(found) == {"logs:CreateLogStream", "logs:PutLogEvents"}
