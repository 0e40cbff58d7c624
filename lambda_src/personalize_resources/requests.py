"""The custom resources' properties as CloudFormation sends them (every value a string), read into typed requests."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline_contracts import personalize_resources as props

ALREADY_EXISTS = "ResourceAlreadyExistsException"
NOT_FOUND = "ResourceNotFoundException"
IN_USE = "ResourceInUseException"
T = TypeVar("T")


class InvalidProperties(ValueError):
    """A property the provider cannot use; names it, its value and what is allowed."""


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


def unless_gone(call: Callable[[], T]) -> T | None:
    """call(), or None when Personalize says the resource does not exist (any more)."""
    try:
        return call()
    except Exception as error:
        if error_code(error) == NOT_FOUND:
            return None
        raise


def attempt(call: Callable[[], object], what: str) -> str | None:
    """Runs a call Personalize refuses while `what` is busy: "" when it went through, None when `what` does not
    exist (any more), "<what> is in use (<Personalize's message>)" when refused as in use."""
    try:
        call()
    except Exception as error:
        if error_code(error) == IN_USE:
            return f"{what} is in use ({error})"
        if error_code(error) == NOT_FOUND:
            return None
        raise
    return ""


def _text(properties: Mapping[str, Any], key: str) -> str:
    value = properties.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidProperties(f"Property {key!r} has value {value!r}; allowed: a non-empty string")
    return value


def _flag(properties: Mapping[str, Any], key: str) -> bool:
    value = properties.get(key)
    # CloudFormation turns a template's true/false into "true"/"false" for custom resources.
    # `is`, not `in`: 1 == True and 0 == False in Python, and neither is a flag.
    if value is True or value == "true":
        return True
    if value is False or value == "false":
        return False
    raise InvalidProperties(f"Property {key!r} has value {value!r}; allowed: true or false")


def _optional_text(properties: Mapping[str, Any], key: str) -> str | None:
    return _text(properties, key) if properties.get(key) not in (None, "") else None


@dataclass(frozen=True)
class SolutionRequest:
    name: str
    dataset_group_arn: str
    recipe_arn: str
    perform_auto_training: bool
    event_type: str | None = None
    event_value_threshold: str | None = None

    @classmethod
    def of(cls, properties: Mapping[str, Any]) -> SolutionRequest:
        return cls(
            name=_text(properties, props.NAME),
            dataset_group_arn=_text(properties, props.DATASET_GROUP_ARN),
            recipe_arn=_text(properties, props.RECIPE_ARN),
            perform_auto_training=_flag(properties, props.PERFORM_AUTO_TRAINING),
            event_type=_optional_text(properties, props.EVENT_TYPE),
            event_value_threshold=_optional_text(properties, props.EVENT_VALUE_THRESHOLD),
        )

    @property
    def training_data(self) -> dict[str, Any]:
        """CreateSolution's eventType / solutionConfig.eventValueThreshold, only when set (the API's defaults
        train on every interaction)."""
        settings: dict[str, Any] = {}
        if self.event_type:
            settings["eventType"] = self.event_type
        if self.event_value_threshold:
            settings["solutionConfig"] = {"eventValueThreshold": self.event_value_threshold}
        return settings


@dataclass(frozen=True)
class FilterRequest:
    name: str
    dataset_group_arn: str
    filter_expression: str

    @classmethod
    def of(cls, properties: Mapping[str, Any]) -> FilterRequest:
        return cls(
            name=_text(properties, props.NAME),
            dataset_group_arn=_text(properties, props.DATASET_GROUP_ARN),
            filter_expression=_text(properties, props.FILTER_EXPRESSION),
        )


@dataclass(frozen=True)
class DatasetRequest:
    name: str
    dataset_group_arn: str
    dataset_type: str
    schema_arn: str
    schema: Mapping[str, Any]

    @classmethod
    def of(cls, properties: Mapping[str, Any]) -> DatasetRequest:
        text = _text(properties, props.SCHEMA)
        try:
            schema = json.loads(text)
        except ValueError:
            raise InvalidProperties(f"Property {props.SCHEMA!r} has value {text!r}; allowed: Avro JSON") from None
        return cls(
            name=_text(properties, props.NAME),
            dataset_group_arn=_text(properties, props.DATASET_GROUP_ARN),
            dataset_type=_text(properties, props.DATASET_TYPE),
            schema_arn=_text(properties, props.SCHEMA_ARN),
            schema=schema,
        )


def sibling_arn(dataset_group_arn: str, resource: str) -> str:
    """The ARN of `resource` (e.g. "solution/<name>") in the dataset group's account and region."""
    prefix, found, _ = dataset_group_arn.partition(":dataset-group/")
    if not found:
        raise InvalidProperties(
            f"Property {props.DATASET_GROUP_ARN!r} has value {dataset_group_arn!r}; allowed: a dataset group ARN"
        )
    return f"{prefix}:{resource}"
