"""Text for humans and JSON for scripts (pure functions, no rich, no AWS).

Runs last from seconds (a skipped run) to many hours (training), so durations use the two most
significant units; times are shown in UTC because schedules and CloudWatch default to UTC and
operators in different time zones compare notes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["format_duration", "format_time", "iso", "OutputSummary", "summarize_output"]


def format_duration(seconds: float | None) -> str:
    """`45s`, `3m 07s`, `2h 05m`, `1d 03h`; `-` when unknown. Truncates, never rounds up."""
    if seconds is None or math.isnan(seconds):
        return "-"
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_time(value: datetime | None) -> str:
    """`2026-11-23 01:26:33 UTC`; `-` when unknown. Naive datetimes are taken as UTC."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC for JSON output (None stays None)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class OutputSummary:
    """The parts of a run's output an operator copies: resource ARNs and S3 locations."""

    arns: tuple[tuple[str, str], ...] = ()
    locations: tuple[tuple[str, str], ...] = ()
    """`s3://` URIs and values of keys ending in `prefix`/`Prefix`, with their JSON paths."""

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"arns": dict(self.arns), "locations": dict(self.locations)}


def _string_leaves(value: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(JSON path, key, text) of every string inside `value`; the key is "" for a list element."""
    if isinstance(value, dict):
        children = [(f"{path}.{key}" if path else str(key), str(key), item) for key, item in value.items()]
    elif isinstance(value, list):
        children = [(f"{path}[{index}]", "", item) for index, item in enumerate(value)]
    else:
        return
    for child, key, item in children:
        if isinstance(item, str):
            yield child, key, item
        else:
            yield from _string_leaves(item, child)


def summarize_output(output: str | None, limit: int = 20) -> OutputSummary:
    """Pick ARNs and S3 locations out of an execution's JSON output, keyed by their JSON path.

    The output's shape belongs to the state machine and will change; searching by value shape
    (`arn:`, `s3://`, `*prefix`) keeps the summary useful without a schema.
    """
    try:
        data = json.loads(output) if output else None
    except ValueError:
        return OutputSummary()
    arns: list[tuple[str, str]] = []
    locations: list[tuple[str, str]] = []
    for path, key, text in _string_leaves(data):
        if text.startswith("arn:"):
            arns.append((path, text))
        elif text.startswith("s3://") or key.lower().endswith("prefix"):
            locations.append((path, text))
    return OutputSummary(tuple(arns[:limit]), tuple(locations[:limit]))
