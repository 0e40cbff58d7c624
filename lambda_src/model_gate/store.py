"""Where runs keep "the last accepted solution version", with its history: a small DynamoDB table.

Why DynamoDB and not SSM Parameter Store:
- Atomicity under overlapping runs. The head item moves only through a conditional write ("no head
  yet, or the head's run started earlier than mine"), evaluated by DynamoDB atomically with the
  write. A run that started earlier but finishes later (a slow run, or a failed run redriven days
  later) is refused instead of overwriting a newer acceptance. `PutParameter` has no condition at
  all (only `Overwrite` true/false), so SSM would need read-then-write, which two runs can
  interleave; its labels do not close that gap either.
- History. One item per acceptance, in the same transaction as the head, kept for as long as the
  table lives and queryable newest first (`history`). SSM keeps the last 100 versions of a
  parameter and then drops the oldest (or refuses new writes if the oldest carries a label).
- Cost. On-demand capacity: a few reads and one transaction per weekly run, fractions of a cent a
  month; no provisioned capacity. (SSM standard parameters would be free, but that does not buy
  back the two points above.)
- KMS. DynamoDB encrypts every table at rest; the stack can give it the deployment's data key
  (customer-managed), which then needs `kms:Decrypt` (reads) and `kms:Encrypt`/`GenerateDataKey`
  (writes) for the Lambda roles. A SecureString parameter would need the same grants.

Table: partition key `pk` (S), sort key `sk` (S), on-demand. Items, all with partition key = the
solution ARN (a new solution, e.g. another recipe, starts with no accepted version, because its
metrics are not comparable):
- `sk = "LATEST"`: the head, the last accepted version.
- `sk = "ACCEPTED#<run start>#<run id>"`: one per acceptance, so a Query sorts them by run start.
Both carry `solutionVersionArn`, `metrics` (map of numbers), `runId`, `runStartedAt` (UTC,
microseconds), `acceptedAt`, `manifestUri` and `order` (`<run start>#<run id>`, the comparison key).

"Newer" means the run that *started* later (Step Functions keeps an execution's start time across a
redrive), with the run id breaking an exact tie; this is the run that trained on the newer data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, UTC
from typing import Any
from collections.abc import Mapping

from botocore.exceptions import ClientError

from .gate import AcceptedVersion

__all__ = ["AcceptedVersionStore", "RecordResult", "solution_arn_of", "normalize_timestamp", "HEAD_SORT_KEY"]

HEAD_SORT_KEY = "LATEST"
HISTORY_PREFIX = "ACCEPTED#"


def solution_arn_of(solution_version_arn: str) -> str:
    """`arn:...:solution/<name>/<version id>` -> `arn:...:solution/<name>`."""
    prefix, _, resource = solution_version_arn.rpartition(":")
    parts = resource.split("/")
    if not prefix.startswith("arn:") or ":personalize:" not in prefix or len(parts) != 3 or parts[0] != "solution":
        raise ValueError(
            f"{solution_version_arn!r} is not a Personalize solution version ARN (arn:...:solution/<name>/<id>)"
        )
    return f"{prefix}:{parts[0]}/{parts[1]}"


def normalize_timestamp(value: str | datetime) -> str:
    """An ISO 8601 instant (`$$.Execution.StartTime`, with or without fractions or offset) as a fixed-width
    UTC string, so that string order is time order."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    if value.tzinfo is None:
        raise ValueError(f"{value.isoformat()!r} has no time zone")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class RecordResult:
    recorded: bool
    reason: str
    current: AcceptedVersion | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "reason": self.reason,
            "acceptedVersionArn": self.current.solution_version_arn if self.current else None,
            "acceptedRunId": self.current.run_id if self.current else None,
        }


def _metrics_attribute(metrics: Mapping[str, float]) -> dict[str, Any]:
    return {"M": {name: {"N": repr(float(value))} for name, value in metrics.items()}}


def _item_to_version(item: Mapping[str, Any]) -> AcceptedVersion:
    def text(name: str) -> str:
        return item.get(name, {}).get("S", "")

    metrics = {name: float(value["N"]) for name, value in item.get("metrics", {}).get("M", {}).items() if "N" in value}
    return AcceptedVersion(
        solution_version_arn=text("solutionVersionArn"),
        metrics=metrics,
        run_id=text("runId"),
        run_started_at=text("runStartedAt"),
        accepted_at=text("acceptedAt"),
        manifest_uri=text("manifestUri"),
    )


class AcceptedVersionStore:
    """The accepted-version table, through a boto3 DynamoDB client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def read_last_accepted(self, solution_arn: str) -> AcceptedVersion | None:
        """The head, read consistently (a write that just succeeded is seen)."""
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": solution_arn}, "sk": {"S": HEAD_SORT_KEY}},
            ConsistentRead=True,
        ).get("Item")
        return _item_to_version(item) if item else None

    def history(self, solution_arn: str, limit: int = 20) -> list[AcceptedVersion]:
        """Acceptances, newest run first."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": solution_arn}, ":prefix": {"S": HISTORY_PREFIX}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_item_to_version(item) for item in response.get("Items", [])]

    def record_accepted(
        self,
        solution_version_arn: str,
        metrics: Mapping[str, float],
        run_id: str,
        run_started_at: str | datetime,
        *,
        manifest_uri: str = "",
        now: datetime | None = None,
    ) -> RecordResult:
        """Make `solution_version_arn` the last accepted version, unless a run that started later has
        already recorded one. Call it only after the run's output succeeded. Idempotent for one run:
        recording the same version for the same run again succeeds and changes nothing but
        `acceptedAt`."""
        if not run_id:
            raise ValueError("run_id must not be empty")
        solution_arn = solution_arn_of(solution_version_arn)
        started = normalize_timestamp(run_started_at)
        order = f"{started}#{run_id}"
        accepted_at = normalize_timestamp(now or datetime.now(UTC))
        attributes = {
            "pk": {"S": solution_arn},
            "solutionVersionArn": {"S": solution_version_arn},
            "metrics": _metrics_attribute(metrics),
            "runId": {"S": run_id},
            "runStartedAt": {"S": started},
            "acceptedAt": {"S": accepted_at},
            "manifestUri": {"S": manifest_uri},
            "order": {"S": order},
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {**attributes, "sk": {"S": HEAD_SORT_KEY}},
                            "ConditionExpression": (
                                "attribute_not_exists(pk) OR #order < :order "
                                "OR (#order = :order AND solutionVersionArn = :arn)"
                            ),
                            "ExpressionAttributeNames": {"#order": "order"},
                            "ExpressionAttributeValues": {
                                ":order": {"S": order},
                                ":arn": {"S": solution_version_arn},
                            },
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": {**attributes, "sk": {"S": HISTORY_PREFIX + order}}}},
                ]
            )
        except ClientError as error:
            if not _head_condition_failed(error):
                raise
            current = self.read_last_accepted(solution_arn)
            newer = f"{current.label()} started {current.run_started_at}" if current else "another acceptance"
            return RecordResult(
                recorded=False,
                reason=(
                    f"not recorded: {newer} is already accepted and is newer than run {run_id} "
                    f"(started {started}); {solution_version_arn} stays out of the accepted history"
                ),
                current=current,
            )
        current = AcceptedVersion(
            solution_version_arn=solution_version_arn,
            metrics=dict(metrics),
            run_id=run_id,
            run_started_at=started,
            accepted_at=accepted_at,
            manifest_uri=manifest_uri,
        )
        return RecordResult(
            recorded=True, reason=f"{current.label()} is now the last accepted version", current=current
        )


def _head_condition_failed(error: ClientError) -> bool:
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"
