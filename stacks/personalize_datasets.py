"""Items / Users datasets (`items_dataset`, `users_dataset`): a schema generated from the config (CfnSchema: immutable,
hash-named) and a `Custom::PersonalizeDataset` that moves the dataset to a new schema in place.

An `AWS::Personalize::Dataset` cannot: its SchemaArn is create-only, so a new field replaced the dataset, whose
replacement could not be created beside the old one (a dataset group holds one dataset per type). The custom
resource calls UpdateDataset instead, after checking the change against Personalize's rules (fields kept with the
same type and attributes, new fields nullable). The replaced schema is deleted by CloudFormation afterwards, once
no dataset refers to it (DeleteSchema refuses a schema a dataset still uses).
"""

from __future__ import annotations

import hashlib
import json

from aws_cdk import CustomResource, RemovalPolicy, Stack
from aws_cdk import aws_personalize as personalize
from constructs import Construct

from pipeline_contracts import personalize_resources as props
from pipeline_contracts.metadata_datasets import DATASET_TYPE, DatasetSpec, avro_schema, schema_text
from stacks.config import PipelineConfig
from stacks.personalize_provider import PersonalizeResourceProvider

SCHEMA_TAG_LENGTH = 8


def schema_tag(spec: DatasetSpec) -> str:
    """8 hex digits of a metadata schema: schemas are immutable, so a changed field list gets a new name."""
    return hashlib.sha256(json.dumps(avro_schema(spec), sort_keys=True).encode()).hexdigest()[:SCHEMA_TAG_LENGTH]


def metadata_datasets(
    scope: Construct,
    *,
    config: PipelineConfig,
    dataset_group: personalize.CfnDatasetGroup,
    provider: PersonalizeResourceProvider,
    removal_policy: RemovalPolicy,
) -> dict[str, CustomResource]:
    """kind -> the dataset resource of each configured Items / Users dataset (its Ref is the dataset ARN). They are
    encrypted with the data key through the dataset group, like the interactions dataset."""
    stack = Stack.of(scope)
    group_name = config.resource_name("interactions")
    datasets: dict[str, CustomResource] = {}
    for spec in config.metadata_datasets:
        dataset_type = DATASET_TYPE[spec.kind]
        text = schema_text(spec)
        schema = personalize.CfnSchema(
            scope,
            f"{dataset_type}Schema",
            name=config.resource_name(f"{spec.kind}-schema-{schema_tag(spec)}"),
            schema=text,
        )
        schema.apply_removal_policy(removal_policy)
        # A new construct id: CloudFormation cannot change the type of an existing resource (the former
        # AWS::Personalize::Dataset `<Type>Dataset`); README "Upgrading metadata datasets".
        dataset = CustomResource(
            scope,
            f"{dataset_type}MetadataDataset",
            service_token=provider.service_token,
            resource_type=props.DATASET_RESOURCE_TYPE,
            properties={
                props.NAME: config.resource_name(spec.kind),
                props.DATASET_GROUP_ARN: dataset_group.attr_dataset_group_arn,
                props.DATASET_TYPE: dataset_type,
                props.SCHEMA_ARN: schema.attr_schema_arn,
                props.SCHEMA: text,
            },
            # RETAIN: CloudFormation sends no Delete (DeletionPolicy Retain), the dataset and its data stay.
            removal_policy=removal_policy,
        )
        dataset_arn = stack.format_arn(
            service="personalize", resource="dataset", resource_name=f"{group_name}/{dataset_type.upper()}"
        )
        schema_pattern = stack.format_arn(
            service="personalize",
            resource="schema",
            resource_name=config.resource_name(f"{spec.kind}-schema-{'?' * SCHEMA_TAG_LENGTH}"),
        )
        reason = (
            f"The {dataset_type} schema's name carries a hash of its fields (a new field list is a new schema); the "
            "pattern matches this dataset's schemas only (one '?' per hash character)."
        )
        provider.allow(
            ["personalize:CreateDataset"], [dataset_group.attr_dataset_group_arn, dataset_arn, schema_pattern], reason
        )
        provider.allow(["personalize:UpdateDataset"], [dataset_arn, schema_pattern], reason)
        provider.allow(["personalize:DescribeSchema"], [schema_pattern], reason)
        provider.allow(["personalize:DescribeDataset", "personalize:DeleteDataset"], [dataset_arn])
        datasets[spec.kind] = dataset
    return datasets
