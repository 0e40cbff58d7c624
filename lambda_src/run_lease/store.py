"""The lease item in its DynamoDB table: every write is conditional, every read consistent.

Table (names in `pipeline_contracts.run_lease`): partition key `pk` (S), on-demand, TTL on `expiresAt` (DynamoDB
deletes an expired lease within days; the guard never relies on that, it compares `expiresAt` itself). One item,
`pk` = `LEASE_ID`, with `holder` (the execution ARN), `expiresAt` (N, epoch seconds), `startedAt` (the holder's
start) and `acquiredAt` (when it took the lease).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline_contracts.run_lease import EXPIRY_ATTRIBUTE, KEY_ATTRIBUTE

from .lease import LEASE_ID, Lease

__all__ = ["LeaseTable"]

CONDITION_FAILED = "ConditionalCheckFailedException"


def _refused(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == CONDITION_FAILED


class LeaseTable:
    """`put_if_absent`, `replace`, `delete_if_held_by` return False when their condition does not hold."""

    def __init__(self, client: Any, table: str) -> None:
        self._client, self._table = client, table
        self._key = {KEY_ATTRIBUTE: {"S": LEASE_ID}}

    @staticmethod
    def _item(lease: Lease, now: str) -> dict[str, Any]:
        return {
            KEY_ATTRIBUTE: {"S": LEASE_ID},
            "holder": {"S": lease.holder},
            EXPIRY_ATTRIBUTE: {"N": str(lease.expires_at)},
            "startedAt": {"S": lease.started_at},
            "acquiredAt": {"S": now},
        }

    def _conditional(self, call: Any, **request: Any) -> bool:
        try:
            call(TableName=self._table, **request)
        except ClientError as error:
            if _refused(error):
                return False
            raise
        return True

    def put_if_absent(self, lease: Lease, now: str) -> bool:
        return self._conditional(
            self._client.put_item,
            Item=self._item(lease, now),
            ConditionExpression=f"attribute_not_exists({KEY_ATTRIBUTE})",
        )

    def replace(self, old: Lease, new: Lease, now: str) -> bool:
        """Writes `new` only if `old` (same holder, same expiry) is still the lease: of two executions taking over
        the same stale lease, one wins."""
        return self._conditional(
            self._client.put_item,
            Item=self._item(new, now),
            ConditionExpression=f"holder = :old_holder AND {EXPIRY_ATTRIBUTE} = :old_expiry",
            ExpressionAttributeValues={
                ":old_holder": {"S": old.holder},
                ":old_expiry": {"N": str(old.expires_at)},
            },
        )

    def read(self) -> Lease | None:
        item = self._client.get_item(TableName=self._table, Key=self._key, ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return None
        return Lease(
            holder=item["holder"]["S"], expires_at=int(item[EXPIRY_ATTRIBUTE]["N"]), started_at=item["startedAt"]["S"]
        )

    def delete_if_held_by(self, holder: str) -> bool:
        return self._conditional(
            self._client.delete_item,
            Key=self._key,
            ConditionExpression="holder = :holder",
            ExpressionAttributeValues={":holder": {"S": holder}},
        )
