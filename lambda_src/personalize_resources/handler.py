"""Lambda entry point of the data stack's Personalize custom resources (the `on_event` handler of a CDK
`custom_resources.Provider`). Thin: the work is in `solutions`, `datasets` and `filters`.

Handler string (asset root `lambda_src/`): `personalize_resources.handler.on_event`. Runtime: Python 3.13,
standard library + boto3. Properties: `pipeline_contracts.personalize_resources`.

in:  a CloudFormation custom resource event (RequestType Create | Update | Delete, ResourceType,
     ResourceProperties, OldResourceProperties on Update, PhysicalResourceId on Update and Delete)
out: {"PhysicalResourceId": <solution, dataset or filter ARN>,
      "Data": {"solutionArn" | "datasetArn" | "filterArn": <ARN>}}
     (Delete: the physical id it was given). A refusal or an expired wait raises: the provider reports the
     message to CloudFormation as the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from pipeline_contracts import personalize_resources as props

from . import datasets, filters, solutions
from .requests import DatasetRequest, FilterRequest, InvalidProperties, SolutionRequest
from .waiting import Deadline

logging.getLogger().setLevel(logging.INFO)


def on_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deadline = Deadline.for_remaining_time(context.get_remaining_time_in_millis())
    return handle(event, boto3.client("personalize"), deadline)


@dataclass(frozen=True)
class _Resource:
    """What each request does to one custom resource type (properties as CloudFormation sends them)."""

    create: Callable[[Any, Mapping[str, Any], Deadline], str]
    update: Callable[[Any, str, Mapping[str, Any], Mapping[str, Any], Deadline], str]
    delete: Callable[[Any, str, Deadline], None]
    arn_attribute: str


_RESOURCES = {
    props.SOLUTION_RESOURCE_TYPE: _Resource(
        create=lambda client, properties, _: solutions.create_solution(client, SolutionRequest.of(properties)),
        update=lambda client, physical_id, properties, _previous, _: solutions.update_solution(
            client, physical_id, SolutionRequest.of(properties)
        ),
        delete=solutions.delete_solution,
        arn_attribute=props.SOLUTION_ARN_ATTRIBUTE,
    ),
    props.DATASET_RESOURCE_TYPE: _Resource(
        create=lambda client, properties, deadline: datasets.create_dataset(
            client, DatasetRequest.of(properties), deadline
        ),
        update=lambda client, physical_id, properties, previous, deadline: datasets.update_dataset(
            client, physical_id, DatasetRequest.of(properties), previous, deadline
        ),
        delete=datasets.delete_dataset,
        arn_attribute=props.DATASET_ARN_ATTRIBUTE,
    ),
    props.FILTER_RESOURCE_TYPE: _Resource(
        create=lambda client, properties, deadline: filters.create_filter(
            client, FilterRequest.of(properties), deadline
        ),
        update=lambda client, physical_id, properties, _previous, deadline: filters.update_filter(
            client, physical_id, FilterRequest.of(properties), deadline
        ),
        delete=filters.delete_filter,
        arn_attribute=props.FILTER_ARN_ATTRIBUTE,
    ),
}


def handle(event: dict[str, Any], client: Any, deadline: Deadline) -> dict[str, Any]:
    """Dispatches on the resource and request type; `client` is a Personalize client."""
    request_type, resource_type = event["RequestType"], event["ResourceType"]
    physical_id = event.get("PhysicalResourceId", "")
    logging.info("%s %s %s", request_type, resource_type, physical_id)
    resource = _RESOURCES.get(resource_type)
    if resource is None:
        raise InvalidProperties(f"ResourceType {resource_type!r} is not handled here; allowed: {', '.join(_RESOURCES)}")
    if request_type == "Delete":
        resource.delete(client, physical_id, deadline)
        return {"PhysicalResourceId": physical_id}
    properties = event.get("ResourceProperties", {})
    if request_type == "Create":
        arn = resource.create(client, properties, deadline)
    else:
        arn = resource.update(client, physical_id, properties, event.get("OldResourceProperties", {}), deadline)
    return {"PhysicalResourceId": arn, "Data": {resource.arn_attribute: arn}}
