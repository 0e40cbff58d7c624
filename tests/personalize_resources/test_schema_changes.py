"""The schema-change rule over every field type the configuration can generate: which of them can be added to an
existing dataset later (Personalize: new fields must allow null), and that a generated schema never changes a
field it already had."""

from __future__ import annotations

import pytest

from lambda_src.personalize_resources import handler
from lambda_src.personalize_resources.requests import InvalidProperties
from lambda_src.personalize_resources.schema_changes import allows_null, schema_change_refusal
from pipeline_contracts.metadata_datasets import FIELD_TYPES, KINDS, avro_schema, parse_dataset

from .conftest import event


def _schema(kind: str, fields: list[tuple[str, str]]) -> dict:
    spec = parse_dataset(kind, {"fields": [{"name": n, "type": t} for n, t in fields],  # type: ignore[arg-type]
                                "sources": [{"prefix": f"{kind}/", "id_column": "id",
                                             "columns": {n: n.lower() for n, _ in fields}}]})
    assert spec is not None
    return avro_schema(spec)


def _addable(kind: str) -> list[str]:
    return [t for t in FIELD_TYPES if kind == "items" or t not in ("textual", "creation_timestamp")]


@pytest.mark.parametrize(("kind", "field_type"), [(k, t) for k in KINDS for t in _addable(k)])
def test_each_generated_field_type_can_be_added_later_unless_it_cannot_be_null(kind: str, field_type: str) -> None:
    name = "CREATION_TIMESTAMP" if field_type == "creation_timestamp" else "ADDED"
    before = _schema(kind, [("BASE", "categorical")])
    after = _schema(kind, [("BASE", "categorical"), (name, field_type)])
    refusal = schema_change_refusal("d", before, after)
    added = after["fields"][-1]
    # Only CREATION_TIMESTAMP (Personalize reserves it as a non-null long) is generated without null.
    assert allows_null(added["type"]) is (field_type != "creation_timestamp")
    assert (refusal is None) is (field_type != "creation_timestamp"), refusal


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_field_list_is_no_change_and_reordering_keeps_every_field(kind: str) -> None:
    fields = [("A", "categorical"), ("B", "int")]
    assert schema_change_refusal("d", _schema(kind, fields), _schema(kind, fields)) is None
    assert schema_change_refusal("d", _schema(kind, fields), _schema(kind, fields[::-1])) is None


def test_an_unknown_resource_type_is_refused_naming_the_handled_ones() -> None:
    with pytest.raises(InvalidProperties, match=r"'Custom::Other' is not handled here; allowed: "
                                                r"Custom::PersonalizeSolution, Custom::PersonalizeDataset"):
        handler.handle(event("Create", "Custom::Other", {}), client=None, deadline=None)  # type: ignore[arg-type]


def test_an_unreadable_schema_property_is_refused(personalize, deadline) -> None:
    client, _ = personalize
    props = {"Name": "n", "DatasetGroupArn": "arn:aws:personalize:r:1:dataset-group/g", "DatasetType": "Items",
             "SchemaArn": "arn:s", "Schema": "{not json"}
    with pytest.raises(InvalidProperties, match=r"'Schema' has value '\{not json'; allowed: Avro JSON"):
        handler.handle(event("Create", "Custom::PersonalizeDataset", props), client, deadline)
