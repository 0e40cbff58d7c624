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
line; every other line goes through `json` (the *slow path*). The fast path accepts a line only
when the slow path would produce byte-identical output for it; each block's emitted ids are then
verified in bulk (no `"` `,` `\\` or control character) and the block is redone line by line with
the full checks when that fails. `flatten_lines(..., fast=False)` forces the slow path, which is
what the equivalence tests compare against.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, get_args

from pipeline_contracts import run_layout

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
RAW_EXCERPT_BYTES = 64 * 1024
"""How much of a malformed line goes into the errors output."""
BLOCK_BYTES = 1024 * 1024
"""`flatten_lines` groups lines into blocks of about this size (the unit of bulk verification);
`flatten_chunks` uses the chunks it is given (1 MiB reads in the handler)."""


class Writer(Protocol):
    def write(self, data: bytes, /) -> Any: ...


@dataclass
class FlattenCounts:
    """What one file produced. `errored_lines` counts every line written to the errors output
    (Personalize errors *and* malformed lines); `malformed_lines` is the malformed part of it."""

    lines: int = 0
    users_with_recommendations: int = 0
    items_written: int = 0
    errored_lines: int = 0
    malformed_lines: int = 0
    blank_lines: int = 0
    fast_path_lines: int = 0
    items_per_user: dict[int, int] = field(default_factory=dict)
    """Histogram over lines that succeeded: number of recommended items -> number of lines."""

    def add(self, other: FlattenCounts) -> None:
        self.lines += other.lines
        self.users_with_recommendations += other.users_with_recommendations
        self.items_written += other.items_written
        self.errored_lines += other.errored_lines
        self.malformed_lines += other.malformed_lines
        self.blank_lines += other.blank_lines
        self.fast_path_lines += other.fast_path_lines
        hist = self.items_per_user
        for n, k in other.items_per_user.items():
            hist[n] = hist.get(n, 0) + k

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "users_with_recommendations": self.users_with_recommendations,
            "items_written": self.items_written,
            "errored_lines": self.errored_lines,
            "malformed_lines": self.malformed_lines,
            "blank_lines": self.blank_lines,
            "fast_path_lines": self.fast_path_lines,
            # JSON object keys are strings; sorted by item count.
            "items_per_user": {str(n): self.items_per_user[n] for n in sorted(self.items_per_user)},
        }


# --------------------------------------------------------------------------------------------
# Cutting a byte stream into blocks of whole lines


