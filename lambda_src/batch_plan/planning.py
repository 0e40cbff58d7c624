"""Split one solution's batch input across the fewest Personalize batch jobs within their limits.

Pure (standard library and the run layout contract): the handler lists S3 and writes the plan;
everything decided is here.

Limits (Amazon Personalize quotas, per job): at most 1 GB of input, at most 1000 input files, at
most 50 million records per file; the API reference adds that "the operation can handle up to 50
million records", so the records *of a job* are held to 50 million too. "1 GB" is read as 10^9
bytes, the smaller reading. A file over a per-file limit cannot be placed in any job: the plan
fails naming it (the ETL must write smaller files).

Records: the caller passes each file's count when it knows it (the ETL's `_summary.json`), or a
bound for every file (`records_per_file_max`: the Glue job writes at most 5 million records per
file). Otherwise a file's records are bounded by its size: the shortest record is
`{"userId":"x"}` (14 bytes) and records are separated by a newline, so n records take at least
15n - 1 bytes. A file whose bound exceeds a limit without a count is an error asking for the count.

Addressing: a batch job reads one S3 *path*, a single file or every file under a prefix. So:

- all files fit one job -> that job reads the solution's batch-input prefix itself (no copy, as
  the single job of today does);
- otherwise the files are packed into jobs: the number of jobs is first-fit decreasing's (by
  size; optimal for files of equal size such as the ETL writes, and never more than 11/9 of the
  optimum + 1), then the files are spread over that many jobs largest first, each into the
  least-loaded job with room, so the jobs are about equal (the longest job sets the wall time);
  when that spread cannot place a file, first-fit's own packing is kept. Deterministic;
  a job holding one file reads that file in place; a job holding several reads its own prefix
  `<run>/batch-jobs/<solution>/part-NNNN/`, where the files are copied first.

Why copies rather than one job per file: each batch job has a fixed start-up of many minutes and
at most 5 run at once per region, so 20 files as 20 jobs means 4 waves, where 3 packed jobs run in
one. A copy is a server-side S3 CopyObject (no data passes through Lambda; a file <= 1 GB needs
one request): for the 100 M-user run below, 20 requests (~$0.0001) and ~2.5 GB stored again until
the run prefix expires (~$0.06 a month at S3 Standard), a few seconds to a minute of copy time
with the copies of a job made in parallel. The part prefixes sit beside `batch-input/`, not under
it, so listing a solution's input never sees the copies.

Concurrency: the plan says how many of its jobs may run at once, for a Map's MaxConcurrency:
the per-region quota (5 batch inference jobs; 5 batch segment jobs, counted apart) minus jobs
already running, shared by the solutions of the run that use the same quota, at least 1 (a
Map's MaxConcurrency of 0 means *unlimited*; a job refused as over quota goes through the state
machine's busy loop) and at most the number of jobs.

State size: Step Functions state data is limited to 256 KiB, so the state gets `to_state()`:
counts and, while they fit `INLINE_JOBS_MAX_BYTES`, one small entry per job (no file lists).
The full plan (every file, copy and expected output) goes to S3 next to the copies (`_plan.json`),
with the jobs alone as a JSON array (`_jobs.json`) that a Distributed Map can read (ItemReader).
"""

from __future__ import annotations

import heapq
import json
import math
import posixpath
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from collections.abc import Callable, Iterable, Mapping

from pipeline_contracts import run_layout

__all__ = [
    "BATCH_INPUT_FOLDER",
    "BATCH_OUTPUT_FOLDER",
    "JOB_INPUT_FOLDER",
    "BatchPlan",
    "InputFile",
    "Job",
    "Limits",
    "PlanError",
    "count_records",
    "files_from_listing",
    "plan_batch_jobs",
]

BATCH_INPUT_FOLDER = run_layout.BATCH_INPUT
BATCH_OUTPUT_FOLDER = run_layout.BATCH_OUTPUT
OUT_SUFFIX = run_layout.BATCH_OUTPUT_SUFFIX
# The split jobs' inputs and plans, in the transformed bucket beside batch-input/.
JOB_INPUT_FOLDER = run_layout.BATCH_JOBS
PLAN_NAME = run_layout.BATCH_JOB_PLAN
JOBS_NAME = run_layout.BATCH_JOB_LIST

MIN_RECORD_BYTES = len('{"userId":"x"}')
INLINE_JOBS_MAX_BYTES = 64 * 1024
"""Above this the state carries no job list, only `jobs_key` (a quarter of the 256 KiB limit,
leaving room for the rest of the execution's state)."""
DEFAULT_QUOTAS = {"batch_inference": 5, "batch_segment": 5}

