"""Whether an Items / Users dataset may move from one schema to another (UpdateDataset), decided before any call.

Amazon Personalize ("Replacing a dataset's schema to add new columns"): the new schema keeps every field of the
previous one with the same type and attributes, and every new field allows null. Pure: schemas in, a refusal out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def allows_null(avro_type: Any) -> bool:
    return avro_type == "null" or (isinstance(avro_type, list) and "null" in avro_type)


def schema_change_refusal(dataset: str, previous: Mapping[str, Any], requested: Mapping[str, Any]) -> str | None:
    """Why `dataset` (its name) cannot move from schema `previous` to `requested` (Avro records as dicts), naming
    the field and the way out; None when Personalize allows the change."""
    before = {field["name"]: field for field in previous.get("fields", [])}
    after = {field["name"]: field for field in requested.get("fields", [])}
    for name, field in before.items():
        if name not in after:
            return (
                f"Dataset {dataset}: field {name!r} would be removed from its schema, and Personalize keeps every "
                f"field of a dataset's schema. Keep {name!r} in the configuration (metadata fields allow null, so "
                "its column may stay empty); to drop it, delete the dataset (and its data) and create it again."
            )
        if after[name] != field:
            return (
                f"Dataset {dataset}: field {name!r} would change from {_described(field)} to "
                f"{_described(after[name])}, and Personalize cannot change a field's type or attributes in place. "
                f"Keep {name!r} as it is and add the new form as a field under a new name."
            )
    for name, field in after.items():
        if name not in before and not allows_null(field.get("type")):
            return (
                f"Dataset {dataset}: new field {name!r} has type {field.get('type')!r}, which does not allow null, "
                "and Personalize adds only fields that allow null to an existing dataset. Configure it when the "
                "dataset is created (delete the dataset and create it again), or leave it out."
            )
    return None


def _described(field: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in sorted(field.items()) if key != "name")
