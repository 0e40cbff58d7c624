"""Custom::PersonalizeSolution through the real handler: every request type, the migration from the former
AwsCustomResource, and deletes that meet a training version (stops within the bound, or not)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from lambda_src.personalize_resources import handler
from lambda_src.personalize_resources.requests import InvalidProperties
from lambda_src.personalize_resources.solutions import TRAINING_STATUSES, solution_name_of
from lambda_src.personalize_resources.waiting import POLL_SECONDS, Deadline, WaitExpired
from pipeline_contracts.personalize_resources import SOLUTION_RESOURCE_TYPE

from .conftest import GROUP_ARN, RECIPE_ARN, REGION_PREFIX, VirtualClock, client_error, event

NAME = "pbp-dev-solution-dd2a199d"
ARN = f"{REGION_PREFIX}:solution/{NAME}"
NEW_NAME = "pbp-dev-solution-0123abcd"
NEW_ARN = f"{REGION_PREFIX}:solution/{NEW_NAME}"
VERSION = f"{ARN}/a1b2c3d4"


def properties(name: str = NAME, auto: Any = "false") -> dict[str, Any]:
    # As CloudFormation sends them: every value a string.
    return {"ServiceToken": "arn:aws:lambda:...", "Name": name, "DatasetGroupArn": GROUP_ARN,
            "RecipeArn": RECIPE_ARN, "PerformAutoTraining": auto}


def create_params(name: str = NAME, auto: bool = False) -> dict[str, Any]:
    return {"name": name, "datasetGroupArn": GROUP_ARN, "recipeArn": RECIPE_ARN, "performAutoTraining": auto,
            "performHPO": False}


def described(arn: str = ARN, auto: bool = False, version_status: str | None = None, **changes: Any) -> dict:
    solution = {"solutionArn": arn, "name": solution_name_of(arn), "datasetGroupArn": GROUP_ARN, "recipeArn": RECIPE_ARN,
                "performAutoTraining": auto, "performHPO": False, "status": "ACTIVE", **changes}
    if version_status:
        solution["latestSolutionVersion"] = {"solutionVersionArn": VERSION, "status": version_status}
    return {"solution": solution}


def run(stub_client: Any, deadline: Deadline, request: str, **extra: Any) -> dict[str, Any]:
    client, _ = stub_client
    return handler.handle(event(request, SOLUTION_RESOURCE_TYPE, extra.pop("props", properties()), **extra), client,
                          deadline)


@pytest.mark.parametrize(("sent", "flag"), [("false", False), ("true", True), (False, False), (True, True)])
def test_create_makes_the_solution_with_the_settings(personalize, deadline, sent: Any, flag: bool) -> None:
    _, stub = personalize
    stub.add_response("create_solution", {"solutionArn": ARN}, create_params(auto=flag))
    result = run(personalize, deadline, "Create", props=properties(auto=sent))
    assert result == {"PhysicalResourceId": ARN, "Data": {"solutionArn": ARN}}


def test_a_retried_create_adopts_the_same_solution(personalize, deadline) -> None:
    _, stub = personalize
    client_error(stub, "create_solution", "ResourceAlreadyExistsException", create_params())
    stub.add_response("describe_solution", described(), {"solutionArn": ARN})
    assert run(personalize, deadline, "Create")["PhysicalResourceId"] == ARN


@pytest.mark.parametrize(
    ("changes", "named"),
    [({"performAutoTraining": True}, "performAutoTraining"), ({"recipeArn": "arn:aws:personalize:::recipe/aws-sims"}, "recipeArn"),
     ({"performHPO": True}, "performHPO")],
)
def test_a_same_named_solution_with_other_settings_is_refused(personalize, deadline, changes, named: str) -> None:
    _, stub = personalize
    client_error(stub, "create_solution", "ResourceAlreadyExistsException", create_params())
    stub.add_response("describe_solution", described(**changes), {"solutionArn": ARN})
    with pytest.raises(RuntimeError, match=rf"Solution {NAME} already exists with other settings \({named} is"):
        run(personalize, deadline, "Create")


@pytest.mark.parametrize("value", ["yes", "", None, 1])
def test_an_unreadable_flag_is_refused_naming_property_and_value(personalize, deadline, value: Any) -> None:
    with pytest.raises(InvalidProperties, match=r"'PerformAutoTraining' has value .*allowed: true or false"):
        run(personalize, deadline, "Create", props=properties(auto=value))


def test_an_update_that_keeps_the_name_creates_nothing(personalize, deadline) -> None:
    """What a provider or CDK upgrade sends, and the migration from the former AwsCustomResource (its properties
    were the serialized SDK calls; its physical id the solution ARN)."""
    old = {"ServiceToken": "arn:aws:lambda:old", "Create": '{"action":"createSolution"}', "Update": "...",
           "Delete": "...", "InstallLatestAwsSdk": "false"}
    result = run(personalize, deadline, "Update", PhysicalResourceId=ARN, OldResourceProperties=old)
    assert result == {"PhysicalResourceId": ARN, "Data": {"solutionArn": ARN}}  # no call was scripted: none made


def test_an_update_with_a_new_name_creates_the_new_solution(personalize, deadline) -> None:
    """New settings -> new hash -> new name; CloudFormation then deletes the old physical id."""
    _, stub = personalize
    stub.add_response("create_solution", {"solutionArn": NEW_ARN}, create_params(NEW_NAME, auto=True))
    result = run(personalize, deadline, "Update", props=properties(NEW_NAME, "true"), PhysicalResourceId=ARN,
                 OldResourceProperties=properties())
    assert result["PhysicalResourceId"] == NEW_ARN


@pytest.mark.parametrize(
    ("physical_id", "name"),
    [(ARN, NAME), (VERSION, ""), ("request-id-1234", ""), (f"{REGION_PREFIX}:dataset/g/ITEMS", "")],
)
def test_a_physical_id_names_a_solution_only_when_it_is_a_solution_arn(physical_id: str, name: str) -> None:
    assert solution_name_of(physical_id) == name


def test_delete_with_nothing_training_deletes_at_once(personalize, deadline, clock: VirtualClock) -> None:
    _, stub = personalize
    stub.add_response("describe_solution", described(version_status="ACTIVE"), {"solutionArn": ARN})
    stub.add_response("delete_solution", {}, {"solutionArn": ARN})
    stub.add_response("describe_solution", described(status="DELETE PENDING"), {"solutionArn": ARN})
    client_error(stub, "describe_solution", "ResourceNotFoundException", {"solutionArn": ARN})
    assert run(personalize, deadline, "Delete", PhysicalResourceId=ARN) == {"PhysicalResourceId": ARN}
    assert clock.sleeps == [POLL_SECONDS, POLL_SECONDS]  # deleting, then gone


def test_delete_of_a_solution_already_gone_succeeds(personalize, deadline) -> None:
    _, stub = personalize
    client_error(stub, "describe_solution", "ResourceNotFoundException", {"solutionArn": ARN})
    run(personalize, deadline, "Delete", PhysicalResourceId=ARN)


def test_delete_after_a_failed_create_calls_nothing(personalize, deadline) -> None:
    run(personalize, deadline, "Delete", PhysicalResourceId="AWSCDK::CustomResourceProviderFramework::CREATE_FAILED")


@pytest.mark.parametrize("status", sorted(TRAINING_STATUSES))
def test_delete_stops_a_training_version_and_deletes_once_it_stopped(personalize, deadline, clock, status) -> None:
    _, stub = personalize
    stub.add_response("describe_solution", described(version_status=status), {"solutionArn": ARN})
    stub.add_response("stop_solution_version_creation", {}, {"solutionVersionArn": VERSION})
    stub.add_response("describe_solution", described(version_status="CREATE STOPPING"), {"solutionArn": ARN})
    stub.add_response("describe_solution", described(version_status="CREATE STOPPED"), {"solutionArn": ARN})
    stub.add_response("delete_solution", {}, {"solutionArn": ARN})
    client_error(stub, "describe_solution", "ResourceNotFoundException", {"solutionArn": ARN})
    run(personalize, deadline, "Delete", PhysicalResourceId=ARN)
    assert clock.sleeps == [POLL_SECONDS] * 3


def test_delete_retries_while_personalize_says_in_use(personalize, deadline, clock) -> None:
    """An older version than the latest may still be training: DeleteSolution refuses, the loop tries again."""
    _, stub = personalize
    stub.add_response("describe_solution", described(version_status="ACTIVE"), {"solutionArn": ARN})
    client_error(stub, "delete_solution", "ResourceInUseException", {"solutionArn": ARN})
    stub.add_response("describe_solution", described(version_status="ACTIVE"), {"solutionArn": ARN})
    client_error(stub, "delete_solution", "ResourceNotFoundException", {"solutionArn": ARN})
    run(personalize, deadline, "Delete", PhysicalResourceId=ARN)
    assert clock.sleeps == [POLL_SECONDS]


def _script_training_forever(stub: Stubber, looks: int) -> None:
    stub.add_response("describe_solution", described(version_status="CREATE IN_PROGRESS"), {"solutionArn": ARN})
    stub.add_response("stop_solution_version_creation", {}, {"solutionVersionArn": VERSION})
    for _ in range(looks - 1):
        stub.add_response("describe_solution", described(version_status="CREATE STOPPING"), {"solutionArn": ARN})


def test_a_version_that_stops_on_the_last_look_within_the_bound_is_deleted(personalize, deadline, clock) -> None:
    _, stub = personalize
    looks = int(deadline.seconds // POLL_SECONDS) + 1  # the look at t = bound
    _script_training_forever(stub, looks - 2)
    stub.add_response("describe_solution", described(version_status="CREATE STOPPED"), {"solutionArn": ARN})
    stub.add_response("delete_solution", {}, {"solutionArn": ARN})
    client_error(stub, "describe_solution", "ResourceNotFoundException", {"solutionArn": ARN})  # at t = bound
    run(personalize, deadline, "Delete", PhysicalResourceId=ARN)
    assert clock.now == deadline.seconds


def test_a_solution_still_deleting_at_the_bound_fails_naming_its_status(personalize, deadline, clock) -> None:
    _, stub = personalize
    stub.add_response("describe_solution", described(), {"solutionArn": ARN})
    stub.add_response("delete_solution", {}, {"solutionArn": ARN})
    for _ in range(int(deadline.seconds // POLL_SECONDS)):
        stub.add_response("describe_solution", described(status="DELETE PENDING"), {"solutionArn": ARN})
    with pytest.raises(WaitExpired, match=rf"solution {ARN} is DELETE PENDING \(its deletion was asked\)"):
        run(personalize, deadline, "Delete", PhysicalResourceId=ARN)


def test_a_version_that_does_not_stop_fails_the_delete_naming_it(personalize, deadline, clock) -> None:
    _, stub = personalize
    _script_training_forever(stub, int(deadline.seconds // POLL_SECONDS) + 1)
    with pytest.raises(WaitExpired) as raised:
        run(personalize, deadline, "Delete", PhysicalResourceId=ARN)
    message = str(raised.value)
    assert f"solution version {VERSION} is CREATE STOPPING" in message
    assert "retry the delete" in message and "CREATE STOPPING" in message.split("retry", 1)[1]
    assert clock.now == deadline.seconds  # no sleep beyond the bound


def test_the_bound_leaves_the_function_time_to_answer() -> None:
    """12 minutes at most, and always a minute before the function's own timeout."""
    assert Deadline.for_remaining_time(14 * 60 * 1000).seconds == 12 * 60
    assert Deadline.for_remaining_time(10 * 60 * 1000).seconds == 9 * 60


