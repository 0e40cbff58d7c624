"""Which import mode each dataset and which training mode each solution gets in this run: pure decisions.

The configured modes (`import_mode`, each solution's `training_mode`) are what a deployment wants in steady
state; Personalize refuses them in states every deployment passes through:

- CreateDatasetImportJob: "If you haven't imported bulk records into the dataset previously, you can only
  specify FULL." So a dataset without an ACTIVE import job (a new deployment, a recreated dataset, only failed
  imports so far) is imported FULL. An INCREMENTAL job takes at most 1 GB (read as 10^9 bytes, the smaller
  reading, as batch planning does): a run whose files are larger is imported FULL. A FULL import replaces the
  dataset's earlier bulk data with this run's files: the same data when the run's files hold the whole history
  (the Glue job transforms everything under the raw prefix), older records lost when they hold only new ones.
- Every import job needs at least 1,000 interaction records, FULL or INCREMENTAL: a run below that cannot be
  imported in either mode (choosing FULL would only replace the dataset's history with a set too small to
  train on), so the decision refuses it (`ImportNotPossible`). The Glue job already fails such a run; this is
  the check at the point of the import. The Items and Users datasets have no such minimum.
- CreateSolutionVersion trainingMode UPDATE "can only be used when you already have an active solution version
  created from the input solution using the FULL option". So a solution without an ACTIVE version trained FULL
  (a new solution: first run, or a settings change that replaced it; only UPDATE, AUTOTRAIN or failed versions)
  trains FULL. An AUTOTRAIN version (automatic training) is not counted: the API names only FULL.

- With the incremental ETL (`etl_incremental`), a run writes the whole cleaned set (`interactions/`) and the delta
  (`interactions-delta/`: the interactions no earlier successful run imported). An INCREMENTAL import then takes
  the delta, and only when it is within an INCREMENTAL job's limits (at least 1,000 records, at most 1 GB) and the
  run did not rebuild nor lose rows of changed or deleted raw objects (an INCREMENTAL import only adds); otherwise
  the whole set is imported FULL with the reason. The decision then also names the run folder the import reads
  (`folder`).

Each decision is `{"mode", "reason"}` (and `folder` with the incremental ETL); the reason says which rule chose the
mode and the figures behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_contracts import run_layout

FULL, INCREMENTAL, UPDATE = "FULL", "INCREMENTAL", "UPDATE"
ACTIVE = "ACTIVE"
# CreateDatasetImportJob: at most 1 GB per INCREMENTAL import job.
INCREMENTAL_MAX_BYTES = 10**9
# Every import job of interactions needs at least this many records.
MIN_IMPORT_RECORDS = 1000
IMPORT_MODES = (FULL, INCREMENTAL)
TRAINING_MODES = (FULL, UPDATE)


@dataclass(frozen=True)
class Delta:
    """An incremental run's delta, from its `_summary.json` (`incremental`) and its `interactions-delta/` folder."""

    records: int
    size_bytes: int
    full_reason: str | None = None


class ImportNotPossible(Exception):
    """This run's data cannot be imported in any mode (fails the run before any import)."""


def _status_counts(jobs: Iterable[Mapping[str, Any]]) -> str:
    """"2 x CREATE FAILED, 1 x ACTIVE" (in first-seen order), or "none"."""
    counts: dict[str, int] = {}
    for job in jobs:
        status = str(job.get("status"))
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{n} x {status}" for status, n in counts.items()) or "none"


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} has value {value!r}; allowed: {', '.join(allowed)}")


def decide_import_mode(
    *,
    dataset: str,
    configured: str,
    import_jobs: Iterable[Mapping[str, Any]],
    size_bytes: int,
    records: int | None = None,
    delta: Delta | None = None,
) -> dict[str, str]:
    """The mode of this run's import into `dataset` ("interactions", "items", "users").

    `import_jobs`: every import job of the dataset (ListDatasetImportJobs summaries: `status`, `jobName`, ...);
    `size_bytes`: the total size of this run's files for it; `records`: the records this run imports, for the
    interactions (None: not checked, for Items / Users); `delta`: the incremental ETL's delta (None without it).
    Raises ImportNotPossible below MIN_IMPORT_RECORDS."""
    decision = _import_mode(dataset=dataset, configured=configured, import_jobs=import_jobs, size_bytes=size_bytes,
                            records=records, delta=delta)
    if delta is None:
        return decision
    delta_used = decision["mode"] == INCREMENTAL
    return {**decision, "folder": run_layout.INTERACTIONS_DELTA if delta_used else run_layout.INTERACTIONS}


