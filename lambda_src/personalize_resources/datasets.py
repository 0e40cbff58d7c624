"""Custom::PersonalizeDataset (Items / Users): create or adopt the dataset, move it to a new schema in place
(UpdateDataset) when the configuration adds fields, delete it on removal.

The schema is not a create-only property here (it is for AWS::Personalize::Dataset, whose replacement cannot be
created beside the old dataset: a dataset group holds one dataset per type). A schema change Personalize refuses
(a field removed or retyped, a new field that does not allow null) is refused before any call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from .requests import ALREADY_EXISTS, IN_USE, DatasetRequest, error_code, sibling_arn
from .schema_changes import schema_change_refusal
from .waiting import Deadline, delete_and_wait, wait_until

LOG = logging.getLogger(__name__)
ACTIVE = "ACTIVE"


class SchemaChangeRefused(ValueError):
    """Personalize cannot apply the schema change; the message names the field and the way out."""


def dataset_arn_in_group(request: DatasetRequest) -> str:
    """A dataset's ARN is its group's name and its type: dataset/<group name>/<TYPE>."""
    group_name = request.dataset_group_arn.partition(":dataset-group/")[2]
    return sibling_arn(request.dataset_group_arn, f"dataset/{group_name}/{request.dataset_type.upper()}")


def create_dataset(client: Any, request: DatasetRequest, deadline: Deadline) -> str:
    """The ARN of the requested dataset, ACTIVE on the requested schema: created, or the group's dataset of that
    type and name adopted (a retried create, or the upgrade from AWS::Personalize::Dataset) and moved to the
    requested schema if it is on another one."""
    try:
        arn = client.create_dataset(
            name=request.name,
            schemaArn=request.schema_arn,
            datasetGroupArn=request.dataset_group_arn,
            datasetType=request.dataset_type,
        )["datasetArn"]
    except Exception as error:
        if error_code(error) != ALREADY_EXISTS:
            raise
        return _adopt(client, request, deadline)
    _wait_active(client, arn, request.schema_arn, deadline)
    return arn


def update_dataset(
    client: Any, physical_id: str, request: DatasetRequest, previous: Mapping[str, Any], deadline: Deadline
) -> str:
    """A new schema is checked against the previous one (OldResourceProperties) first, then applied in place; a
    new name, type or group is another dataset (created; CloudFormation deletes the old one afterwards)."""
    if _identity(request) != _identity(DatasetRequest.of(previous)):
        return create_dataset(client, request, deadline)
    refusal = schema_change_refusal(request.name, DatasetRequest.of(previous).schema, request.schema)
    if refusal:
        raise SchemaChangeRefused(refusal)
    current = client.describe_dataset(datasetArn=physical_id)["dataset"]
    if current.get("schemaArn") != request.schema_arn:
        _apply_schema(client, physical_id, request.schema_arn, deadline)
    _wait_active(client, physical_id, request.schema_arn, deadline)
    return physical_id


def delete_dataset(client: Any, dataset_arn: str, deadline: Deadline) -> None:
    """Deletes the dataset and waits until it is gone (its schema and group are deleted after it). Refused while
    an import or a training uses it: retried until the wait bound, then a message saying what to do."""
    if ":dataset/" not in dataset_arn:
        LOG.info("Physical id %r names no dataset: nothing to delete", dataset_arn)
        return
    delete_and_wait(
        deadline,
        what=f"dataset {dataset_arn}",
        delete=lambda: client.delete_dataset(datasetArn=dataset_arn),
        describe=lambda: client.describe_dataset(datasetArn=dataset_arn)["dataset"],
        way_out=lambda still: (
            f"Dataset {dataset_arn} was not deleted in time: {still}. Retry once the dataset's import jobs and "
            "solution versions have finished (aws personalize list-dataset-import-jobs --dataset-arn "
            f"{dataset_arn})."
        ),
    )


def _identity(request: DatasetRequest) -> tuple[str, str, str]:
    return request.name, request.dataset_group_arn, request.dataset_type


def _adopt(client: Any, request: DatasetRequest, deadline: Deadline) -> str:
    arn = dataset_arn_in_group(request)
    existing = client.describe_dataset(datasetArn=arn)["dataset"]
    if existing.get("name") != request.name:
        raise RuntimeError(
            f"The dataset group already has a {request.dataset_type} dataset, {existing.get('name')!r} ({arn}), not "
            f"{request.name!r}. A group holds one dataset per type: delete that dataset to let this stack create "
            "its own."
        )
    LOG.info("Adopting the existing dataset %s", arn)
    if existing.get("schemaArn") != request.schema_arn:
        schema = client.describe_schema(schemaArn=existing["schemaArn"])["schema"]
        refusal = schema_change_refusal(request.name, json.loads(schema["schema"]), request.schema)
        if refusal:
            raise SchemaChangeRefused(refusal)
        _wait_active(client, arn, existing["schemaArn"], deadline)
        _apply_schema(client, arn, request.schema_arn, deadline)
    _wait_active(client, arn, request.schema_arn, deadline)
    return arn


def _apply_schema(client: Any, dataset_arn: str, schema_arn: str, deadline: Deadline) -> None:
    """UpdateDataset; refused while the dataset is busy (an import, a training): retried until the bound."""

    def pending() -> str | None:
        try:
            client.update_dataset(datasetArn=dataset_arn, schemaArn=schema_arn)
        except Exception as error:
            if error_code(error) == IN_USE:
                return f"dataset {dataset_arn} is in use ({error})"
            raise
        LOG.info("Dataset %s moves to schema %s", dataset_arn, schema_arn)
        return None

    wait_until(
        deadline,
        pending,
        lambda still: f"Schema of dataset {dataset_arn} not replaced: {still}. Deploy again once the run's imports "
        "and trainings have finished.",
    )


def _wait_active(client: Any, dataset_arn: str, schema_arn: str, deadline: Deadline) -> None:
    """Until the dataset is ACTIVE on `schema_arn` (and its latest update, when that is the move to `schema_arn`,
    ACTIVE too); a failed create, or a failed move to `schema_arn`, raises with Personalize's failureReason."""

    def pending() -> str | None:
        dataset = client.describe_dataset(datasetArn=dataset_arn)["dataset"]
        status = dataset.get("status", "")
        update = dataset.get("latestDatasetUpdate") or {}
        to_target = update.get("schemaArn") == schema_arn
        if "FAILED" in status:
            raise RuntimeError(f"Personalize dataset {dataset_arn} is {status}")
        if to_target and "FAILED" in update.get("status", ""):
            reason = update.get("failureReason") or "no reason given"
            raise RuntimeError(f"Personalize could not move dataset {dataset_arn} to schema {schema_arn}: {reason}")
        if status != ACTIVE:
            return f"dataset {dataset_arn} is {status}"
        if to_target:
            return None if update.get("status") == ACTIVE else f"its schema update is {update.get('status')}"
        if dataset.get("schemaArn") != schema_arn:
            return f"dataset {dataset_arn} is still on schema {dataset.get('schemaArn')}"
        return None

    wait_until(
        deadline,
        pending,
        lambda still: f"Dataset {dataset_arn} did not become ACTIVE on {schema_arn} in time: {still}. Deploy "
        "again: the next attempt adopts the dataset and waits anew.",
    )