JobType = Literal["batch_inference", "batch_segment"]


class PlanError(ValueError):
    """The input cannot be planned (a file over a per-file limit, no file, a bad argument)."""


@dataclass(frozen=True)
class Limits:
    max_job_bytes: int = 10**9
    max_job_files: int = 1000
    max_file_records: int = 50_000_000
    max_job_records: int = 50_000_000


@dataclass(frozen=True)
class InputFile:
    key: str
    size: int
    records: int | None = None
    """Known count, or None (then bounded, see `records_bound`)."""

    def records_bound(self, records_per_file_max: int | None) -> int:
        by_size = (self.size + 1) // (MIN_RECORD_BYTES + 1)
        if self.records is not None:
            return self.records
        return by_size if records_per_file_max is None else min(by_size, records_per_file_max)


@dataclass
class Job:
    part: int
    files: list[InputFile] = field(default_factory=list)
    bytes: int = 0
    records: int = 0
    """Known records plus the bounds of files without a count (what the limit is checked on)."""

    def add(self, f: InputFile, records: int) -> None:
        self.files.append(f)
        self.bytes += f.size
        self.records += records


@dataclass
class BatchPlan:
    solution: str
    job_type: JobType
    input_bucket: str
    output_bucket: str
    source_prefix: str
    jobs_prefix: str
    output_prefix: str
    jobs: list[Job]
    max_concurrency: int
    records_known: bool
    limits: Limits
    job_names: list[str] | None = None

    # -- addressing ------------------------------------------------------------------------

    def job_input(self, job: Job) -> tuple[str, list[dict[str, str]]]:
        """(input S3 path, copies to make first) of one job."""
        if len(self.jobs) == 1:
            return f"s3://{self.input_bucket}/{self.source_prefix}", []
        if len(job.files) == 1:
            return f"s3://{self.input_bucket}/{job.files[0].key}", []
        prefix = self._part_prefix(self.jobs_prefix, job)
        names = _copy_names([f.key for f in job.files])
        return f"s3://{self.input_bucket}/{prefix}", [
            {"source": f.key, "target": prefix + name} for f, name in zip(job.files, names, strict=True)
        ]

    def job_output(self, job: Job) -> str:
        return f"s3://{self.output_bucket}/{self._part_prefix(self.output_prefix, job)}"

    def expected_outputs(self, job: Job) -> list[str]:
        """The `.out` keys the job must write: one per input file, named after the file it reads."""
        prefix = self._part_prefix(self.output_prefix, job)
        _, copies = self.job_input(job)
        if copies:
            return [prefix + posixpath.basename(c["target"]) + OUT_SUFFIX for c in copies]
        if len(self.jobs) == 1:
            return [prefix + f.key[len(self.source_prefix) :] + OUT_SUFFIX for f in job.files]
        return [prefix + posixpath.basename(job.files[0].key) + OUT_SUFFIX]

    @staticmethod
    def _part_prefix(base: str, job: Job) -> str:
        return f"{base}part-{job.part:04d}/"

    # -- documents -------------------------------------------------------------------------

    @property
    def plan_key(self) -> str:
        return self.jobs_prefix + PLAN_NAME

    @property
    def jobs_key(self) -> str:
        return self.jobs_prefix + JOBS_NAME

    def job_item(self, job: Job) -> dict[str, Any]:
        """One job as the state machine needs it to create and follow the job (no file list)."""
        input_uri, copies = self.job_input(job)
        item: dict[str, Any] = {
            "part": job.part,
            "input_uri": input_uri,
            "output_uri": self.job_output(job),
            "files": len(job.files),
            "bytes": job.bytes,
            "records": job.records if self.records_known else None,
            "copy": bool(copies),
        }
        if self.job_names is not None:
            item["job_name"] = self.job_names[job.part - 1]
        return item

    def totals(self) -> dict[str, Any]:
        return {
            "solution": self.solution,
            "job_type": self.job_type,
            "jobs_count": len(self.jobs),
            "files": sum(len(j.files) for j in self.jobs),
            "bytes": sum(j.bytes for j in self.jobs),
            "records": sum(j.records for j in self.jobs) if self.records_known else None,
            "copies": sum(len(self.job_input(j)[1]) for j in self.jobs),
            "max_concurrency": self.max_concurrency,
            "waves": math.ceil(len(self.jobs) / self.max_concurrency),
            "input_bucket": self.input_bucket,
            "output_bucket": self.output_bucket,
            "plan_key": self.plan_key,
            "jobs_key": self.jobs_key,
        }

    def document(self) -> dict[str, Any]:
        """The full plan (written to S3): totals, limits and, per job, files, copies and outputs."""
        jobs = []
        for job in self.jobs:
            _, copies = self.job_input(job)
            jobs.append({
                **self.job_item(job),
                "sources": [{"key": f.key, "size": f.size, "records": f.records} for f in job.files],
                "copies": copies,
                "expected_outputs": self.expected_outputs(job),
            })
        return {**self.totals(), "limits": vars(self.limits), "source_prefix": self.source_prefix, "jobs": jobs}

    def job_items(self) -> list[dict[str, Any]]:
        return [self.job_item(job) for job in self.jobs]

    def to_state(self, inline_max_bytes: int = INLINE_JOBS_MAX_BYTES) -> dict[str, Any]:
        """What the handler returns: totals, plus the job list while it is small."""
        state = {**self.totals(), "jobs": self.job_items()}
        if _json_size(state) > inline_max_bytes:
            state["jobs"] = None
        return state


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _copy_names(keys: list[str]) -> list[str]:
    """Names of the copies in a part prefix: the file names, numbered when two would collide."""
    names = [posixpath.basename(k) for k in keys]
    if len(set(names)) == len(names):
        return names
    return [f"{i:04d}-{name}" for i, name in enumerate(names, 1)]