def test_create_update_delete_in_sequence(personalize, deadline) -> None:
    _, stub = personalize
    stub.add_response("create_solution", {"solutionArn": ARN}, create_params())
    created = run(personalize, deadline, "Create")["PhysicalResourceId"]
    stub.add_response("create_solution", {"solutionArn": NEW_ARN}, create_params(NEW_NAME, auto=True))
    updated = run(personalize, deadline, "Update", props=properties(NEW_NAME, "true"), PhysicalResourceId=created,
                  OldResourceProperties=properties())["PhysicalResourceId"]
    # CloudFormation's cleanup: Delete of the old physical id, then (teardown) of the new one.
    for arn in (created, updated):
        stub.add_response("describe_solution", described(arn), {"solutionArn": arn})
        stub.add_response("delete_solution", {}, {"solutionArn": arn})
        client_error(stub, "describe_solution", "ResourceNotFoundException", {"solutionArn": arn})
        run(personalize, deadline, "Delete", PhysicalResourceId=arn)


def test_the_lambda_entry_point_bounds_its_waits_by_the_time_left(personalize, monkeypatch) -> None:
    """on_event: a Personalize client and a deadline from the invocation's remaining time (a minute kept free)."""
    client, stub = personalize
    monkeypatch.setattr(handler.boto3, "client", lambda service: client if service == "personalize" else None)
    seen: list[float] = []
    monkeypatch.setattr(handler, "handle", lambda event, c, deadline: seen.append(deadline.seconds) or {"ok": c})
    context = type("Context", (), {"get_remaining_time_in_millis": lambda self: 5 * 60 * 1000})()
    assert handler.on_event(event("Create", SOLUTION_RESOURCE_TYPE, properties()), context) == {"ok": client}
    assert seen == [4 * 60]
