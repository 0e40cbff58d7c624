"""The schema-change rule over every field type the configuration can generate: which of them can be added to an
existing dataset later (Personalize: new fields must allow null), and that a generated schema never changes a
field it already had."""

from __future__ import annotations

import pytest

from lambda_src.personalize_resources import handler
from lambda_src.personalize_resources.requests import InvalidProperties
from lambda_src.personalize_resources.schema_changes import allows_null, schema_change_refusal
from pipeline_contracts.metadata_datasets import (
    FIELD_TYPES,
    KINDS,
    MAX_FIELDS,
    MAX_SCHEMA_LENGTH,
    DatasetSpec,
    Field,
    avro_schema,
    parse_dataset,
    schema_text,
)
from stacks.config import ConfigError, PipelineConfig

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


def _items_with_schema_length(length: int) -> dict:
    """100 categorical items fields (the most allowed) whose generated schema has exactly `length` characters."""
    names = [f"F{index:03d}_" + "X" * 145 for index in range(MAX_FIELDS["items"])]  # 150 characters each

    def raw(candidate: list[str]) -> dict:
        return {"fields": [{"name": n, "type": "categorical"} for n in candidate],
                "sources": [{"prefix": "items/", "id_column": "id", "columns": {n: n.lower() for n in candidate}}]}

    def text_length(candidate: list[str]) -> int:
        spec = DatasetSpec("items", tuple(Field(n, "categorical") for n in candidate), ())
        return len(schema_text(spec))

    surplus = text_length(names) - length
    for index in range(len(names)):  # shorten names (one character of name = one character of schema)
        cut = min(surplus, 140)
        names[index] = names[index][: len(names[index]) - cut]
        surplus -= cut
    assert surplus == 0 and text_length(names) == length
    return raw(names)


def test_a_schema_at_personalizes_length_limit_is_accepted_and_one_past_it_refused_at_synth() -> None:
    config = PipelineConfig.from_mapping({"items_dataset": _items_with_schema_length(MAX_SCHEMA_LENGTH)})
    assert config.items_dataset is not None and len(schema_text(config.items_dataset)) == MAX_SCHEMA_LENGTH
    with pytest.raises(ConfigError) as raised:
        PipelineConfig.from_mapping({"items_dataset": _items_with_schema_length(MAX_SCHEMA_LENGTH + 1)})
    message = str(raised.value)
    assert "'items_dataset.fields' has value '100 fields whose Avro schema has 20001 characters'" in message
    assert "at most 20000 characters (Personalize's limit): shorter names" in message
