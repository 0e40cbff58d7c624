"""The summary's counts, from the cached aggregate and the users' observed metrics, and what they mean: whether
the kept data meets Personalize's training minimums, and which timestamp unit fits when most rows are out of
range. Counts add up by construction:

    rows_read = lines_read - expected_header_lines
              = kept + filtered_by_rating + filtered_by_event_type + filtered_by_age + duplicates + rejected

where `rejected` includes blank lines and repeated header lines (a header line met more than once in the same
file). The first header line of each file is expected and not counted as a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from glue_src.arguments import UNIT_NAMES
from glue_src.limits import MIN_INTERACTIONS, MIN_USERS_WITH_2_INTERACTIONS
from glue_src.rows import (
    FILTERED,
    FILTERED_AGE,
    FILTERED_EVENT,
    HEADER,
    KEPT,
    NOT_TEXT,
    REASON_OF_STATUS,
    REJECT_REASONS,
    STATUS_CODES,
    STATUSES,
    TS_OTHER_UNIT,
)


def status_counts(grouped: DataFrame) -> dict[str, Any]:
    """One small action over the (cached) aggregate: lines and groups per status, and distinct
    items of the kept interactions (groups of `kept` are distinct interactions, groups of `header`
    are files with a header)."""
    rows = (
        grouped.groupBy("status")
        .agg(F.sum("n").alias("lines"), F.count(F.lit(1)).alias("groups"), F.countDistinct("item").alias("items"))
        .collect()
    )
    metrics: dict[str, Any] = {}
    for row in rows:
        name = STATUSES[row["status"]]
        metrics[f"lines_{name}"], metrics[f"groups_{name}"] = row["lines"], row["groups"]
        if name == KEPT:
            metrics["distinct_items"] = row["items"]
    return metrics


def kept_by_event_type(grouped: DataFrame) -> dict[str, int]:
    """Kept interactions per EVENT_TYPE (a kept group of the aggregate is one interaction): one small action."""
    rows = grouped.filter(F.col("status") == STATUS_CODES[KEPT]).groupBy("event_type").count().collect()
    return {str(row["event_type"]): int(row["count"]) for row in sorted(rows, key=lambda row: str(row["event_type"]))}


def user_metrics() -> list[Column]:
    """Aggregates over the per-user counts, observed while the batch input is written."""
    return [
        F.count(F.lit(1)).alias("distinct_users"),
        F.sum(F.when(F.col("interactions") >= 2, F.lit(1))).alias("users_2plus"),
        # Bytes of the JSON lines written: {"userId":"<id>"} plus a newline (IDs are ASCII).
        F.sum(F.length("user") + 14).alias("batch_input_bytes"),
        F.sum("interactions").alias("kept"),
    ]


def assemble_counts(status: Mapping[str, Any], users: Mapping[str, Any]) -> dict[str, Any]:
    """The summary's counts from the status counts and the users' observed metrics; checks that
    they add up."""
    get = lambda metrics, key: int(metrics.get(key) or 0)  # noqa: E731  (a sum over no rows is null)
    header_lines, expected_headers = get(status, f"lines_{HEADER}"), get(status, f"groups_{HEADER}")
    rejected = dict.fromkeys(REJECT_REASONS, 0)
    for name in STATUSES[STATUS_CODES[HEADER] + 1 :]:
        if name != NOT_TEXT:  # a run with such lines fails before counting
            rejected[REASON_OF_STATUS[name]] += get(status, f"lines_{name}")
    rejected["repeated_header"] = header_lines - expected_headers
    kept = get(status, f"groups_{KEPT}")
    lines_read = sum(get(status, f"lines_{s}") for s in STATUSES)
    counts: dict[str, Any] = {
        "lines_read": lines_read,
        "header_lines": header_lines,
        "expected_header_lines": expected_headers,
        "rows_read": lines_read - expected_headers,
        "kept": kept,
        "filtered_by_rating": get(status, f"lines_{FILTERED}"),
        "filtered_by_event_type": get(status, f"lines_{FILTERED_EVENT}"),
        "filtered_by_age": get(status, f"lines_{FILTERED_AGE}"),
        "duplicates": get(status, f"lines_{KEPT}") - kept,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "timestamp_in_range_in_other_unit": get(status, f"lines_{TS_OTHER_UNIT}"),
        "distinct_users": get(users, "distinct_users"),
        "distinct_items": get(status, "distinct_items"),
        "users_with_2plus_interactions": get(users, "users_2plus"),
        "batch_input_bytes": get(users, "batch_input_bytes"),
    }
    filtered = counts["filtered_by_rating"] + counts["filtered_by_event_type"] + counts["filtered_by_age"]
    accounted = counts["kept"] + filtered + counts["duplicates"] + counts["rejected"]
    if accounted != counts["rows_read"] or get(users, "kept") != kept:  # a status missed above
        raise AssertionError(f"counts do not add up: {counts}, users: {dict(users)}")
    return counts


def check_minimums(counts: Mapping[str, Any], trained_event_types: tuple[str, ...] = ()) -> list[str]:
    """Problems that make the run unusable for training (empty when the data is fine). A solution trained on one
    event type (CreateSolution eventType) trains on those interactions only: each such type needs the minimum."""
    problems = []
    if counts["kept"] < MIN_INTERACTIONS:
        problems.append(f"{counts['kept']} interactions kept (Personalize needs at least {MIN_INTERACTIONS})")
    per_type = counts.get("kept_by_event_type") or {}
    for event_type in trained_event_types:
        if per_type.get(event_type, 0) < MIN_INTERACTIONS:
            problems.append(
                f"{per_type.get(event_type, 0)} interactions of event type {event_type!r} kept, which a solution "
                f"trains on alone (its event_type; Personalize needs at least {MIN_INTERACTIONS})"
            )
    if counts["users_with_2plus_interactions"] < MIN_USERS_WITH_2_INTERACTIONS:
        problems.append(
            f"{counts['users_with_2plus_interactions']} users with 2 or more interactions "
            f"(Personalize needs at least {MIN_USERS_WITH_2_INTERACTIONS})"
        )
    # No check of the batch input's bytes or files against one job's limits (1 GB, 1000 files):
    # batch planning splits an input over as many jobs as it needs.
    return problems


# How many rejection reasons a failure names (the most frequent first; every one is in the counts).
MAIN_REJECTIONS = 3


def main_rejections(counts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The most frequent rejection reasons, most rows first (ties in REJECT_REASONS order), at most
    MAIN_REJECTIONS of them: [{"reason": ..., "rows": ...}]; empty when no row was rejected."""
    by_reason = counts["rejected_by_reason"]
    ranked = sorted((reason for reason in by_reason if by_reason[reason]), key=lambda reason: -by_reason[reason])
    return [{"reason": reason, "rows": by_reason[reason]} for reason in ranked[:MAIN_REJECTIONS]]