# ----------------------------------------------------------------------------------------------


def _check_file(f: InputFile, limits: Limits, records_per_file_max: int | None) -> int:
    if not f.key or f.size < 0 or (f.records is not None and f.records < 0):
        raise PlanError(f"input file {f.key!r}: size {f.size} / records {f.records} are not valid")
    if f.size > limits.max_job_bytes:
        raise PlanError(
            f"input file {f.key} has {f.size:,} bytes, more than a batch job reads ({limits.max_job_bytes:,}); "
            "write smaller files"
        )
    bound = f.records_bound(records_per_file_max)
    record_limit = min(limits.max_file_records, limits.max_job_records)
    if bound > record_limit:
        if f.records is not None:
            lowered = record_limit < Limits.max_job_records
            raise PlanError(
                f"input file {f.key} has {f.records:,} records, more than the {record_limit:,} a batch job "
                + ("of this solution reads (max_job_records)" if lowered else "accepts in one file")
                + "; write smaller files"
            )
        raise PlanError(
            f"input file {f.key} ({f.size:,} bytes) may hold up to {bound:,} records, more than the "
            f"{record_limit:,} a batch job accepts in one file; pass its record count"
        )
    return bound


def _fits(job: Job, f: InputFile, records: int, limits: Limits) -> bool:
    return (
        len(job.files) < limits.max_job_files
        and job.bytes + f.size <= limits.max_job_bytes
        and job.records + records <= limits.max_job_records
    )


def _first_fit(ordered: list[InputFile], bounds: Mapping[str, int], limits: Limits) -> list[Job]:
    jobs: list[Job] = []
    open_jobs: list[Job] = []  # jobs not yet at the file limit
    for f in ordered:
        records = bounds[f.key]
        job = next((j for j in open_jobs if _fits(j, f, records, limits)), None)
        if job is None:
            job = Job(part=len(jobs) + 1)
            jobs.append(job)
            open_jobs.append(job)
        job.add(f, records)
        if len(job.files) == limits.max_job_files:
            open_jobs.remove(job)
    return jobs


def _spread(ordered: list[InputFile], bounds: Mapping[str, int], limits: Limits, count: int) -> list[Job] | None:
    """The files over `count` jobs, each into the least-loaded job (by bytes) with room; None
    when some file fits no job that way."""
    jobs = [Job(part=n) for n in range(1, count + 1)]
    heap = [(0, n) for n in range(count)]
    for f in ordered:
        records = bounds[f.key]
        skipped = []
        while heap and not _fits(jobs[heap[0][1]], f, records, limits):
            skipped.append(heapq.heappop(heap))
        if not heap:
            return None
        _, n = heapq.heappop(heap)
        jobs[n].add(f, records)
        heapq.heappush(heap, (jobs[n].bytes, n))
        for entry in skipped:
            heapq.heappush(heap, entry)
    return jobs


