"""Flatten one Personalize batch `.out` file into a CSV and an errors JSON-lines file.

Pure and streaming: input is consumed block by block, output is written block by block, so
memory stays constant whatever the file size (bounded by the block size, ~1 MiB of input, and by
`max_line_bytes` for a single pathological line). Standard library (and the run layout
contract, for the output folders) only.

Input (one JSON object per line, as Personalize writes it)::

    {"input": {"userId": "u1"}, "output": {"recommendedItems": ["i1", ...], "scores": [0.1, ...]}, "error": null}
    {"input": {"itemId": "i9"}, "output": {"recommendedItems": [...]}, "error": null}          # related items
    {"input": {"userId": "u1", "itemList": [...]}, "output": {...}, "error": null}              # ranking
    {"input": {"userId": "u2"}, "error": "some failure"}                                        # errored line

Recommendations CSV (UTF-8, `\\n` line ends, RFC 4180 quoting: a field is quoted when it contains
`,` `"` `\\r` or `\\n`, with `"` doubled)::

    user_id,rank,item_id,score
    u1,1,i1,0.1

- `user_id` is the *key* of the input line: `input.userId` when present, otherwise
  `input.itemId` (related-items recipes: the column then holds the source item id). The header
  is the same for every recipe so downstream readers need one schema.
- `rank` is 1-based, in Personalize's order.
- `score` is the JSON number text exactly as Personalize wrote it (no float round trip, so no
  precision is lost or invented); empty when the recipe returns no `scores`.

That is the default *output kind*, `user_recommendations`. The others (`OutputKind`, chosen by
name or by recipe, see `OUTPUT_KINDS` / `RECIPE_KINDS`) differ only in their header, where the key
is and which list is read; everything else below holds for each:

    kind                     input lines                                   CSV header
    related_items            {"input": {"itemId": ...}, "output": {"recommendedItems", "scores"?}, "error"}
                                                                           item_id,rank,related_item_id,score
    item_affinity            {"input": {"itemId": ...}, "output": {"recommendedUsers": [...]}}
                                                                           item_id,rank,user_id
    item_attribute_affinity  {"itemAttributes": "ITEMS.genres = \\"Comedy\\"", "output": {"recommendedUsers": [...]}}
                                                                           item_attributes,rank,user_id

Segment lines (batch segment jobs) have no scores and, as documented, no `error` field (one that
is there is read as for inference). The key of an attribute-affinity line is the query text itself,
decoded, then CSV-quoted with its quotes doubled: the query is what the segment answers,
and no item id exists for it. A segment line can list up to 5 million users, so the segment kinds
accept lines up to `SEGMENT_MAX_LINE_BYTES`; memory then grows with the longest line.

Errors JSON lines (UTF-8), one object per line that produced no recommendations because it
failed::

    {"line": 7, "kind": "error", "error": "<Personalize's error>", "input": {"userId": "u2"}}
    {"line": 9, "kind": "malformed", "error": "not JSON: Expecting value: ...", "raw": "<the line>"}

`line` is the 1-based physical line number in the `.out` file. A line is *malformed* when it is
not valid UTF-8 or JSON, is not an object, lacks an `input` object with a string `userId` or
`itemId`, lacks `output.recommendedItems` as a list of strings (for other kinds: their key and
list), has `scores` that are not a list
of numbers of the same length, or is longer than `max_line_bytes` (`raw` is then cut). Blank
lines are skipped and counted apart.

Speed: the common shapes (user / related-items input with or without scores, written with
Python-style `", "` or compact separators) take a fast path made of a few bytes operations per
line (`fast_path`); every other line goes through `json` (the *slow path*, `slow_path`). Lines come
in blocks of whole lines (`blocks`); the counts of a file add up block by block (`counts`); each
kind's layout is in `kinds`. The fast path accepts a line only
when the slow path would produce byte-identical output for it; each block's emitted ids are then
verified in bulk (no `"` `,` `\\` or control character) and the block is redone line by line with
the full checks when that fails. `flatten_lines(..., fast=False)` forces the slow path, which is
what the equivalence tests compare against.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from .blocks import iter_blocks, line_blocks
from .counts import FlattenCounts
from .fast_path import ENGINES, Engine, run_block
from .kinds import HEADER, OUTPUT_KINDS, RECIPE_KINDS, OutputKind, OutputKindName, output_kind

__all__ = [
    "HEADER",
    "OUTPUT_KINDS",
    "RECIPE_KINDS",
    "FlattenCounts",
    "OutputKind",
    "OutputKindName",
    "Writer",
    "flatten_chunks",
    "flatten_lines",
    "iter_blocks",
    "output_kind",
]


class Writer(Protocol):
    def write(self, data: bytes, /) -> Any: ...


def _run(
    blocks: Iterable[tuple[bytes, int]],
    rec_out: Writer,
    err_out: Writer,
    fast: bool,
    max_line_bytes: int,
    engine: Engine,
) -> FlattenCounts:
    total = FlattenCounts()
    rec_out.write(engine.kind.header)
    line_no = 0
    careful = 0  # after a block failed the bulk check, check the next few blocks line by line
    for buf, limit in blocks:
        blk, ok = run_block(buf, limit, line_no, fast, careful > 0, max_line_bytes, engine)
        if careful:
            careful -= 1
        if not ok:
            blk, ok = run_block(buf, limit, line_no, fast, True, max_line_bytes, engine)
            careful = 8
        line_no += blk.lines_seen
        if blk.csv:
            rec_out.write(b"".join(blk.csv))
        if blk.errors:
            err_out.write(b"".join(blk.errors))
        total.add(blk.counts)
    return total


def flatten_chunks(
    chunks: Iterable[bytes],
    rec_out: Writer,
    err_out: Writer,
    *,
    fast: bool = True,
    max_line_bytes: int | None = None,
    kind: OutputKind | str | None = None,
) -> FlattenCounts:
    """Flatten a `.out` file given as byte chunks with arbitrary boundaries (e.g. 1 MiB reads of
    an S3 body). Writes the CSV (header first, even for an empty file) to `rec_out` and the
    errors JSON lines to `err_out`; both get `bytes`, one write per block. `kind` (an
    `OutputKind`, its name or a recipe name) defaults to user recommendations; `max_line_bytes`
    to the kind's own."""
    engine, max_line_bytes = _engine_and_limit(kind, max_line_bytes)
    return _run(iter_blocks(chunks, max_line_bytes), rec_out, err_out, fast, max_line_bytes, engine)


def _engine_and_limit(kind: OutputKind | str | None, max_line_bytes: int | None) -> tuple[Engine, int]:
    engine = ENGINES[kind.name if isinstance(kind, OutputKind) else output_kind(kind).name]
    return engine, engine.kind.max_line_bytes if max_line_bytes is None else max_line_bytes


def flatten_lines(
    lines: Iterable[bytes],
    rec_out: Writer,
    err_out: Writer,
    *,
    fast: bool = True,
    max_line_bytes: int | None = None,
    kind: OutputKind | str | None = None,
) -> FlattenCounts:
    """Flatten a `.out` file given as an iterable of lines (bytes, each one line, with or
    without its `\\n`), e.g. an open binary file. Same outputs as `flatten_chunks`."""
    engine, max_line_bytes = _engine_and_limit(kind, max_line_bytes)
    return _run(line_blocks(lines), rec_out, err_out, fast, max_line_bytes, engine)