def _import_mode(
    *,
    dataset: str,
    configured: str,
    import_jobs: Iterable[Mapping[str, Any]],
    size_bytes: int,
    records: int | None,
    delta: Delta | None,
) -> dict[str, str]:
    _check("import_mode", configured, IMPORT_MODES)
    if records is not None and records < MIN_IMPORT_RECORDS:
        raise ImportNotPossible(
            f"this run has {records:,} {dataset} records; every Personalize import job (FULL or INCREMENTAL) needs "
            f"at least {MIN_IMPORT_RECORDS:,}, so nothing is imported"
        )
    if configured == FULL:
        return {"mode": FULL, "reason": "import_mode is FULL"}
    jobs = list(import_jobs)
    active = [job for job in jobs if job.get("status") == ACTIVE]
    if not active:
        return {
            "mode": FULL,
            "reason": f"import_mode is INCREMENTAL, but the {dataset} dataset has no ACTIVE bulk import yet (its "
            f"import jobs: {_status_counts(jobs)}); Personalize accepts only FULL until one succeeded",
        }
    if delta is not None:
        return _delta_mode(dataset, delta, active)
    if size_bytes > INCREMENTAL_MAX_BYTES:
        return {
            "mode": FULL,
            "reason": f"import_mode is INCREMENTAL, but this run's {dataset} files are {size_bytes:,} bytes, over "
            f"the {INCREMENTAL_MAX_BYTES:,} bytes (1 GB) one INCREMENTAL import job takes",
        }
    return {
        "mode": INCREMENTAL,
        "reason": f"import_mode is INCREMENTAL; the {dataset} dataset has {len(active)} ACTIVE import(s) and this "
        f"run's files are {size_bytes:,} bytes (at most {INCREMENTAL_MAX_BYTES:,})",
    }


def _delta_mode(dataset: str, delta: Delta, active: list[Mapping[str, Any]]) -> dict[str, str]:
    """INCREMENTAL from the delta when it fits one INCREMENTAL job, else FULL from the whole set, saying why."""
    if delta.full_reason:
        return {"mode": FULL, "reason": f"import_mode is INCREMENTAL, but {delta.full_reason}"}
    if delta.records < MIN_IMPORT_RECORDS:
        return {
            "mode": FULL,
            "reason": f"import_mode is INCREMENTAL, but this run's delta holds {delta.records:,} new {dataset} "
            f"records; an INCREMENTAL import job needs at least {MIN_IMPORT_RECORDS:,}, so the whole set is "
            "imported FULL",
        }
    if delta.size_bytes > INCREMENTAL_MAX_BYTES:
        return {
            "mode": FULL,
            "reason": f"import_mode is INCREMENTAL, but this run's delta is {delta.size_bytes:,} bytes, over the "
            f"{INCREMENTAL_MAX_BYTES:,} bytes (1 GB) one INCREMENTAL import job takes, so the whole set is "
            "imported FULL",
        }
    return {
        "mode": INCREMENTAL,
        "reason": f"import_mode is INCREMENTAL; the {dataset} dataset has {len(active)} ACTIVE import(s) and this "
        f"run's delta holds {delta.records:,} new records in {delta.size_bytes:,} bytes (at least "
        f"{MIN_IMPORT_RECORDS:,}, at most {INCREMENTAL_MAX_BYTES:,})",
    }


def decide_training_mode(
    *, solution: str, solution_arn: str, configured: str, versions: Iterable[Mapping[str, Any]]
) -> dict[str, str]:
    """The training mode of `solution` in this run. `versions`: every version of the solution
    (ListSolutionVersions summaries, each with `status` and `trainingMode`, see `versions_to_describe`)."""
    _check(f"solutions.{solution}.training_mode", configured, TRAINING_MODES)
    if configured == FULL:
        return {"mode": FULL, "reason": "training_mode is FULL"}
    listed = list(versions)
    base = next((v for v in listed if v.get("status") == ACTIVE and v.get("trainingMode") == FULL), None)
    if base is None:
        modes = _status_counts({"status": f"{v.get('trainingMode')} {v.get('status')}"} for v in listed)
        return {
            "mode": FULL,
            "reason": f"training_mode is UPDATE, but solution {solution_arn} has no ACTIVE version trained FULL (its "
            f"versions: {modes}); UPDATE needs one",
        }
    return {
        "mode": UPDATE,
        "reason": f"training_mode is UPDATE; solution {solution_arn} has the ACTIVE FULL version "
        f"{base.get('solutionVersionArn')}",
    }


def versions_to_describe(versions: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ACTIVE versions whose summary lacks `trainingMode` (DescribeSolutionVersion has it)."""
    return [
        str(v["solutionVersionArn"])
        for v in versions
        if v.get("status") == ACTIVE and not v.get("trainingMode") and v.get("solutionVersionArn")
    ]
