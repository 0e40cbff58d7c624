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

Each decision is `{"mode", "reason"}`; the reason says which rule chose the mode and the figures behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

FULL, INCREMENTAL, UPDATE = "FULL", "INCREMENTAL", "UPDATE"
ACTIVE = "ACTIVE"
# CreateDatasetImportJob: at most 1 GB per INCREMENTAL import job.
INCREMENTAL_MAX_BYTES = 10**9
# Every import job of interactions needs at least this many records.
MIN_IMPORT_RECORDS = 1000
IMPORT_MODES = (FULL, INCREMENTAL)
TRAINING_MODES = (FULL, UPDATE)


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
) -> dict[str, str]:
    """The mode of this run's import into `dataset` ("interactions", "items", "users").

    `import_jobs`: every import job of the dataset (ListDatasetImportJobs summaries: `status`, `jobName`, ...);
    `size_bytes`: the total size of this run's files for it; `records`: the records this run imports, for the
    interactions (None: not checked, for Items / Users). Raises ImportNotPossible below MIN_IMPORT_RECORDS."""
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