def iter_blocks(chunks: Iterable[bytes], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[tuple[bytes, int]]:
    """Re-cut byte chunks with arbitrary boundaries into blocks `(buf, limit)` where
    `buf[:limit]` is whole lines, each ending with `\n` (one is added to a last line without).
    No per-line objects are made here. A line longer than `max_line_bytes` is passed on cut to
    `max_line_bytes + 1` bytes (so the consumer can tell) and the rest of it is skipped without
    being held in memory. The pieces of a line longer than a chunk (a segment line can be tens of
    MB) are joined once, when its end arrives, not once per chunk."""
    parts: list[bytes] = []  # the unfinished line, in pieces
    pending = 0
    skipping = False
    for chunk in chunks:
        if not chunk:
            continue
        if skipping:
            k = chunk.find(b"\n")
            if k < 0:
                continue
            chunk = chunk[k + 1 :]
            skipping = False
            if not chunk:
                continue
        cut = chunk.rfind(b"\n") + 1
        if cut:
            if parts:
                parts.append(chunk)
                data = b"".join(parts)
                cut += pending
            else:
                data = chunk
            yield data, cut
            carry = data[cut:]
            parts = [carry] if carry else []
            pending = len(carry)
        else:
            parts.append(chunk)
            pending += len(chunk)
        if pending > max_line_bytes:
            yield b"".join(parts)[: max_line_bytes + 1] + b"\n", max_line_bytes + 2
            parts = []
            pending = 0
            skipping = True
    if parts and not skipping:
        carry = b"".join(parts)
        yield carry + b"\n", len(carry) + 1


def _line_blocks(lines: Iterable[bytes]) -> Iterator[tuple[bytes, int]]:
    group: list[bytes] = []
    size = 0
    for line in lines:
        if line[-1:] != b"\n":
            line += b"\n"
        group.append(line)
        size += len(line)
        if size >= BLOCK_BYTES:
            buf = b"".join(group)
            yield buf, len(buf)
            group = []
            size = 0
    if group:
        buf = b"".join(group)
        yield buf, len(buf)


# --------------------------------------------------------------------------------------------
# CSV building for the slow path (deliberately plain: the fast path is checked against it)


def _csv_field(value: bytes) -> bytes:
    if b"," in value or b'"' in value or b"\n" in value or b"\r" in value:
        return b'"' + value.replace(b'"', b'""') + b'"'
    return value


def _rows(key: bytes, items: list[bytes], scores: list[bytes] | None, row_end: bytes) -> bytes:
    """`row_end` ends a row without a score: b",\n" (empty score column) or b"\n" (no column)."""
    key = _csv_field(key)
    if scores is None:
        return b"".join(b"%s,%d,%s%s" % (key, rank, _csv_field(item), row_end) for rank, item in enumerate(items, 1))
    return b"".join(
        b"%s,%d,%s,%s\n" % (key, rank, _csv_field(item), score)
        for rank, (item, score) in enumerate(zip(items, scores, strict=True), 1)
    )


# --------------------------------------------------------------------------------------------
# Slow path: json


class _Num(str):
    """A JSON number kept as the exact text Personalize wrote."""

    __slots__ = ()


def _bad_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_decode = json.JSONDecoder(parse_float=_Num, parse_int=_Num, parse_constant=_bad_constant).decode


def _excerpt(line: bytes) -> str:
    return line[:RAW_EXCERPT_BYTES].decode("utf-8", "backslashreplace")


def _dumps(record: dict[str, Any]) -> bytes:
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    except UnicodeEncodeError:  # lone surrogates from \\ud800-style escapes
        return json.dumps(record, separators=(",", ":")).encode("ascii") + b"\n"


def _malformed(line_no: int, reason: str, line: bytes) -> bytes:
    return _dumps({"line": line_no, "kind": "malformed", "error": reason, "raw": _excerpt(line)})


def _decode_object(line: bytes) -> tuple[Any, str, str]:
    """(object, text, "") for a line holding a JSON object, else (None, text, why not)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, "", f"not valid UTF-8: {exc}"
    try:
        obj = _decode(text)
    except (ValueError, RecursionError) as exc:
        return None, text, f"not JSON: {exc}"
    if not isinstance(obj, dict):
        return None, text, "not a JSON object"
    return obj, text, ""


def _line_key(obj: dict, kind: OutputKind) -> tuple[str | None, str]:
    """(key, "") when the line names its user or item as a string, else (None, why not)."""
    if kind.key_in_input:
        inp = obj.get("input")
        if not isinstance(inp, dict):
            return None, "no input object"
        where = "input"
    else:
        inp, where = obj, "line"
    key = None
    for name in kind.key_fields:
        key = inp.get(name)
        if key is not None:
            break
    if type(key) is not str:
        return None, f"{where} has no string {' or '.join(kind.key_fields)}"
    return key, ""


def _line_lists(obj: dict, kind: OutputKind) -> tuple[list | None, list | None, str]:
    """(items, scores|None, "") from the line's output object, else (None, None, why not)."""
    out = obj.get("output")
    if not isinstance(out, dict):
        return None, None, "no output object"
    list_field = kind.list_field
    items = out.get(list_field)
    if type(items) is not list or any(type(item) is not str for item in items):
        return None, None, f"output.{list_field} is not a list of strings"
    scores = out.get("scores") if kind.scored else None
    if scores is not None:
        if type(scores) is not list or any(type(s) is not _Num for s in scores):
            return None, None, "output.scores is not a list of numbers"
        if len(scores) != len(items):
            return None, None, f"{len(scores)} scores for {len(items)} {list_field}"
    return items, scores, ""


def _slow_line(line: bytes, line_no: int, max_line_bytes: int, kind: OutputKind) -> tuple[str, Any]:
    """Classify one line with `json`. Returns one of
    ("blank", None), ("ok", (key, items, scores|None)) with bytes fields,
    ("error", record_bytes), ("malformed", record_bytes)."""
    if len(line) > max_line_bytes:
        return "malformed", _malformed(
            line_no, f"line longer than {max_line_bytes} bytes (cut)", line[: max_line_bytes + 1]
        )
    if not line.strip():
        return "blank", None
    obj, text, problem = _decode_object(line)
    if problem:
        return "malformed", _malformed(line_no, problem, line)
    error = obj.get("error")
    if error is not None:
        # Re-read with plain json so numbers in `input` keep their JSON types in the record.
        plain = json.loads(text)
        record = {"line": line_no, "kind": "error", "error": plain.get("error"), "input": kind.input_of(plain)}
        return "error", _dumps(record)
    key, problem = _line_key(obj, kind)
    if key is None:
        return "malformed", _malformed(line_no, problem, line)
    items, scores, problem = _line_lists(obj, kind)
    if items is None:
        return "malformed", _malformed(line_no, problem, line)
    try:
        key_b = key.encode("utf-8")
        items_b = [item.encode("utf-8") for item in items]
    except UnicodeEncodeError:
        return "malformed", _malformed(line_no, "an id is not valid Unicode (lone surrogate)", line)
    scores_b = None if scores is None else [s.encode("ascii") for s in scores]
    return "ok", (key_b, items_b, scores_b)


# --------------------------------------------------------------------------------------------
# Fast path: fixed layouts

_NUMBER = rb"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+"
_DIGITS = b"0123456789"
# Bytes that must not appear in an id the fast path emits: they make the line invalid JSON for the
# slow path (raw control characters, an unescaped quote), stand for an escape the slow path would
# decode (backslash), or need CSV quoting (comma, quote, CR, LF).
_UNSAFE_ID_BYTES = bytes(range(0x20)) + b'",\\'


def _ids_are_safe(blob: bytes) -> bool:
    """True when `blob` (ids joined with a space) has no unsafe byte and is valid UTF-8. Join with
    a space, not with nothing: two invalid halves of a multi-byte character must not pair up."""
    find = blob.find
    for byte in _UNSAFE_ID_BYTES:  # memchr each: far faster than one translate over the blob
        if find(byte) >= 0:
            return False
    if not blob.isascii():
        try:
            blob.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def _line_ids_are_safe(key: bytes, items: list[bytes]) -> bool:
    blob = key + b" " + b" ".join(items)
    if len(blob.translate(None, _UNSAFE_ID_BYTES)) != len(blob):
        return False
    if not blob.isascii():
        try:
            blob.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def _layout(sp: bytes, key_name: bytes, kind: OutputKind) -> tuple[bytes, tuple[Any, ...]]:
    """One exact serialisation of the kind's common shape, `sp` being what follows each `,` and
    `:` (" " for Python's json.dumps default, "" for compact JSON). Returns (prefix, parameters)."""
    sep = b"," + sp
    list_open = b'"output":' + sp + b'{"' + kind.list_field.encode() + b'":' + sp + b'["'
    if kind.key_in_input:
        prefix = b'{"input":' + sp + b'{"' + key_name + b'":' + sp + b'"'
        mid = b'"}' + sep + list_open
    else:
        prefix = b'{"' + key_name + b'":' + sp + b'"'
        mid = b'"' + sep + list_open
    end = b"}" + sep + b'"error":' + sp + b"null}" if kind.error_field else b"}}"
    return prefix, (
        prefix,
        len(prefix),
        mid,
        b'"]' + sep + b'"scores":' + sp + b"[",  # sc_mid
        # Suffix with scores; for a kind without them, b"\n", which no line (cut before its
        # newline) ends with: the scores branch is never taken and costs no extra test.
        b"]" + end if kind.scored else b"\n",
        b'"]' + end,  # suffix without scores
        b'"' + sep + b'"',  # item separator
        sep,  # score separator
        re.compile(_NUMBER + b"(?:" + re.escape(sep) + _NUMBER + b")*+").fullmatch,
        sep + b"0.",  # a score token starting with "0."
        b"." + sep[:1],  # a score token ending with "."
        {},  # n -> expected score text with digits deleted: b"." + (sep + b".") * (n - 1)
    )


TEMPLATE_CACHE_MAX = 1000
"""Row templates are kept for lists up to this length (batch inference returns at most 500);
a longer list (a segment) gets a template made for it alone, not kept."""


class _Engine:
    """The fast path's per-kind tables, built once per kind.

    Row templates (None marks where per-line pieces go):
      with scores:    [key, b",1,", item1, b",s1\nKEY", b",2,", item2, b",s2\nKEY", ...]  (score
                      tokens carry the next row's key; the last one ends with b"\n")
      without scores: [key, b",1,", item1, row_end, key, b",2,", item2, row_end, ...]"""

    __slots__ = ("kind", "layouts", "plen_a", "plen_b", "first_layout", "row_end", "templates_sc", "templates_nosc")

    def __init__(self, kind: OutputKind) -> None:
        self.kind = kind
        names = [name.encode() for name in kind.key_fields]
        self.layouts = dict(_layout(sp, name, kind) for sp in (b" ", b"") for name in names)
        self.plen_a, self.plen_b = sorted({len(p) for p in self.layouts}, reverse=True)
        self.first_layout = next(iter(self.layouts.values()))
        self.row_end = b",\n" if kind.scored else b"\n"
        self.templates_sc: dict[int, list[Any]] = {}
        self.templates_nosc: dict[int, list[Any]] = {}

    def template_sc(self, n: int) -> list[Any]:
        pieces: list[Any] = [None]
        for rank in range(1, n + 1):
            pieces += [b",%d," % rank, None, None]
        if n <= TEMPLATE_CACHE_MAX:
            self.templates_sc[n] = pieces
        return pieces

    def fillable_sc(self, n: int) -> list[Any]:
        """A template to fill in place: a copy of the kept one, or one made for this list alone."""
        kept = self.templates_sc.get(n)
        return kept[:] if kept is not None else self.template_sc(n)[:]

    def fillable_nosc(self, n: int) -> list[Any]:
        kept = self.templates_nosc.get(n)
        return kept[:] if kept is not None else self.template_nosc(n)[:]

    def template_nosc(self, n: int) -> list[Any]:
        pieces: list[Any] = []
        row_end = self.row_end
        for rank in range(1, n + 1):
            pieces += [None, b",%d," % rank, None, row_end]
        if n <= TEMPLATE_CACHE_MAX:
            self.templates_nosc[n] = pieces
        return pieces


_ENGINES = {name: _Engine(kind) for name, kind in OUTPUT_KINDS.items()}


_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]  # set at run time (C or Python scanner); typeshed omits it


