"""Cutting a byte stream into blocks of whole lines: the unit the flattening engine works on (and, on the
fast path, verifies in bulk). No per-line objects are made here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .kinds import DEFAULT_MAX_LINE_BYTES


BLOCK_BYTES = 1024 * 1024
"""`flatten_lines` groups lines into blocks of about this size (the unit of bulk verification);
`flatten_chunks` uses the chunks it is given (1 MiB reads in the handler)."""


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


def line_blocks(lines: Iterable[bytes]) -> Iterator[tuple[bytes, int]]:
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
