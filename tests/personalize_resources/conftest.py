"""The provider's handler against botocore's Stubber (moto implements only Personalize's schema calls), with a
virtual clock: a wait costs no real time, and its bound is reached exactly where the code says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lambda_src.personalize_resources.waiting import Deadline
from tests.support.lambda_context import use_offline_aws

use_offline_aws("personalize-resources")

REGION_PREFIX = "arn:aws:personalize:us-east-1:123456789012"
GROUP_ARN = f"{REGION_PREFIX}:dataset-group/pbp-dev-interactions"
RECIPE_ARN = "arn:aws:personalize:::recipe/aws-user-personalization"


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def deadline(clock: VirtualClock) -> Deadline:
    """The production bound (Deadline.for_remaining_time of a fresh 14-minute invocation) on the virtual clock."""
    bound = Deadline.for_remaining_time(14 * 60 * 1000).seconds
    return Deadline(bound, clock=clock, sleep=clock.sleep)


@pytest.fixture
def personalize() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("personalize", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def client_error(stub: Stubber, method: str, code: str, expected: dict[str, Any] | None = None) -> None:
    stub.add_client_error(method, service_error_code=code, service_message=f"{code} (scripted)", http_status_code=400,
                          expected_params=expected)


def event(request_type: str, resource_type: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"RequestType": request_type, "ResourceType": resource_type, "ResourceProperties": properties, **extra}
