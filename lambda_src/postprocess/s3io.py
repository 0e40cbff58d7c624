"""Bounded-memory S3 streaming: a resumable prefetching reader and a multipart writer.

Memory is bounded by construction, whatever the object size:

- `ObjectChunks` keeps at most `prefetch` chunks of `chunk_size` bytes queued ahead of the consumer
  (a background thread reads the next chunks while the caller processes the current one).
- `MultipartWriter` keeps at most one part being filled plus `max_in_flight` parts being uploaded
  by a background thread (`part_size` each). An object smaller than one part is written with a
  single PutObject when closed (also when it is empty).

Why multipart rather than a /tmp spool: the CSV of a 1M-line `.out` file is ~0.8 GB, more than
Lambda's default 512 MB of ephemeral storage; streaming parts needs no storage setting, starts the
upload while processing goes on (the network time overlaps the CPU time) and never holds the
whole output anywhere.

A read that breaks mid-stream is resumed with a ranged GET pinned to the object's ETag
(`IfMatch`), so a multi-GB download survives a dropped connection without starting over and
without mixing two versions of the object.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError

__all__ = ["ObjectChunks", "MultipartWriter", "MIN_PART_SIZE"]

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's minimum size of every part but the last."""

_END = object()


class ObjectChunks:
    """Iterate over an S3 object's bytes in chunks, reading ahead on a background thread.

    Use as a context manager (or call `close()`) so the reader thread stops if the consumer
    gives up early. Attributes after the first chunk is requested: `etag`, `size`,
    `bytes_read`."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        chunk_size: int = 1024 * 1024,
        prefetch: int = 8,
        max_resumes: int = 5,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._chunk_size = chunk_size
        self._max_resumes = max_resumes
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.etag: str | None = None
        self.size: int | None = None
        self.bytes_read = 0
        self.resumes = 0
        # The first GET happens in the caller's thread so that errors such as NoSuchKey or
        # AccessDenied surface directly, with their own exception type.
        response = client.get_object(Bucket=bucket, Key=key)
        self.etag = response.get("ETag")
        self.size = response.get("ContentLength")
        self._body = response["Body"]

    def __enter__(self) -> ObjectChunks:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            # Unblock a producer waiting on a full queue.
            while self._thread.is_alive():
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass
                self._thread.join(timeout=0.05)
        try:
            self._body.close()
        except Exception:  # noqa: BLE001 - closing a finished or broken stream is best effort
            pass

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _reader(self) -> None:
        offset = 0
        resumes = 0
        body = self._body
        try:
            while not self._stop.is_set():
                try:
                    chunk = body.read(self._chunk_size)
                except (BotoCoreError, OSError) as exc:
                    # Includes ResponseStreamingError, ReadTimeoutError, connection resets.
                    if resumes >= self._max_resumes or (self.size is not None and offset >= self.size):
                        raise
                    resumes += 1
                    self.resumes = resumes
                    try:
                        body.close()
                    except Exception:  # noqa: BLE001
                        pass
                    kwargs = {"Bucket": self._bucket, "Key": self._key, "Range": f"bytes={offset}-"}
                    if self.etag:
                        kwargs["IfMatch"] = self.etag
                    body = self._body = self._client.get_object(**kwargs)["Body"]
                    del exc
                    continue
                if not chunk:
                    break
                offset += len(chunk)
                if not self._put(chunk):
                    return
            if self.size is not None and offset != self.size and not self._stop.is_set():
                raise OSError(f"s3://{self._bucket}/{self._key}: read {offset} bytes, expected {self.size}")
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            self._put(exc)

    def __iter__(self) -> Iterator[bytes]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._reader, name="s3-read", daemon=True)
            self._thread.start()
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            self.bytes_read += len(item)
            yield item


class MultipartWriter:
    """A write-only binary stream into one S3 object (`write(bytes)`, then `close()`).

    Parts are uploaded by one background thread while the caller keeps writing; at most
    `max_in_flight` parts wait for or are in upload, after which `write` blocks (back-pressure),
    so memory stays below about `(max_in_flight + 2) * part_size`. `extra_args` go to
    CreateMultipartUpload / PutObject (e.g. ServerSideEncryption, SSEKMSKeyId, ContentType).
    On an exception inside a `with` block the multipart upload is aborted, so no invisible
    parts are left behind (a bucket lifecycle rule for incomplete uploads is still advisable)."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        part_size: int = 16 * 1024 * 1024,
        max_in_flight: int = 2,
        extra_args: dict[str, Any] | None = None,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self._client = client
        self.bucket = bucket
        self.key = key
        self._part_size = part_size
        self._extra = dict(extra_args or {})
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._upload_id: str | None = None
        self._parts: dict[int, dict[str, Any]] = {}
        self._next_part = 1
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, max_in_flight))
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False
        self.bytes_written = 0
        self.etag: str | None = None

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # -- writing ---------------------------------------------------------------------------

    def write(self, data: bytes) -> int:
        if self._closed:
            raise ValueError("write to a closed MultipartWriter")
        if self._error is not None:
            raise self._error
        if data:
            self._pending.append(data)
            self._pending_size += len(data)
            self.bytes_written += len(data)
            if self._pending_size >= self._part_size:
                self._flush_part()
        return len(data)

    def _flush_part(self) -> None:
        part = b"".join(self._pending) if len(self._pending) != 1 else self._pending[0]
        self._pending = []
        self._pending_size = 0
        if self._upload_id is None:
            response = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ChecksumAlgorithm="CRC32", **self._extra
            )
            self._upload_id = response["UploadId"]
            self._thread = threading.Thread(target=self._uploader, name="s3-upload", daemon=True)
            self._thread.start()
        number = self._next_part
        self._next_part += 1
        self._queue.put((number, part))  # blocks while max_in_flight parts are queued
        if self._error is not None:
            raise self._error

    def _uploader(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is not None:
                continue  # drain: the writer will raise and abort
            number, part = item
            try:
                response = self._client.upload_part(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    PartNumber=number,
                    Body=part,
                    ChecksumAlgorithm="CRC32",
                )
                entry = {"PartNumber": number, "ETag": response["ETag"]}
                if response.get("ChecksumCRC32"):
                    entry["ChecksumCRC32"] = response["ChecksumCRC32"]
                self._parts[number] = entry
            except BaseException as exc:  # noqa: BLE001 - re-raised in the writer's thread
                self._error = exc

    def _join_uploader(self) -> None:
        if self._thread is not None:
            self._queue.put(_END)
            self._thread.join()
            self._thread = None

    # -- finishing -------------------------------------------------------------------------

    def close(self) -> None:
        """Upload what is left and make the object visible. Idempotent."""
        if self._closed:
            return
        try:
            if self._upload_id is None:
                body = b"".join(self._pending)
                self._pending = []
                response = self._client.put_object(Bucket=self.bucket, Key=self.key, Body=body, **self._extra)
                self.etag = response.get("ETag")
                self._closed = True
                return
            if self._pending:
                self._flush_part()
            self._join_uploader()
            if self._error is not None:
                raise self._error
            parts = [self._parts[n] for n in sorted(self._parts)]
            response = self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
            )
            self.etag = response.get("ETag")
            self._closed = True
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Give up: stop the uploader and abort the multipart upload (best effort)."""
        if self._closed:
            return
        self._closed = True
        self._pending = []
        if self._error is None:
            self._error = RuntimeError("upload aborted")
        # Let the uploader drain whatever is queued without uploading it.
        self._join_uploader()
        if self._upload_id is not None:
            try:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
