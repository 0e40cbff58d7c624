"""Peak memory stays flat as input grows (tracemalloc): flatten, the S3 reader and the writer."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any, Callable

from lambda_src.postprocess import flatten as F
from lambda_src.postprocess.s3io import MIN_PART_SIZE, MultipartWriter, ObjectChunks

from .test_flatten import iter_generated_chunks

ROOT = Path(__file__).resolve().parents[2]


class CountingSink:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)


def peak_of(fn: Callable[[], Any]) -> tuple[int, Any]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def test_flatten_peak_memory_does_not_grow_with_input() -> None:
    """tracemalloc (precise, but ~35x slower per allocation, hence the small sizes)."""

    def run(lines: int) -> Any:
        rec, err = CountingSink(), CountingSink()
        counts = F.flatten_chunks(iter_generated_chunks(lines, chunk_lines=100), rec, err)
        return counts, rec.bytes

    small_peak, (small, _) = peak_of(lambda: run(200))
    large_peak, (large, large_bytes) = peak_of(lambda: run(2_000))
    assert small.lines == 200 and large.lines == 2_000 and large.fast_path_lines == 2_000
    assert large_bytes > 1_500_000
    # 10x the input, same peak: one block (~70 KB in, ~90 KB out) and its line objects.
    assert large_peak < small_peak * 1.2 + 64 * 1024, (small_peak, large_peak)


_RSS_CHILD = """
import sys
from lambda_src.postprocess import flatten
line = (b'{"input": {"userId": "user-1234567"}, "output": {"recommendedItems": ['
        + b", ".join(b'"%d"' % (100000 + i) for i in range(25)) + b'], "scores": ['
        + b", ".join(b"0.00%05d" % (99999 - i) for i in range(25)) + b']}, "error": null}\\n')
block = line * 1000
def iter_generated_chunks(lines, _):
    for _ in range(lines // 1000):
        yield block
class Sink:
    n = 0
    def write(self, data):
        self.n += len(data)
out = Sink()
counts = flatten.flatten_chunks(iter_generated_chunks(int(sys.argv[1]), 1000), out, Sink())
assert counts.lines == int(sys.argv[1]), counts
# VmHWM, not ru_maxrss: after fork+exec ru_maxrss still carries the parent's (pytest's) peak.
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(hwm, out.n)
"""


def _child_max_rss_kb(lines: int) -> tuple[int, int]:
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(lines)],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )
    rss, written = done.stdout.split()
    return int(rss), int(written)


def test_flatten_max_rss_is_flat_from_10k_to_100k_lines() -> None:
    """Whole-process peak RSS (VmHWM) of a child flattening 10k vs 100k lines (~75 MB of CSV)."""
    small_rss, _ = _child_max_rss_kb(10_000)
    large_rss, written = _child_max_rss_kb(100_000)
    assert written > 75_000_000
    assert large_rss < small_rss + 16 * 1024, (small_rss, large_rss)  # KiB


class FakeBody:
    def __init__(self, total: int, chunk: bytes) -> None:
        self.left = total
        self.chunk = chunk

    def read(self, amt: int) -> bytes:
        if self.left <= 0:
            return b""
        self.left -= 1
        return self.chunk[:amt]

    def close(self) -> None:
        pass


class FakeS3:
    """Just enough of an S3 client for the streaming classes, keeping no data."""

    def __init__(self, chunks: int = 0, chunk: bytes = b"") -> None:
        self.chunks = chunks
        self.chunk = chunk
        self.parts: list[int] = []
        self.calls: list[tuple[str, dict]] = []

    def get_object(self, **kw: Any) -> dict:
        return {"Body": FakeBody(self.chunks, self.chunk), "ETag": '"e"', "ContentLength": self.chunks * len(self.chunk)}

    def create_multipart_upload(self, **kw: Any) -> dict:
        self.calls.append(("create", kw))
        return {"UploadId": "u"}

    def upload_part(self, **kw: Any) -> dict:
        self.parts.append(len(kw["Body"]))
        return {"ETag": f'"{kw["PartNumber"]}"'}

    def complete_multipart_upload(self, **kw: Any) -> dict:
        self.calls.append(("complete", kw))
        return {"ETag": '"done"'}

    def put_object(self, **kw: Any) -> dict:
        self.calls.append(("put", kw))
        return {"ETag": '"p"'}

    def abort_multipart_upload(self, **kw: Any) -> dict:
        self.calls.append(("abort", kw))
        return {}


def test_multipart_writer_memory_is_bounded_by_parts_in_flight() -> None:
    block = b"x" * (1024 * 1024)

    def write(megabytes: int) -> FakeS3:
        client = FakeS3()
        with MultipartWriter(client, "b", "k", part_size=MIN_PART_SIZE, max_in_flight=2) as out:
            for _ in range(megabytes):
                out.write(block)
        return client

    small_peak, small = peak_of(lambda: write(20))
    large_peak, large = peak_of(lambda: write(200))
    assert sum(large.parts) == 200 * 1024 * 1024 and len(large.parts) == 40
    assert large.calls[-1][0] == "complete"
    assert len(large.calls[-1][1]["MultipartUpload"]["Parts"]) == 40
    # At most one part filling + max_in_flight queued + one uploading (5 MiB each).
    assert large_peak < 5 * MIN_PART_SIZE, large_peak
    assert large_peak < small_peak * 1.25 + MIN_PART_SIZE, (small_peak, large_peak)


def test_object_reader_memory_is_bounded_by_prefetch() -> None:
    chunk = b"y" * (1024 * 1024)

    def read(chunks: int) -> int:
        total = 0
        with ObjectChunks(FakeS3(chunks, chunk), "b", "k", chunk_size=len(chunk), prefetch=4) as source:
            for piece in source:
                total += len(piece)
        return total

    small_peak, small = peak_of(lambda: read(20))
    large_peak, large = peak_of(lambda: read(300))
    assert small == 20 * len(chunk) and large == 300 * len(chunk)
    assert large_peak < 8 * len(chunk), large_peak
    assert large_peak < small_peak * 1.25 + len(chunk), (small_peak, large_peak)
