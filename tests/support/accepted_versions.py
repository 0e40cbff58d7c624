"""The data stack's accepted-versions table in moto, for the tests of the model gate and of whole runs."""

from __future__ import annotations

from typing import Any


def create_accepted_versions_table(dynamodb: Any, name: str) -> None:
    """The table with the key schema the stack gives it (checked in tests/pipeline/test_quality_gate_template.py)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
