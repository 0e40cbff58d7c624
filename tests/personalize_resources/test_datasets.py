"""Custom::PersonalizeDataset through the real handler: create, create-adopt (the upgrade from
AWS::Personalize::Dataset, a retried create), an update that adds a field (UpdateDataset, waited for), updates that
remove or retype a field or add a non-null one (refused before any call), delete, and the sequence."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_src.personalize_resources import handler
from lambda_src.personalize_resources.datasets import SchemaChangeRefused
from lambda_src.personalize_resources.waiting import POLL_SECONDS, WaitExpired
from pipeline_contracts.metadata_datasets import avro_schema, parse_dataset
from pipeline_contracts.personalize_resources import DATASET_RESOURCE_TYPE

from .conftest import GROUP_ARN, REGION_PREFIX, client_error, event

NAME = "pbp-dev-items"
ARN = f"{REGION_PREFIX}:dataset/pbp-dev-interactions/ITEMS"
SCHEMA_V1 = f"{REGION_PREFIX}:schema/pbp-dev-items-schema-11111111"
SCHEMA_V2 = f"{REGION_PREFIX}:schema/pbp-dev-items-schema-22222222"


def schema(*fields: tuple[str, str]) -> dict[str, Any]:
    """The schema the data stack generates for these (name, type) fields (pipeline_contracts.avro_schema)."""
    columns = {name: name.lower() for name, _ in fields}
    spec = parse_dataset("items", {"fields": [{"name": n, "type": t} for n, t in fields],
                                   "sources": [{"prefix": "items/", "id_column": "id", "columns": columns}]})
    assert spec is not None
    return avro_schema(spec)


V1 = schema(("GENRES", "categorical"))
V2 = schema(("GENRES", "categorical"), ("YEAR", "int"))


def properties(schema_arn: str = SCHEMA_V1, fields: dict[str, Any] = V1, name: str = NAME) -> dict[str, Any]:
    return {"ServiceToken": "arn:aws:lambda:...", "Name": name, "DatasetGroupArn": GROUP_ARN, "DatasetType": "Items",
            "SchemaArn": schema_arn, "Schema": json.dumps(fields, separators=(",", ":"))}


def dataset(status: str = "ACTIVE", schema_arn: str = SCHEMA_V1, update: dict | None = None, name: str = NAME) -> dict:
    described = {"datasetArn": ARN, "name": name, "datasetType": "ITEMS", "schemaArn": schema_arn, "status": status}
    if update:
        described["latestDatasetUpdate"] = update
    return {"dataset": described}


def run(personalize, deadline, request: str, **extra: Any) -> dict[str, Any]:
    client, _ = personalize
    return handler.handle(event(request, DATASET_RESOURCE_TYPE, extra.pop("props", properties()), **extra), client,
                          deadline)


CREATE = {"name": NAME, "schemaArn": SCHEMA_V1, "datasetGroupArn": GROUP_ARN, "datasetType": "Items"}


def test_create_waits_until_active(personalize, deadline, clock) -> None:
    _, stub = personalize
    stub.add_response("create_dataset", {"datasetArn": ARN}, CREATE)
    for status in ("CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"):
        stub.add_response("describe_dataset", dataset(status), {"datasetArn": ARN})
    assert run(personalize, deadline, "Create") == {"PhysicalResourceId": ARN, "Data": {"datasetArn": ARN}}
    assert clock.sleeps == [POLL_SECONDS, POLL_SECONDS]


def test_a_failed_create_names_the_status(personalize, deadline) -> None:
    _, stub = personalize
    stub.add_response("create_dataset", {"datasetArn": ARN}, CREATE)
    stub.add_response("describe_dataset", dataset("CREATE FAILED"), {"datasetArn": ARN})
    with pytest.raises(RuntimeError, match="dataset .*ITEMS is CREATE FAILED"):
        run(personalize, deadline, "Create")


def test_create_adopts_the_groups_dataset_of_that_name_on_the_same_schema(personalize, deadline) -> None:
    """A retried create, or the upgrade from the AWS::Personalize::Dataset that made it."""
    _, stub = personalize
    client_error(stub, "create_dataset", "ResourceAlreadyExistsException", CREATE)
    stub.add_response("describe_dataset", dataset(), {"datasetArn": ARN})
    stub.add_response("describe_dataset", dataset(), {"datasetArn": ARN})
    assert run(personalize, deadline, "Create")["PhysicalResourceId"] == ARN


def test_create_adopts_and_moves_a_dataset_on_an_older_schema(personalize, deadline) -> None:
    _, stub = personalize
    client_error(stub, "create_dataset", "ResourceAlreadyExistsException", {**CREATE, "schemaArn": SCHEMA_V2})
    stub.add_response("describe_dataset", dataset(schema_arn=SCHEMA_V1), {"datasetArn": ARN})
    stub.add_response("describe_schema", {"schema": {"schemaArn": SCHEMA_V1, "schema": json.dumps(V1)}},
                      {"schemaArn": SCHEMA_V1})
    stub.add_response("describe_dataset", dataset(schema_arn=SCHEMA_V1), {"datasetArn": ARN})
    stub.add_response("update_dataset", {"datasetArn": ARN}, {"datasetArn": ARN, "schemaArn": SCHEMA_V2})
    stub.add_response("describe_dataset", dataset(update={"schemaArn": SCHEMA_V2, "status": "ACTIVE"}),
                      {"datasetArn": ARN})
    run(personalize, deadline, "Create", props=properties(SCHEMA_V2, V2))


def test_create_refuses_to_adopt_a_dataset_of_another_name(personalize, deadline) -> None:
    _, stub = personalize
    client_error(stub, "create_dataset", "ResourceAlreadyExistsException", CREATE)
    stub.add_response("describe_dataset", dataset(name="someone-elses"), {"datasetArn": ARN})
    with pytest.raises(RuntimeError, match="already has a Items dataset, 'someone-elses'"):
        run(personalize, deadline, "Create")


def test_an_update_adding_a_nullable_field_replaces_the_schema_in_place(personalize, deadline, clock) -> None:
    _, stub = personalize
    stub.add_response("describe_dataset", dataset(), {"datasetArn": ARN})
    stub.add_response("update_dataset", {"datasetArn": ARN}, {"datasetArn": ARN, "schemaArn": SCHEMA_V2})
    for status in ("UPDATE PENDING", "UPDATE IN_PROGRESS", "ACTIVE"):
        stub.add_response("describe_dataset", dataset(update={"schemaArn": SCHEMA_V2, "status": status}),
                          {"datasetArn": ARN})
    result = run(personalize, deadline, "Update", props=properties(SCHEMA_V2, V2), PhysicalResourceId=ARN,
                 OldResourceProperties=properties())
    assert result["PhysicalResourceId"] == ARN  # the same dataset: no replacement
    assert clock.sleeps == [POLL_SECONDS, POLL_SECONDS]


def test_a_failed_schema_update_reports_personalizes_reason(personalize, deadline) -> None:
    _, stub = personalize
    stub.add_response("describe_dataset", dataset(), {"datasetArn": ARN})
    stub.add_response("update_dataset", {"datasetArn": ARN}, {"datasetArn": ARN, "schemaArn": SCHEMA_V2})
    stub.add_response("describe_dataset", dataset(update={"schemaArn": SCHEMA_V2, "status": "CREATE FAILED",
                                                          "failureReason": "Field YEAR is not nullable"}),
                      {"datasetArn": ARN})
    with pytest.raises(RuntimeError, match="could not move dataset .* to schema .*: Field YEAR is not nullable"):
        run(personalize, deadline, "Update", props=properties(SCHEMA_V2, V2), PhysicalResourceId=ARN,
            OldResourceProperties=properties())


def test_an_update_waits_while_an_import_holds_the_dataset(personalize, deadline, clock) -> None:
    _, stub = personalize
    stub.add_response("describe_dataset", dataset(), {"datasetArn": ARN})
    client_error(stub, "update_dataset", "ResourceInUseException")
    stub.add_response("update_dataset", {"datasetArn": ARN}, {"datasetArn": ARN, "schemaArn": SCHEMA_V2})
    stub.add_response("describe_dataset", dataset(update={"schemaArn": SCHEMA_V2, "status": "ACTIVE"}),
                      {"datasetArn": ARN})
    run(personalize, deadline, "Update", props=properties(SCHEMA_V2, V2), PhysicalResourceId=ARN,
        OldResourceProperties=properties())
    assert clock.sleeps == [POLL_SECONDS]


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        (V2, V1, r"field 'YEAR' would be removed .* Keep 'YEAR' in the configuration"),
        (V1, schema(("GENRES", "textual")), r"field 'GENRES' would change from .*categorical=True.* to "
                                             r".*textual=True.*add the new form as a field under a new name"),
        (V2, schema(("GENRES", "categorical"), ("YEAR", "long")), r"field 'YEAR' would change from type=\['null', "
                                                                  r"'int'\] to type=\['null', 'long'\]"),
        (V1, schema(("GENRES", "categorical"), ("CREATION_TIMESTAMP", "creation_timestamp")),
         r"new field 'CREATION_TIMESTAMP' has type 'long', which does not allow null"),
    ],
)
def test_a_change_personalize_refuses_is_refused_before_any_call(personalize, deadline, before, after, message) -> None:
    with pytest.raises(SchemaChangeRefused, match=message) as raised:
        run(personalize, deadline, "Update", props=properties(SCHEMA_V2, after), PhysicalResourceId=ARN,
            OldResourceProperties=properties(SCHEMA_V1, before))
    assert f"Dataset {NAME}" in str(raised.value)
    # The Stubber has no response scripted: any call would have raised UnStubbedResponseError instead.


def test_an_update_of_other_properties_only_calls_nothing_new(personalize, deadline) -> None:
    """E.g. a new ServiceToken: the dataset is on the requested schema already."""
    _, stub = personalize
    stub.add_response("describe_dataset", dataset(), {"datasetArn": ARN})
    stub.add_response("describe_dataset", dataset(), {"datasetArn": ARN})
    old = {**properties(), "ServiceToken": "arn:aws:lambda:old"}
    assert run(personalize, deadline, "Update", PhysicalResourceId=ARN, OldResourceProperties=old)[
        "PhysicalResourceId"] == ARN


def test_delete_waits_until_the_dataset_is_gone(personalize, deadline, clock) -> None:
    _, stub = personalize
    stub.add_response("delete_dataset", {}, {"datasetArn": ARN})
    stub.add_response("describe_dataset", dataset("DELETE PENDING"), {"datasetArn": ARN})
    client_error(stub, "describe_dataset", "ResourceNotFoundException", {"datasetArn": ARN})
    assert run(personalize, deadline, "Delete", PhysicalResourceId=ARN) == {"PhysicalResourceId": ARN}
    assert clock.sleeps == [POLL_SECONDS]


def test_delete_of_a_dataset_already_gone_succeeds(personalize, deadline) -> None:
    _, stub = personalize
    client_error(stub, "delete_dataset", "ResourceNotFoundException", {"datasetArn": ARN})
    run(personalize, deadline, "Delete", PhysicalResourceId=ARN)


def test_delete_refused_past_the_bound_says_what_to_do(personalize, deadline, clock) -> None:
    _, stub = personalize
    for _ in range(int(deadline.seconds // POLL_SECONDS) + 1):
        client_error(stub, "delete_dataset", "ResourceInUseException", {"datasetArn": ARN})
    with pytest.raises(WaitExpired, match=r"Dataset .*ITEMS was not deleted in time: .* in use .* Retry once"):
        run(personalize, deadline, "Delete", PhysicalResourceId=ARN)
    assert clock.now == deadline.seconds


def test_create_update_delete_in_sequence(personalize, deadline) -> None:
    _, stub = personalize
    stub.add_response("create_dataset", {"datasetArn": ARN}, CREATE)
    stub.add_response("describe_dataset", dataset(), {"datasetArn": ARN})
    created = run(personalize, deadline, "Create")["PhysicalResourceId"]
    stub.add_response("describe_dataset", dataset(), {"datasetArn": ARN})
    stub.add_response("update_dataset", {"datasetArn": ARN}, {"datasetArn": ARN, "schemaArn": SCHEMA_V2})
    stub.add_response("describe_dataset", dataset(update={"schemaArn": SCHEMA_V2, "status": "ACTIVE"}),
                      {"datasetArn": ARN})
    updated = run(personalize, deadline, "Update", props=properties(SCHEMA_V2, V2), PhysicalResourceId=created,
                  OldResourceProperties=properties())["PhysicalResourceId"]
    assert updated == created
    stub.add_response("delete_dataset", {}, {"datasetArn": ARN})
    client_error(stub, "describe_dataset", "ResourceNotFoundException", {"datasetArn": ARN})
    run(personalize, deadline, "Delete", PhysicalResourceId=updated)
