"""A DynamoDB table in moto for handler tests: one moto backend per test module, a fresh table per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.lambda_context import moto_client


def dynamodb_table_fixtures(region: str, table: str, create: Callable[[Any, str], None]) -> tuple[Any, Any]:
    """The fixtures `moto_dynamodb` (module scope: starting moto costs about half a second, a table a few
    milliseconds) and `dynamodb` (that client with a fresh `table`, made by `create(client, table)` with the key
    schema the stack gives it, deleted after the test). A conftest binds both: `moto_dynamodb, dynamodb = ...`."""

    @pytest.fixture(scope="module", name="moto_dynamodb")
    def backend() -> Iterator[Any]:
        with moto_client("dynamodb", region) as client:
            yield client

    @pytest.fixture(name="dynamodb")
    def fresh_table(moto_dynamodb: Any) -> Iterator[Any]:
        create(moto_dynamodb, table)
        yield moto_dynamodb
        moto_dynamodb.delete_table(TableName=table)

    return backend, fresh_table
