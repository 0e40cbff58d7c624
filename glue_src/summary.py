"""The run's `_summary.json`: started RUNNING with the arguments and the limits, finished with the outcome."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from glue_src.arguments import EtlOptions
from glue_src.limits import (
    BATCH_INPUT_MAX_BYTES,
    BATCH_INPUT_MAX_FILES,
    MIN_EPOCH_SECONDS,
    MIN_INTERACTIONS,
    MIN_USERS_WITH_2_INTERACTIONS,
    batch_input_records_per_file,
)
from glue_src.outputs import write_text


def new_summary(options: EtlOptions, started: float, max_epoch: int) -> dict[str, Any]:
    """The summary of a run that has just started (status RUNNING): arguments, limits, output locations."""
    queries = options.item_attribute_queries
    return {
        "run_id": options.run_id,
        "status": "RUNNING",
        "failure": None,
        "message": None,
        "hints": [],
        "arguments": options.as_arguments(),
        "input": {"uri": options.input_uri, "timestamp_range_seconds": [MIN_EPOCH_SECONDS, max_epoch]},
        "counts": None,
        # The most frequent rejection reasons with their rows ([{"reason", "rows"}]), once counted.
        "main_rejections": None,
        "minimums": {
            "interactions": MIN_INTERACTIONS,
            "users_with_2plus_interactions": MIN_USERS_WITH_2_INTERACTIONS,
            "batch_input_max_bytes": BATCH_INPUT_MAX_BYTES,
            "batch_input_max_files": BATCH_INPUT_MAX_FILES,
            "batch_input_max_records_per_file": batch_input_records_per_file(),
            "met": None,
        },
        "batch_inputs": None,
        "outputs": {
            "run": options.run_uri,
            "interactions": options.interactions_uri,
            "batch_input": options.batch_input_uri if options.writes_users else None,
            **({"batch_input_items": options.batch_input_items_uri} if options.writes_items else {}),
            **(
                {"batch_input_queries": {name: options.batch_input_queries_uri(name) for name in queries}}
                if queries
                else {}
            ),
            "quarantine": options.quarantine_uri,
            "summary": options.summary_uri,
            "max_files": None,
        },
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "duration_seconds": None,
    }


def finish_summary(
    summary: dict[str, Any], started: float, failure: str | None, message: str | None, write: bool
) -> None:
    """Sets the outcome and the duration, and writes `_summary.json` when `write`."""
    summary.update(status="FAILED" if failure else "SUCCEEDED", failure=failure, message=message)
    summary["duration_seconds"] = round(time.time() - started, 3)
    if write:
        write_summary(summary, summary["outputs"]["summary"])


def minimums_message(problems: list[str], options: EtlOptions) -> str:
    """The failure message of a run whose kept data cannot train a model (`problems`, then the hints)."""
    return (
        "Kept data cannot be used by Amazon Personalize: " + "; ".join(problems) + f". See {options.summary_uri} "
        f"and the rejected rows in {options.quarantine_uri}; nothing should be imported from this run."
    )


def write_summary(summary: Mapping[str, Any], uri: str) -> None:
    """Writes the summary JSON to `s3://bucket/key` (boto3, as on Glue) or to a local path."""
    write_text(uri, json.dumps(summary, indent=2, sort_keys=False), "application/json")