def _query_key(raw: bytes) -> bytes | Literal[False]:
    """The CSV field of a query key (the raw text between the quotes of `"itemAttributes": "..."`),
    or False when only the json path can tell what it is. Read with `json`'s own string scanner
    (what its decoder calls for every string, strict about control characters), so escapes
    (`\\"`) come out the same; the text cannot hide the layout's `", "output"` marker, as a quote
    inside a valid JSON string is always escaped, and one that is not ends the string early."""
    try:
        text = raw.decode("utf-8") + '"'
        value, end = _scanstring(text, 0, True)
        return _csv_field(value.encode("utf-8")) if end == len(text) else False
    except (ValueError, UnicodeError):
        return False


# --------------------------------------------------------------------------------------------
# The engine


class _Block:
    __slots__ = ("csv", "errors", "counts", "lines_seen")

    def __init__(self) -> None:
        self.csv: list[bytes] = []
        self.errors: list[bytes] = []
        self.counts = FlattenCounts()
        self.lines_seen = 0


def _run_block(  # noqa: C901 - hot inner loop (~25M rows per 1M lines): locals only, no per-line calls
    buf: bytes, limit: int, line_no: int, fast: bool, verify_each: bool, max_line_bytes: int, engine: _Engine
) -> tuple[_Block, bool]:
    """Process the whole lines in `buf[:limit]` (each ends with b"\n"). Returns (result, ok).

    With `fast`, lines in a known layout are parsed in place with bytes operations (no line
    object is made). Their ids are then checked either per line (`verify_each`) or, cheaper,
    all at once at the end of the block; ok=False means that bulk check failed and the block
    must be redone with `verify_each`, which sends every line with a doubtful id to the slow
    path and always returns ok=True.

    This loop is the hot spot (~25M rows per million lines): locals only, one layout unpack per
    change of layout, per-line bookkeeping reduced to list appends summed up at the end.

    A query key (item-attribute affinity) is not an id: it is decoded and CSV-quoted on its own
    (once per distinct query in the block) and left out of the id checks."""
    blk = _Block()
    counts = blk.counts
    csv_append = blk.csv.append
    err_append = blk.errors.append
    sizes: list[int] = []  # items per successful line
    sizes_append = sizes.append
    emitted: list[bytes] = []  # ids emitted by the fast path, for the bulk check
    emitted_append = emitted.append
    emitted_extend = emitted.extend
    find = buf.find
    startswith = buf.startswith
    endswith = buf.endswith
    layouts_get = engine.layouts.get
    fillable_sc = engine.fillable_sc
    fillable_nosc = engine.fillable_nosc
    kind = engine.kind
    query = not kind.key_in_input
    query_keys: dict[bytes, bytes | Literal[False]] = {}
    row_end = engine.row_end
    # Per-block working copies of the templates, refilled in place line after line (no list
    # copy per line; each line's slots are all overwritten before the join).
    work_sc: dict[int, list[Any]] = {}
    work_nosc: dict[int, list[Any]] = {}
    digits = _DIGITS
    plen_a = engine.plen_a
    plen_b = engine.plen_b
    first_line_no = line_no
    n_slow_ok = 0
    key: bytes | Literal[False]  # a query key the json path must read is False
    # Parameters of the current layout (start with any one; a line in another is looked up).
    (prefix, plen, mid, sc_mid, suffix_sc, suffix_nosc,
     item_sep, sc_sep, scores_ok, sep0, dot_end, dotseps) = engine.first_layout
    pos = 0
    while pos < limit:
        e = find(b"\n", pos, limit)
        line_no += 1
        if fast and e - pos <= max_line_bytes:
            known = startswith(prefix, pos)
            if not known:
                lay = layouts_get(buf[pos : pos + plen_a]) or layouts_get(buf[pos : pos + plen_b])
                if lay is not None:
                    (prefix, plen, mid, sc_mid, suffix_sc, suffix_nosc,
                     item_sep, sc_sep, scores_ok, sep0, dot_end, dotseps) = lay
                    known = True
            if known:
                i = find(mid, pos + plen, e)
                if i >= 0:
                    start = i + len(mid)
                    key = id_key = buf[pos + plen : i]
                    if query:
                        cached = query_keys.get(id_key)
                        if cached is None:
                            cached = query_keys[id_key] = _query_key(id_key)
                        key = cached
                        id_key = b""
                    # (Test the no-scores ending first: it also ends like the other. The two markers
                    # share a quote, so a cut-off `["]}...` would match both: the list must not start
                    # after it ends.)
                    if key is False:
                        pass
                    elif endswith(suffix_nosc, pos, e) and start <= e - len(suffix_nosc):
                        items = buf[start : e - len(suffix_nosc)].split(item_sep)
                        n = len(items)
                        if not verify_each or _line_ids_are_safe(id_key, items):
                            pieces = work_nosc.get(n)
                            if pieces is None:
                                pieces = work_nosc[n] = fillable_nosc(n)
                            pieces[0::4] = [key] * n
                            pieces[2::4] = items
                            csv_append(b"".join(pieces))
                            sizes_append(n)
                            emitted_append(id_key)
                            emitted_extend(items)
                            pos = e + 1
                            continue
                    elif endswith(suffix_sc, pos, e):
                        j = find(sc_mid, start, e)
                        if j >= 0:
                            sc = buf[j + len(sc_mid) : e - len(suffix_sc)]
                            items = buf[start:j].split(item_sep)
                            n = len(items)
                            # Score tokens b"s1\nKEY", b",s2\nKEY", ..., b",sn" (fixed up below),
                            # cut where the next score starts "0." (the usual case); a key holding
                            # b"\0" adds a token and fails the id check anyway.
                            tokens = sc.replace(sep0, b"\n" + key + b"\0,0.").split(b"\0")
                            if len(tokens) == n and sc[:2] == b"0.":
                                # Every score starts "0.": valid JSON numbers iff the rest is
                                # digits with at least one after each dot.
                                expected = dotseps.get(n)
                                if expected is None:
                                    expected = dotseps[n] = b"." + (sc_sep + b".") * (n - 1)
                                # (`find`, not `in`: `x in bytes` first tries x as an int.)
                                valid = (
                                    sc.translate(None, digits) == expected
                                    and sc.find(dot_end) < 0
                                    and sc[-1:] != b"."
                                )
                            else:
                                valid = scores_ok(sc) is not None
                                if valid:
                                    tokens = sc.replace(sc_sep, b"\n" + key + b"\0,").split(b"\0")
                                    valid = len(tokens) == n
                            if valid and (not verify_each or _line_ids_are_safe(id_key, items)):
                                tokens[0] = b"," + tokens[0]
                                tokens[-1] += b"\n"
                                pieces = work_sc.get(n)
                                if pieces is None:
                                    pieces = work_sc[n] = fillable_sc(n)
                                pieces[0] = key
                                pieces[2::3] = items
                                pieces[3::3] = tokens
                                csv_append(b"".join(pieces))
                                sizes_append(n)
                                emitted_append(id_key)
                                emitted_extend(items)
                                pos = e + 1
                                continue
        # Slow path.
        line = buf[pos:e]
        pos = e + 1
        status, payload = _slow_line(line, line_no, max_line_bytes, kind)
        if status == "ok":
            row_key, items, scores = payload
            csv_append(_rows(row_key, items, scores, row_end))
            sizes_append(len(items))
            n_slow_ok += 1
        elif status == "blank":
            counts.blank_lines += 1
        else:
            err_append(payload)
            counts.errored_lines += 1
            if status == "malformed":
                counts.malformed_lines += 1
    n_ok = len(sizes)
    counts.lines = n_ok + counts.errored_lines
    counts.fast_path_lines = n_ok - n_slow_ok
    counts.items_written = sum(sizes)
    counts.users_with_recommendations = n_ok - sizes.count(0)
    hist = counts.items_per_user
    for n in set(sizes):
        hist[n] = sizes.count(n)
    blk.lines_seen = line_no - first_line_no
    if emitted and not _ids_are_safe(b" ".join(emitted)):
        return blk, False
    return blk, True


def _run(
    blocks: Iterable[tuple[bytes, int]],
    rec_out: Writer,
    err_out: Writer,
    fast: bool,
    max_line_bytes: int,
    engine: _Engine,
) -> FlattenCounts:
    total = FlattenCounts()
    rec_out.write(engine.kind.header)
    line_no = 0
    careful = 0  # after a block failed the bulk check, check the next few blocks line by line
    for buf, limit in blocks:
        blk, ok = _run_block(buf, limit, line_no, fast, careful > 0, max_line_bytes, engine)
        if careful:
            careful -= 1
        if not ok:
            blk, ok = _run_block(buf, limit, line_no, fast, True, max_line_bytes, engine)
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


def _engine_and_limit(kind: OutputKind | str | None, max_line_bytes: int | None) -> tuple[_Engine, int]:
    engine = _ENGINES[kind.name if isinstance(kind, OutputKind) else output_kind(kind).name]
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
    return _run(_line_blocks(lines), rec_out, err_out, fast, max_line_bytes, engine)
