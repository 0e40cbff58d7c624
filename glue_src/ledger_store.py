"""The incremental ETL's job arguments, its ledger on S3 or a local disk, and the raw objects' versions (ETags).

No Spark here. The ledger's shape and the decisions taken from it are in `pipeline_contracts/etl_ledger.py`.

* On S3 the versions are the objects' ETags from ListObjectsV2 (boto3, as `write_text` writes to S3 on Glue):
  an object rewritten with other bytes gets another ETag, one copied over itself with the same bytes keeps it.
* Locally the version is the MD5 of the file's bytes, quoted as S3 spells a single-part ETag: the same rule.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_contracts.etl_ledger import Ledger, LedgerError

from glue_src.inputs import path_key
from glue_src.messages import EtlArgumentError, EtlInputError

# Optional job arguments (a job deployed without etl_incremental has none of them).
INCREMENTAL_ARGUMENT_NAMES = ("incremental", "ledger_uri", "full_rebuild_every_days", "full_rebuild")
_S3_SCHEMES = ("s3://", "s3a://", "s3n://")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
FULL_REBUILD_EVERY_DAYS_MAX = 3650


@dataclass(frozen=True, kw_only=True)
class IncrementalOptions:
    """`--incremental true`: process only the raw objects the ledger at `--ledger_uri` does not list as processed.
    `--full_rebuild_every_days`: a full rebuild when the last one is that old (0: only on demand);
    `--full_rebuild`: this run rebuilds in full (the state machine passes it per run)."""

    ledger_uri: str
    full_rebuild_every_days: int = 0
    full_rebuild: bool = False


def _flag(name: str, raw: Any) -> bool:
    text = str(raw).strip().lower()
    if text not in _TRUE + _FALSE:
        raise EtlArgumentError(f"job argument --{name} has value {raw!r}; allowed: true or false")
    return text in _TRUE


def parse_incremental(args: Mapping[str, Any]) -> IncrementalOptions | None:
    """The incremental options of the job arguments (keys with or without `--`), None when --incremental is
    absent or false (every run reads the whole raw prefix, as without the feature)."""
    values = {key.removeprefix("--"): value for key, value in args.items()}
    if values.get("incremental") is None or not _flag("incremental", values["incremental"]):
        return None
    ledger_uri = str(values.get("ledger_uri") or "").strip()
    if not ledger_uri.endswith(".json"):
        raise EtlArgumentError(
            f"job argument --ledger_uri has value {values.get('ledger_uri')!r}; allowed: the ledger's location, "
            "a URI or path ending in .json (it is required with --incremental true)"
        )
    every = str(values.get("full_rebuild_every_days", "0")).strip()
    if not every.isascii() or not every.isdigit() or int(every) > FULL_REBUILD_EVERY_DAYS_MAX:
        raise EtlArgumentError(
            f"job argument --full_rebuild_every_days has value {values.get('full_rebuild_every_days')!r}; allowed: "
            f"a whole number from 0 (no cadence) to {FULL_REBUILD_EVERY_DAYS_MAX}"
        )
    return IncrementalOptions(
        ledger_uri=ledger_uri,
        full_rebuild_every_days=int(every),
        full_rebuild=_flag("full_rebuild", values.get("full_rebuild", "false")),
    )


def _bucket_and_key(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


def _local_path(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri.removeprefix("file:")


def read_text(uri: str) -> str | None:
    """One small object's text (S3 with boto3, or a local path); None when it does not exist."""
    if uri.startswith(_S3_SCHEMES):
        import boto3  # on Glue (and locally only for S3 locations)

        s3 = boto3.client("s3")
        bucket, key = _bucket_and_key(uri)
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        except s3.exceptions.NoSuchKey:
            return None
    path = _local_path(uri)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def read_ledger(uri: str) -> tuple[Ledger | None, str | None]:
    """(the ledger or None, why it cannot be used or None). A missing ledger is no problem: the first run."""
    try:
        text = read_text(uri)
    except Exception as error:  # noqa: BLE001  (any read failure means: rebuild, saying why)
        return None, f"{uri} cannot be read: {type(error).__name__}: {error}"
    if text is None:
        return None, None
    try:
        return Ledger.from_json(json.loads(text)), None
    except (ValueError, LedgerError) as error:
        return None, f"{uri} is not a ledger: {error}"


def object_versions(input_uri: str, files: Iterable[str]) -> dict[str, str]:
    """{ledger key: version} of the listed files (their `path_key`): ETags on S3, MD5s of the bytes locally."""
    keys = {path_key(path, url_encoded=False): path for path in files}
    if input_uri.startswith(_S3_SCHEMES):
        return _s3_etags(input_uri, keys)
    versions = {}
    for key, path in keys.items():
        digest = hashlib.md5(usedforsecurity=False)
        with open(_local_path(path), "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        versions[key] = f'"{digest.hexdigest()}"'
    return versions


def _s3_etags(input_uri: str, keys: Mapping[str, str]) -> dict[str, str]:
    import boto3

    bucket, prefix = _bucket_and_key(input_uri)
    prefix = prefix.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0].split("{", 1)[0]
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    etags = {f"{bucket}/{item['Key']}": item["ETag"] for page in pages for item in page.get("Contents", ())}
    missing = sorted(key for key in keys if key not in etags)
    if missing:
        raise EtlInputError(
            f"{len(missing)} listed file(s) have no ETag in ListObjectsV2 of {input_uri}: {', '.join(missing[:5])}"
        )
    return {key: etags[key] for key in keys}
