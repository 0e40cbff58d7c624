"""The output kinds of a batch job: what its `.out` lines look like and which CSV each becomes (`OUTPUT_KINDS`,
chosen by name or by recipe: `output_kind`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypedDict, get_args

from pipeline_contracts import run_layout


HEADER = b"user_id,rank,item_id,score\n"
DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024
"""A Personalize line is ~1 KB for 25 results and ~40 KB at the 500-result maximum."""
SEGMENT_MAX_LINE_BYTES = 256 * 1024 * 1024
"""A batch segment line lists up to 5 million users (`numResults`): ~60 MB with 8-digit ids.
Such a line is held whole while it is converted (about 10x its size at peak), so segment jobs with
millions of users per segment need the function's memory raised accordingly."""

OutputKindName = Literal["user_recommendations", "related_items", "item_affinity", "item_attribute_affinity"]


@dataclass(frozen=True)
class OutputKind:
    """What one kind of batch output looks like and which CSV it becomes.

    `key_fields`: where the line's key is: names tried in order inside `input` (the first one
    present wins), or, when `key_in_input` is false, the one top-level field that holds the query
    (item-attribute affinity writes `{"itemAttributes": "...", "output": ...}` without `input`).
    `scored`: the CSV has a `score` column (empty when a line has no `scores`); segment jobs return
    users without scores. `error_field`: the fast layout ends with `"error": null` (batch inference
    writes it; the documented segment output has no such field: a line that has one takes the
    json path, which reads it the same way). `folder`: where its CSVs go in the run (ends with
    "/"; each kind's folder is the run layout's)."""

    name: OutputKindName
    header: bytes
    key_fields: tuple[str, ...]
    list_field: str
    key_in_input: bool = True
    scored: bool = True
    error_field: bool = True
    folder: str = run_layout.RECOMMENDATIONS
    job_type: Literal["batch_inference", "batch_segment"] = "batch_inference"
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES

    def input_of(self, obj: dict[str, Any]) -> Any:
        """What an errors record reports as the line's input."""
        if self.key_in_input:
            return obj.get("input")
        return {name: obj.get(name) for name in self.key_fields}


class _KindSettings(TypedDict):
    scored: bool
    error_field: bool
    folder: str
    job_type: Literal["batch_inference", "batch_segment"]
    max_line_bytes: int


_SEGMENT: _KindSettings = {
    "scored": False,
    "error_field": False,
    "folder": run_layout.SEGMENTS,
    "job_type": "batch_segment",
    "max_line_bytes": SEGMENT_MAX_LINE_BYTES,
}
OUTPUT_KINDS: dict[str, OutputKind] = {
    kind.name: kind
    for kind in (
        # The key column is `user_id` whatever the input (`userId`, or `itemId` for related items
        # run through this kind, as before kinds existed): one schema for today's readers.
        OutputKind("user_recommendations", HEADER, ("userId", "itemId"), "recommendedItems"),
        OutputKind("related_items", b"item_id,rank,related_item_id,score\n", ("itemId",), "recommendedItems",
                   folder=run_layout.RELATED_ITEMS),
        OutputKind("item_affinity", b"item_id,rank,user_id\n", ("itemId",), "recommendedUsers", **_SEGMENT),
        # The key is the query itself (`ITEMS.genres = "Comedy"`), CSV-quoted: it usually holds quotes.
        OutputKind("item_attribute_affinity", b"item_attributes,rank,user_id\n", ("itemAttributes",),
                   "recommendedUsers", key_in_input=False, **_SEGMENT),
    )
}
assert set(OUTPUT_KINDS) == set(get_args(OutputKindName))

RECIPE_KINDS: dict[str, OutputKindName] = {
    "aws-user-personalization": "user_recommendations",
    "aws-user-personalization-v2": "user_recommendations",
    "aws-similar-items": "related_items",
    "aws-sims": "related_items",
    "aws-item-affinity": "item_affinity",
    "aws-item-attribute-affinity": "item_attribute_affinity",
}


def output_kind(name: str | None) -> OutputKind:
    """The kind called `name` (a kind name or a recipe name); None means user recommendations."""
    if name is None:
        return OUTPUT_KINDS["user_recommendations"]
    kind = OUTPUT_KINDS.get(RECIPE_KINDS.get(name, name))
    if kind is None:
        allowed = f"{', '.join(OUTPUT_KINDS)} or a recipe: {', '.join(RECIPE_KINDS)}"
        raise ValueError(f"unknown output kind {name!r}; allowed: {allowed}")
    return kind
