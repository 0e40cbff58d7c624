"""Text for humans and JSON for scripts (pure functions, no rich, no AWS).

Runs last from seconds (a skipped run) to many hours (training), so durations use the two most
significant units; times are shown in UTC because schedules and CloudWatch default to UTC and
operators in different time zones compare notes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
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
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC for JSON output (None stays None)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


@dataclass(frozen=True)
class OutputSummary:
    """The parts of a run's output an operator copies: resource ARNs and S3 locations."""

    arns: tuple[tuple[str, str], ...] = ()
    locations: tuple[tuple[str, str], ...] = ()
    """`s3://` URIs and values of keys ending in `prefix`/`Prefix`, with their JSON paths."""

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"arns": dict(self.arns), "locations": dict(self.locations)}


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

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if isinstance(item, str):
                    if item.startswith("arn:"):
                        arns.append((child, item))
                    elif item.startswith("s3://") or str(key).lower().endswith("prefix"):
                        locations.append((child, item))
                else:
                    walk(item, child)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                child = f"{path}[{i}]"
                if isinstance(item, str):
                    if item.startswith("arn:"):
                        arns.append((child, item))
                    elif item.startswith("s3://"):
                        locations.append((child, item))
                else:
                    walk(item, child)

    walk(data, "")
    return OutputSummary(tuple(arns[:limit]), tuple(locations[:limit]))
