"""Lambda entry point of the data stack's Personalize custom resources (the `on_event` handler of a CDK
`custom_resources.Provider`). Thin: the work is in `solutions` and `datasets`.

Handler string (asset root `lambda_src/`): `personalize_resources.handler.on_event`. Runtime: Python 3.13,
standard library + boto3. Properties: `pipeline_contracts.personalize_resources`.

in:  a CloudFormation custom resource event (RequestType Create | Update | Delete, ResourceType,
     ResourceProperties, OldResourceProperties on Update, PhysicalResourceId on Update and Delete)
out: {"PhysicalResourceId": <solution or dataset ARN>, "Data": {"solutionArn" | "datasetArn": <ARN>}}
     (Delete: the physical id it was given). A refusal or an expired wait raises: the provider reports the
     message to CloudFormation as the reason.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3

from pipeline_contracts import personalize_resources as props

from . import datasets, solutions
from .requests import DatasetRequest, InvalidProperties, SolutionRequest
from .waiting import Deadline

logging.getLogger().setLevel(logging.INFO)


def on_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deadline = Deadline.for_remaining_time(context.get_remaining_time_in_millis())
    return handle(event, boto3.client("personalize"), deadline)


def handle(event: dict[str, Any], client: Any, deadline: Deadline) -> dict[str, Any]:
    """Dispatches on the resource and request type; `client` is a Personalize client."""
    request_type, resource_type = event["RequestType"], event["ResourceType"]
    physical_id = event.get("PhysicalResourceId", "")
    properties = event.get("ResourceProperties", {})
    logging.info("%s %s %s", request_type, resource_type, physical_id)
    if resource_type == props.SOLUTION_RESOURCE_TYPE:
        if request_type == "Delete":
            solutions.delete_solution(client, physical_id, deadline)
            return {"PhysicalResourceId": physical_id}
        solution = SolutionRequest.of(properties)
        if request_type == "Create":
            arn = solutions.create_solution(client, solution)
        else:
            arn = solutions.update_solution(client, physical_id, solution)
        return {"PhysicalResourceId": arn, "Data": {props.SOLUTION_ARN_ATTRIBUTE: arn}}
    if resource_type == props.DATASET_RESOURCE_TYPE:
        if request_type == "Delete":
            datasets.delete_dataset(client, physical_id, deadline)
            return {"PhysicalResourceId": physical_id}
        dataset = DatasetRequest.of(properties)
        if request_type == "Create":
            arn = datasets.create_dataset(client, dataset, deadline)
        else:
            previous = event.get("OldResourceProperties", {})
            arn = datasets.update_dataset(client, physical_id, dataset, previous, deadline)
        return {"PhysicalResourceId": arn, "Data": {props.DATASET_ARN_ATTRIBUTE: arn}}
    raise InvalidProperties(
        f"ResourceType {resource_type!r} is not handled here; allowed: "
        f"{props.SOLUTION_RESOURCE_TYPE}, {props.DATASET_RESOURCE_TYPE}"
    )
