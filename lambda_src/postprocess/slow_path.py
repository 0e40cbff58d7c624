"""The slow path: one line read with `json`, with every check (see `flatten` for the rules). Deliberately plain:
it is the reference the fast path is tested against (`flatten_lines(..., fast=False)` uses it alone)."""

from __future__ import annotations

import json
from typing import Any

from .kinds import OutputKind

RAW_EXCERPT_BYTES = 64 * 1024
"""How much of a malformed line goes into the errors output."""


# --------------------------------------------------------------------------------------------
# CSV building (deliberately plain: the fast path is checked against it)


def csv_field(value: bytes) -> bytes:
    if b"," in value or b'"' in value or b"\n" in value or b"\r" in value:
        return b'"' + value.replace(b'"', b'""') + b'"'
    return value


def csv_rows(key: bytes, items: list[bytes], scores: list[bytes] | None, row_end: bytes) -> bytes:
    """`row_end` ends a row without a score: b",\n" (empty score column) or b"\n" (no column)."""
    key = csv_field(key)
    if scores is None:
        return b"".join(b"%s,%d,%s%s" % (key, rank, csv_field(item), row_end) for rank, item in enumerate(items, 1))
    return b"".join(
        b"%s,%d,%s,%s\n" % (key, rank, csv_field(item), score)
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


def slow_line(line: bytes, line_no: int, max_line_bytes: int, kind: OutputKind) -> tuple[str, Any]:
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
