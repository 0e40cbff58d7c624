"""Custom::PersonalizeFilter through the real handler (botocore's Stubber checks every request against the
Personalize model): create and wait until ACTIVE, adopt a retried create, refuse a same-named filter with another
expression, an Update that keeps the name (nothing created) or brings a new one (the new filter), and deletes."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_src.personalize_resources import handler
from lambda_src.personalize_resources.waiting import POLL_SECONDS, WaitExpired
from pipeline_contracts.personalize_resources import FILTER_RESOURCE_TYPE

from .conftest import GROUP_ARN, REGION_PREFIX, client_error, event

NAME, NEW_NAME = "pbp-dev-unrated-1a2b3c4d", "pbp-dev-unrated-5e6f7a8b"
ARN, NEW_ARN = f"{REGION_PREFIX}:filter/{NAME}", f"{REGION_PREFIX}:filter/{NEW_NAME}"
EXPRESSION = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("rating")'
NEW_EXPRESSION = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("rating", "view")'


def properties(name: str = NAME, expression: str = EXPRESSION) -> dict[str, Any]:
    return {"ServiceToken": "arn:aws:lambda:...", "Name": name, "DatasetGroupArn": GROUP_ARN,
            "FilterExpression": expression}


def described(arn: str = ARN, status: str = "ACTIVE", expression: str = EXPRESSION, **more: Any) -> dict[str, Any]:
    return {"filter": {"filterArn": arn, "name": arn.rpartition("/")[2], "datasetGroupArn": GROUP_ARN,
                       "filterExpression": expression, "status": status, **more}}


def run(personalize: Any, deadline: Any, request: str, **extra: Any) -> dict[str, Any]:
    client, _ = personalize
    props = extra.pop("props", properties())
    return handler.handle(event(request, FILTER_RESOURCE_TYPE, props, **extra), client, deadline)


def test_create_makes_the_filter_and_waits_until_active(personalize, deadline) -> None:
    _, stub = personalize
    stub.add_response("create_filter", {"filterArn": ARN},
                      {"name": NAME, "datasetGroupArn": GROUP_ARN, "filterExpression": EXPRESSION})
    stub.add_response("describe_filter", described(status="CREATE PENDING"), {"filterArn": ARN})
    stub.add_response("describe_filter", described(status="CREATE IN_PROGRESS"), {"filterArn": ARN})
    stub.add_response("describe_filter", described(), {"filterArn": ARN})
    assert run(personalize, deadline, "Create") == {"PhysicalResourceId": ARN, "Data": {"filterArn": ARN}}
    stub.assert_no_pending_responses()


def test_a_failed_filter_fails_the_create_with_personalizes_reason(personalize, deadline) -> None:
    _, stub = personalize
    stub.add_response("create_filter", {"filterArn": ARN})
    stub.add_response("describe_filter", described(status="CREATE FAILED", failureReason="Invalid field GENRE"))
    with pytest.raises(RuntimeError, match=f"could not create filter {ARN}: Invalid field GENRE"):
        run(personalize, deadline, "Create")


def test_a_retried_create_adopts_the_same_filter(personalize, deadline) -> None:
    _, stub = personalize
    client_error(stub, "create_filter", "ResourceAlreadyExistsException")
    stub.add_response("describe_filter", described(), {"filterArn": ARN})
    stub.add_response("describe_filter", described(), {"filterArn": ARN})
    assert run(personalize, deadline, "Create")["PhysicalResourceId"] == ARN


def test_a_same_named_filter_with_another_expression_is_refused(personalize, deadline) -> None:
    _, stub = personalize
    client_error(stub, "create_filter", "ResourceAlreadyExistsException")
    stub.add_response("describe_filter", described(expression=NEW_EXPRESSION))
    with pytest.raises(RuntimeError, match=f"Filter {NAME} already exists with another expression"):
        run(personalize, deadline, "Create")


def test_an_update_that_keeps_the_name_creates_nothing(personalize, deadline) -> None:
    result = run(personalize, deadline, "Update", PhysicalResourceId=ARN, OldResourceProperties=properties())
    assert result["PhysicalResourceId"] == ARN  # the Stubber holds no response: any call would fail


def test_a_changed_expression_creates_the_new_filter_and_leaves_the_old_to_cloudformation(personalize, deadline) -> None:
    _, stub = personalize
    stub.add_response("create_filter", {"filterArn": NEW_ARN},
                      {"name": NEW_NAME, "datasetGroupArn": GROUP_ARN, "filterExpression": NEW_EXPRESSION})
    stub.add_response("describe_filter", described(NEW_ARN, expression=NEW_EXPRESSION), {"filterArn": NEW_ARN})
    result = run(personalize, deadline, "Update", PhysicalResourceId=ARN, OldResourceProperties=properties(),
                 props=properties(NEW_NAME, NEW_EXPRESSION))
    # A new physical id: CloudFormation sends Delete for the old filter once the deployment has switched.
    assert result == {"PhysicalResourceId": NEW_ARN, "Data": {"filterArn": NEW_ARN}}


def test_delete_waits_until_the_filter_is_gone(personalize, deadline) -> None:
    _, stub = personalize
    stub.add_response("delete_filter", {}, {"filterArn": ARN})
    stub.add_response("describe_filter", described(status="DELETE PENDING"), {"filterArn": ARN})
    client_error(stub, "describe_filter", "ResourceNotFoundException")
    assert run(personalize, deadline, "Delete", PhysicalResourceId=ARN) == {"PhysicalResourceId": ARN}
    stub.assert_no_pending_responses()


def test_delete_of_a_gone_filter_or_a_failed_create_is_fine(personalize, deadline) -> None:
    _, stub = personalize
    client_error(stub, "delete_filter", "ResourceNotFoundException")
    run(personalize, deadline, "Delete", PhysicalResourceId=ARN)
    # A create that failed before a filter existed leaves CloudFormation's request id as the physical id.
    run(personalize, deadline, "Delete", PhysicalResourceId="a-request-id")
    stub.assert_no_pending_responses()


def test_a_filter_that_stays_pending_ends_in_a_message_with_the_way_out(personalize, deadline) -> None:
    _, stub = personalize
    stub.add_response("create_filter", {"filterArn": ARN})
    for _ in range(int(deadline.seconds // POLL_SECONDS) + 1):  # every poll until the bound
        stub.add_response("describe_filter", described(status="CREATE PENDING"))
    with pytest.raises(WaitExpired, match="did not become ACTIVE in time: filter .* is CREATE PENDING. Deploy again"):
        run(personalize, deadline, "Create")
