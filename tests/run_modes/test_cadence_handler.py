"""The modes handler with a cadence: the accepted versions come from the model gate's own table (written by its
store, read here with moto DynamoDB), their training modes from Personalize's list (stubbed)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.support.lambda_context import lambda_context, use_offline_aws

use_offline_aws("run-modes-cadence-test")

from lambda_src.model_gate.store import AcceptedVersionStore  # noqa: E402
from lambda_src.run_modes import handler  # noqa: E402

BUCKET, TABLE = "transformed-test", "accepted-versions"
RUN = "20260104T030000Z-weekly-0123456789"
SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/pbp-dev-users-0123abcd"
PARAMETER = "/pbp/dev/solutions/users/arn"
START = datetime(2026, 1, 4, 3, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """No client of one test (a moto one, a stubbed one) is cached into the next."""
    handler.client.clear()
    yield
    handler.client.clear()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    from moto import mock_aws

    with mock_aws():
        import boto3

        handler.client.clear()  # clients made inside this moto context
        monkeypatch.setenv(handler.TABLE_ENV, TABLE)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("ssm").put_parameter(Name=PARAMETER, Value=SOLUTION, Type="String")
        boto3.client("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
        )  # fmt: skip
        with Stubber(handler.client("personalize")) as stub:
            yield stub
            stub.assert_no_pending_responses()


def accept(version: str, started: datetime) -> None:
    store = AcceptedVersionStore(handler.client("dynamodb"), TABLE)
    assert store.record_accepted(f"{SOLUTION}/{version}", {}, f"run-{version}", started).recorded


def listed(stub: Stubber, modes: dict[str, str]) -> None:
    versions = [{"solutionVersionArn": f"{SOLUTION}/{v}", "status": "ACTIVE", "trainingMode": m} for v, m in modes.items()]
    stub.add_response("list_solution_versions", {"solutionVersions": versions}, {"solutionArn": SOLUTION})


def choose(execution_input: dict[str, Any] | None = None, **retrain: int) -> dict[str, Any]:
    payload = {
        "run_id": RUN, "bucket": BUCKET, "imports": {},
        "solutions": {"users": {"parameter": PARAMETER, "configured": "UPDATE", "retrain": retrain}},
        "run_started_at": START.isoformat().replace("+00:00", "Z"), "execution_input": execution_input or {},
    }  # fmt: skip
    return handler.choose_modes(payload, lambda_context("run-modes", 128))["training"]["users"]


def test_reuse_names_the_last_accepted_version_read_from_the_gates_table(aws: Stubber) -> None:
    accept("full", START - timedelta(days=10))
    accept("upd", START - timedelta(days=6))
    listed(aws, {"full": "FULL", "upd": "UPDATE"})
    decision = choose(full_every_days=28, update_every_days=6)
    assert decision["mode"] == "REUSE" and decision["solutionVersionArn"] == f"{SOLUTION}/upd"


def test_an_update_one_second_past_the_period(aws: Stubber) -> None:
    accept("full", START - timedelta(days=6, seconds=1))
    listed(aws, {"full": "FULL"})
    assert choose(full_every_days=28, update_every_days=6)["mode"] == "UPDATE"


def test_a_full_when_the_only_full_acceptance_is_past_its_period(aws: Stubber) -> None:
    accept("full", START - timedelta(days=28, seconds=1))
    accept("upd", START - timedelta(hours=1))
    listed(aws, {"full": "FULL", "upd": "UPDATE"})
    assert choose(full_every_days=28, update_every_days=6)["mode"] == "FULL"


def test_retrain_now_in_the_execution_input_trains(aws: Stubber) -> None:
    accept("full", START - timedelta(hours=1))
    listed(aws, {"full": "FULL"})
    decision = choose({"retrain_now": True}, full_every_days=28)
    assert decision["mode"] == "UPDATE" and decision["reason"].startswith("retrain_now is set")


@pytest.mark.parametrize("flag", ["true", 1, None])
def test_retrain_now_is_only_the_boolean_true(aws: Stubber, flag: Any) -> None:
    accept("full", START - timedelta(hours=1))
    listed(aws, {"full": "FULL"})
    assert choose({"retrain_now": flag}, full_every_days=28)["mode"] == "REUSE"


def test_without_the_table_the_handler_says_which_variable(aws: Stubber, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(handler.TABLE_ENV)
    listed(aws, {})
    with pytest.raises(handler.InvalidEvent, match="ACCEPTED_VERSIONS_TABLE"):
        choose(full_every_days=28)


def test_a_bad_cadence_in_the_event_is_an_invalid_event(aws: Stubber) -> None:
    with pytest.raises(handler.InvalidEvent, match=r"solutions\.users\.retrain\.full_every_days has value -1"):
        choose(full_every_days=-1)


def test_the_history_is_read_page_by_page_until_a_full_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """Newest first; the page holding the last FULL acceptance is the last one read (a third page is not asked)."""
    import boto3

    monkeypatch.setenv(handler.TABLE_ENV, TABLE)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    handler.client.clear()
    handler.client.use("dynamodb", dynamodb)

    def item(version: str, days: int) -> dict[str, Any]:
        started = (START - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {"solutionVersionArn": {"S": f"{SOLUTION}/{version}"}, "runStartedAt": {"S": started}}

    query = {
        "TableName": TABLE, "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": SOLUTION}, ":prefix": {"S": "ACCEPTED#"}},
        "ProjectionExpression": "solutionVersionArn, runStartedAt", "ScanIndexForward": False, "ConsistentRead": True,
    }  # fmt: skip
    more = {"pk": {"S": SOLUTION}, "sk": {"S": "ACCEPTED#x"}}
    with Stubber(dynamodb) as stub:
        stub.add_response("query", {"Items": [item("u2", 1)], "LastEvaluatedKey": more}, query)
        stub.add_response("query", {"Items": [item("f1", 9)], "LastEvaluatedKey": more},
                          {**query, "ExclusiveStartKey": more})  # fmt: skip
        found = handler._accepted(SOLUTION, {f"{SOLUTION}/u2": "UPDATE", f"{SOLUTION}/f1": "FULL"})
        stub.assert_no_pending_responses()
    assert [(a.solution_version_arn.rsplit("/", 1)[1], a.training_mode) for a in found] == [("u2", "UPDATE"),
                                                                                         ("f1", "FULL")]  # fmt: skip