def plan_batch_jobs(
    files: Iterable[InputFile],
    *,
    solution: str,
    input_bucket: str,
    output_bucket: str,
    source_prefix: str,
    jobs_prefix: str,
    output_prefix: str,
    job_type: JobType = "batch_inference",
    limits: Limits = Limits(),
    records_per_file_max: int | None = None,
    quota: int | None = None,
    in_progress: int = 0,
    solutions_sharing_quota: int = 1,
    job_name: Callable[[int], str] | None = None,
    max_job_records: int | None = None,
) -> BatchPlan:
    """Plan the batch jobs of one solution. `source_prefix` is where its input files are,
    `jobs_prefix` where multi-file jobs get their copies (and the plan documents), `output_prefix`
    where each job writes under `part-NNNN/` (all three end with "/"). `job_name`, when given,
    names job number n (e.g. `pipeline_contracts.job_names.numbered_job_name` with the run's base).
    `max_job_records`, when given, lowers the records of one job below Personalize's limit (an
    Item-Affinity batch segment job reads at most `ITEM_AFFINITY_ITEMS_PER_JOB` items); a file over it
    fails the plan, naming the file."""
    if max_job_records is not None:
        if isinstance(max_job_records, bool) or not isinstance(max_job_records, int) or max_job_records < 1:
            raise PlanError(f"max_job_records {max_job_records!r} is not a whole number >= 1")
        limits = replace(limits, max_job_records=min(limits.max_job_records, max_job_records))
    files = list(files)
    if not files:
        raise PlanError(f"no batch input file under {source_prefix} for solution {solution}")
    for prefix in (source_prefix, jobs_prefix, output_prefix):
        if not prefix.endswith("/"):
            raise PlanError(f"prefix {prefix!r} must end with '/'")
    keys = [f.key for f in files]
    if len(set(keys)) != len(keys):
        raise PlanError(f"input file listed twice for solution {solution}")
    if jobs_prefix.startswith(source_prefix):
        raise PlanError(
            f"job prefix {jobs_prefix} is inside the input prefix {source_prefix}: copies would be read as input"
        )
    bounds = {f.key: _check_file(f, limits, records_per_file_max) for f in files}

    ordered = sorted(files, key=lambda f: (-f.size, f.key))
    jobs = _first_fit(ordered, bounds, limits)
    jobs = _spread(ordered, bounds, limits, len(jobs)) or jobs
    # Parts numbered by their first file, files in key order: part-0001 starts with the first key.
    for job in jobs:
        job.files.sort(key=lambda f: f.key)
    jobs.sort(key=lambda j: j.files[0].key)
    for number, job in enumerate(jobs, 1):
        job.part = number

    quota = DEFAULT_QUOTAS[job_type] if quota is None else quota
    free = (quota - max(0, in_progress)) // max(1, solutions_sharing_quota)
    # (Positional: the names are the fields' own.)
    return BatchPlan(
        solution, job_type, input_bucket, output_bucket, source_prefix, jobs_prefix, output_prefix, jobs,
        max_concurrency=max(1, min(free, len(jobs))),
        records_known=all(f.records is not None for f in files),
        limits=limits,
        job_names=[job_name(job.part) for job in jobs] if job_name is not None else None,
    )


def count_records(chunks: Iterable[bytes], stop_above: int | None = None) -> int:
    """The records (non-blank lines) of a JSON-lines file read as chunks; with `stop_above`, reading stops
    at the first record past it (the result is then `stop_above + 1`: the file is over the limit)."""
    records = 0
    in_record = False  # the current line has a non-blank byte
    for chunk in chunks:
        lines = chunk.split(b"\n")
        for index, line in enumerate(lines):
            in_record = in_record or bool(line.strip())
            if index < len(lines) - 1:  # the line ends in this chunk
                records += in_record
                in_record = False
                if stop_above is not None and records > stop_above:
                    return records
    return records + in_record


def files_from_listing(
    listing: Iterable[tuple[str, int]], source_prefix: str, records: Mapping[str, int] | None = None
) -> list[InputFile]:
    """Input files from (key, size) pairs under `source_prefix`: folder markers and any path with
    a part starting with `_` or `.` (`_SUCCESS`, Spark's `_temporary/`: Hadoop readers skip them
    too) are left out. `records` maps a key, or its path relative to the prefix, to its count."""
    records = records or {}
    out = []
    for key, size in listing:
        relative = key[len(source_prefix) :]
        if not key.startswith(source_prefix) or not relative or key.endswith("/"):
            continue
        if any(part.startswith(("_", ".")) for part in relative.split("/")):
            continue
        count = records.get(key, records.get(relative))
        out.append(InputFile(key=key, size=size, records=None if count is None else int(count)))
    return out
