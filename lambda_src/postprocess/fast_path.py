"""The fast path: lines in a known layout parsed in place with a few bytes operations.

The common shapes (user / related-items input with or without scores, written with Python-style
`", "` or compact separators, and the segment kinds' documented layouts) are matched against fixed
layouts built once per kind (`Engine`); every other line goes through `json` (`slow_path`). The fast
path accepts a line only when the slow path would produce byte-identical output for it; each block's
emitted ids are then verified in bulk (no `"` `,` `\\` or control character) and the block is redone
line by line with the full checks when that fails.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from .counts import FlattenCounts
from .kinds import OUTPUT_KINDS, OutputKind
from .slow_path import csv_field, csv_rows, slow_line


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
    return _is_utf8(blob)


def _line_ids_are_safe(key: bytes, items: list[bytes]) -> bool:
    blob = key + b" " + b" ".join(items)
    return len(blob.translate(None, _UNSAFE_ID_BYTES)) == len(blob) and _is_utf8(blob)


def _is_utf8(blob: bytes) -> bool:
    if blob.isascii():  # the usual ids: no decoding needed
        return True
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


class Engine:
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


ENGINES = {name: Engine(kind) for name, kind in OUTPUT_KINDS.items()}


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
        return csv_field(value.encode("utf-8")) if end == len(text) else False
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


def run_block(  # noqa: C901 - hot inner loop (~25M rows per 1M lines): locals only, no per-line calls
    buf: bytes, limit: int, line_no: int, fast: bool, verify_each: bool, max_line_bytes: int, engine: Engine
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
        status, payload = slow_line(line, line_no, max_line_bytes, kind)
        if status == "ok":
            row_key, items, scores = payload
            csv_append(csv_rows(row_key, items, scores, row_end))
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