def rejections_line(counts: Mapping[str, Any]) -> str | None:
    """One line naming the main rejection reasons with their counts, for a failure's message (None when no
    row was rejected): "6,002 of 6,003 rows rejected, mainly non_numeric_rating 6,001, blank_line 1"."""
    main = main_rejections(counts)
    if not main:
        return None
    named = ", ".join(f"{entry['reason']} {entry['rows']:,}" for entry in main)
    more = len([n for n in counts["rejected_by_reason"].values() if n]) - len(main)
    others = f" and {more} other reason(s)" if more else ""
    return f"{counts['rejected']:,} of {counts['rows_read']:,} rows rejected, mainly {named}{others}"


def timestamp_hint(counts: Mapping[str, Any], unit: str) -> str | None:
    """When most rows have timestamps out of range and most of those fit the other unit, which
    --timestamp_unit would read them (seconds data read as ms lands in 1970, and the reverse far
    in the future)."""
    out_of_range = counts["rejected_by_reason"]["timestamp_out_of_range"]
    other_fits = counts["timestamp_in_range_in_other_unit"]
    if not (out_of_range * 2 > counts["rows_read"] and other_fits * 2 > out_of_range):
        return None
    other = "s" if unit == "ms" else "ms"
    return (
        f"{out_of_range} of {counts['rows_read']} rows have timestamps out of range as {UNIT_NAMES[unit]} "
        f"(--timestamp_unit {unit}); {other_fits} of them are in range as {UNIT_NAMES[other]}: "
        f"run with --timestamp_unit {other}"
    )
