"""The incremental ETL's ledger (`etl_incremental`): which raw objects the last successful run processed, and the
decisions taken from it, as pure functions. Standard library only: the Glue job plans its delta with it, the
modes function reads the summary section it describes, tests derive their cases from it.

Why a ledger and not Glue job bookmarks: a bookmark is committed when the *Glue job* succeeds, not when the
*pipeline run* does (a run whose import or training fails afterwards would still advance it), and S3 bookmarks
track objects by modification time, not content: a ledger of (object, ETag) written only on the run's success
path matches "processed by an earlier successful run" exactly.

    <transformed>/state/ledger.json         the last successful run's ledger (promoted by the state machine)
    <transformed>/runs/<run>/_ledger.json   the ledger a run proposes (written by the Glue job after a success)
    <transformed>/runs/<run>/history/       every cleaned interaction of the run's whole set, with its raw object

    {"version": 1, "run": "<run id>", "input_uri": "s3://raw/ratings/",
     "objects": {"<bucket>/<key>": "<ETag>", ...}, "full_rebuild_at": "2026-11-01T03:00:00+00:00"}

A run compares the raw objects it lists (key and ETag) with the ledger: a key not in it is **new**, a key with
another ETag **changed**, a key of the ledger no longer listed **deleted**, the rest **unchanged** (skipped as
already processed). It reads the new and changed objects only; its history is the previous run's history
minus the rows of changed and deleted objects, plus the rows just read. A **full rebuild** (every object read,
no previous history) happens when one is asked for, on the cadence, or when the ledger or the history it names
cannot be used; `rebuild_reason` says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

VERSION = 1
# The summary's section (`_summary.json` "incremental") the modes function reads.
SUMMARY_SECTION = "incremental"
# How many keys of new / changed / deleted objects the summary names (all are counted).
KEYS_NAMED = 100


class LedgerError(ValueError):
    """A ledger that does not have the documented shape (the run rebuilds in full, saying why)."""


@dataclass(frozen=True, kw_only=True)
class Ledger:
    run: str
    input_uri: str
    objects: Mapping[str, str]
    full_rebuild_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "run": self.run,
            "input_uri": self.input_uri,
            "objects": dict(sorted(self.objects.items())),
            "full_rebuild_at": self.full_rebuild_at.isoformat(timespec="seconds"),
        }

    @classmethod
    def from_json(cls, data: Any) -> Ledger:
        """The ledger of its JSON form; LedgerError naming what is wrong."""
        if not isinstance(data, Mapping) or data.get("version") != VERSION:
            raise LedgerError(f"not a version {VERSION} ledger object")
        objects = data.get("objects")
        if not isinstance(objects, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in objects.items()
        ):
            raise LedgerError("'objects' is not an object of key -> ETag strings")
        for name in ("run", "input_uri"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise LedgerError(f"{name!r} is not a non-empty string")
        try:
            rebuilt = datetime.fromisoformat(str(data.get("full_rebuild_at")))
        except ValueError:
            raise LedgerError(f"'full_rebuild_at' {data.get('full_rebuild_at')!r} is not an ISO 8601 time") from None
        if rebuilt.tzinfo is None:
            raise LedgerError("'full_rebuild_at' has no time zone")
        return cls(run=data["run"], input_uri=data["input_uri"], objects=dict(objects), full_rebuild_at=rebuilt)


def rebuild_reason(
    ledger: Ledger | None,
    *,
    problem: str | None,
    input_uri: str,
    now: datetime,
    every_days: int,
    requested: bool,
) -> str | None:
    """Why this run rebuilds in full (None: it processes the delta). `problem`: why the ledger could not be read
    (None when it was, or when there is none); `every_days`: the cadence, 0 for none; `requested`: asked for this
    run (the execution input's `full_rebuild`, local_run --full-rebuild)."""
    if requested:
        return "a full rebuild was asked for this run (full_rebuild)"
    if problem:
        return f"the ledger cannot be used ({problem})"
    if ledger is None:
        return "no ledger yet: no earlier run with etl_incremental succeeded"
    if ledger.input_uri != input_uri:
        return f"the ledger is of {ledger.input_uri}, this run reads {input_uri}"
    if every_days and now - ledger.full_rebuild_at >= timedelta(days=every_days):
        age = (now - ledger.full_rebuild_at) / timedelta(days=1)
        return (
            f"the last full rebuild ({ledger.full_rebuild_at.isoformat(timespec='seconds')}) is {age:.1f} days old; "
            f"etl_full_rebuild_every_days is {every_days}"
        )
    return None


@dataclass(frozen=True)
class DeltaPlan:
    """What a run reads: `processed` (new + changed, or every object in a rebuild), what it skips and drops."""

    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    rebuild_reason: str | None = None
    previous_run: str | None = None
    listing: Mapping[str, str] = field(default_factory=dict)

    @property
    def processed(self) -> frozenset[str]:
        return frozenset(self.new + self.changed)

    @property
    def dropped(self) -> frozenset[str]:
        """The objects whose rows leave the history (their old rows: changed or deleted)."""
        return frozenset(self.changed + self.deleted)

    def describe(self) -> dict[str, Any]:
        """The summary's `objects`: counts, and the first KEYS_NAMED keys of each kind."""
        return {
            "listed": len(self.listing),
            "processed": len(self.processed),
            "new": len(self.new),
            "changed": len(self.changed),
            "deleted": len(self.deleted),
            "skipped_as_processed": len(self.unchanged),
            "changed_keys": list(self.changed[:KEYS_NAMED]),
            "deleted_keys": list(self.deleted[:KEYS_NAMED]),
            "new_keys": list(self.new[:KEYS_NAMED]),
        }


def plan_delta(ledger: Ledger | None, listing: Mapping[str, str], *, reason: str | None) -> DeltaPlan:
    """The run's delta from the ledger and this run's listing (key -> ETag); a rebuild (`reason`) reads all."""
    if reason is not None or ledger is None:
        return DeltaPlan(new=tuple(sorted(listing)), rebuild_reason=reason, listing=dict(listing))
    known = ledger.objects
    return DeltaPlan(
        new=tuple(sorted(key for key in listing if key not in known)),
        changed=tuple(sorted(key for key, etag in listing.items() if key in known and known[key] != etag)),
        deleted=tuple(sorted(key for key in known if key not in listing)),
        unchanged=tuple(sorted(key for key, etag in listing.items() if known.get(key) == etag)),
        previous_run=ledger.run,
        listing=dict(listing),
    )


def proposed_ledger(plan: DeltaPlan, previous: Ledger | None, *, run_id: str, input_uri: str, now: datetime) -> Ledger:
    """The ledger a run proposes: every object it listed with its ETag; the rebuild time moves on a rebuild."""
    rebuilt = now if plan.rebuild_reason is not None or previous is None else previous.full_rebuild_at
    return Ledger(run=run_id, input_uri=input_uri, objects=dict(plan.listing), full_rebuild_at=rebuilt)


def import_full_reason(plan: DeltaPlan, removed_interactions: int) -> str | None:
    """Why this run's import must be FULL whatever the delta's size (None: the delta may go INCREMENTAL)."""
    if plan.rebuild_reason is not None:
        return f"this run rebuilt the data in full: {plan.rebuild_reason}"
    if removed_interactions:
        return (
            f"{removed_interactions:,} interaction(s) of {len(plan.dropped):,} changed or deleted raw object(s) are no "
            "longer in the data; an INCREMENTAL import only adds, so the dataset is replaced FULL"
        )
    return None
