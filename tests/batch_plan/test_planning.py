"""Batch-job planning: the 100 M-user run, generated file lists against every limit, addressing,
concurrency, state size and the errors that name a file."""

from __future__ import annotations

import itertools
import json
import math
import random

import pytest

from lambda_src.batch_plan.planning import (
    INLINE_JOBS_MAX_BYTES,
    BatchPlan,
    InputFile,
    Limits,
    PlanError,
    count_records,
    files_from_listing,
    plan_batch_jobs,
)
from pipeline_contracts.solutions import ITEM_ATTRIBUTE_QUERIES_PER_JOB, OUTPUT_KINDS, batch_input_entry, query_files

SOURCE = "runs/r1/batch-input/movies/"
JOBS = "runs/r1/batch-jobs/movies/"
OUTPUT = "runs/r1/batch-output/movies/"
STATE_LIMIT = 256 * 1024


def make_plan(files: list[InputFile], **kw) -> BatchPlan:
    args = dict(solution="movies", input_bucket="transformed", output_bucket="curated",
                source_prefix=SOURCE, jobs_prefix=JOBS, output_prefix=OUTPUT)
    return plan_batch_jobs(files, **{**args, **kw})


def json_size(value) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def lower_bound(files: list[InputFile], limits: Limits, bounds: list[int]) -> int:
    return max(math.ceil(sum(f.size for f in files) / limits.max_job_bytes), math.ceil(len(files) / limits.max_job_files),
               math.ceil(sum(bounds) / limits.max_job_records))


def check_plan(plan: BatchPlan, files: list[InputFile], limits: Limits, records_per_file_max: int | None = None) -> None:
    """Every file in exactly one job, every job within every limit, parts numbered 1..n."""
    placed = [f for job in plan.jobs for f in job.files]
    assert sorted(placed, key=lambda f: f.key) == sorted(files, key=lambda f: f.key)
    assert [job.part for job in plan.jobs] == list(range(1, len(plan.jobs) + 1))
    for job in plan.jobs:
        assert 1 <= len(job.files) <= limits.max_job_files
        assert sum(f.size for f in job.files) == job.bytes <= limits.max_job_bytes
        records = sum(f.records_bound(records_per_file_max) for f in job.files)
        assert records == job.records <= limits.max_job_records
        assert all(f.records_bound(records_per_file_max) <= limits.max_file_records for f in job.files)
        assert [f.key for f in job.files] == sorted(f.key for f in job.files)
    assert [j.files[0].key for j in plan.jobs] == sorted(j.files[0].key for j in plan.jobs)
    bounds = [f.records_bound(records_per_file_max) for f in files]
    assert len(plan.jobs) >= lower_bound(files, limits, bounds)
    assert 1 <= plan.max_concurrency <= len(plan.jobs)


# ----------------------------------------------------------------------------------------------
# Scale: 100 million users


def user_file_bytes(first: int, last: int) -> int:
    """Bytes of the ETL's batch input lines {"userId":"<n>"} for users first..last (Spark's JSON
    writer: no spaces, one line each), by digit count."""
    total = 0
    for digits in range(1, 11):
        lo, hi = max(first, 10 ** (digits - 1)), min(last, 10**digits - 1)
        if lo <= hi:
            total += (hi - lo + 1) * (len('{"userId":""}\n') + digits)
    return total


def hundred_million_users(users_per_file: int) -> list[InputFile]:
    users = 100_000_000
    return [
        InputFile(f"{SOURCE}part-{i:05d}-c000.json", user_file_bytes(first, min(first + users_per_file, users + 1) - 1),
                  min(users_per_file, users + 1 - first))
        for i, first in enumerate(range(1, users + 1, users_per_file))
    ]


def test_a_run_over_100_million_users() -> None:
    files = hundred_million_users(5_000_000)
    assert len(files) == 20 and sum(f.records for f in files) == 100_000_000
    # The size formula against the lines themselves, on a range crossing digit counts.
    assert user_file_bytes(95, 123_456) == sum(len(json.dumps({"userId": str(n)}, separators=(",", ":"))) + 1 for n in range(95, 123_457))
    plan = make_plan(files, job_name=lambda part: f"pbp-dev-batch-weekly-0123456789-movies-{part:04d}")
    check_plan(plan, files, Limits())
    # 2.19 GB (14 bytes + the digits per user) needs 3 jobs (the lower bound), spread 7/7/6 files
    # (~770 MB each), all running at once within the quota of 5.
    assert sum(f.size for f in files) == 2_188_888_898
    assert sorted(len(j.files) for j in plan.jobs) == [6, 7, 7]
    assert len(plan.jobs) == lower_bound(files, Limits(), [f.records for f in files])
    state = plan.to_state()
    assert (state["jobs_count"], state["max_concurrency"], state["waves"], state["copies"]) == (3, 3, 1, 20)
    assert state["records"] == 100_000_000 and state["jobs"] is not None
    assert json_size(state) < 2048 and json_size(plan.document()) < 16 * 1024
    assert [j["job_name"] for j in state["jobs"]] == [f"pbp-dev-batch-weekly-0123456789-movies-{p:04d}" for p in (1, 2, 3)]


@pytest.mark.parametrize("users_per_file", [5_000_000, 1_000_000, 100_000, 10_000])
def test_100_million_users_in_smaller_files_keep_the_state_small(users_per_file: int) -> None:
    """However the ETL cuts the 100 M users, the state stays far below 256 KiB; the full plan
    (every copy) can grow past it and lives in S3."""
    files = hundred_million_users(users_per_file)
    plan = make_plan(files)
    check_plan(plan, files, Limits())
    state = plan.to_state()
    assert state["files"] == len(files) == math.ceil(100_000_000 / users_per_file)
    assert json_size(state) <= INLINE_JOBS_MAX_BYTES < STATE_LIMIT
    assert len(plan.jobs) == lower_bound(files, Limits(), [f.records for f in files])
    if users_per_file == 10_000:  # 10,000 files: 10 jobs by the 1000-file limit
        assert len(plan.jobs) == 10 and json_size(plan.document()) > STATE_LIMIT


def test_a_plan_too_big_for_the_state_returns_counts_and_the_s3_key() -> None:
    files = [InputFile(f"{SOURCE}f{i:05d}.json", 600_000_000, 1) for i in range(2000)]  # one job each
    plan = make_plan(files)
    check_plan(plan, files, Limits())
    state = plan.to_state()
    assert state["jobs"] is None and state["jobs_key"] == JOBS + "_jobs.json" and state["plan_key"] == JOBS + "_plan.json"
    assert state["jobs_count"] == 2000 and json_size(state) < 1024
    assert json_size(plan.job_items()) > INLINE_JOBS_MAX_BYTES


# ----------------------------------------------------------------------------------------------
# Generated file lists


def generated_files(rnd: random.Random, limits: Limits) -> list[InputFile]:
    n = rnd.choice([1, 2, 3, 10, 100, 1000, 2500])
    shape = rnd.choice(["equal", "uniform", "heavy", "large"])
    files = []
    for i in range(n):
        if shape == "equal":
            size = limits.max_job_bytes // rnd.choice([3, 7, 8, 1000])
        elif shape == "uniform":
            size = rnd.randrange(0, limits.max_job_bytes // 4)
        elif shape == "heavy":
            size = min(limits.max_job_bytes, int(rnd.paretovariate(1.2) * limits.max_job_bytes / 50))
        else:
            size = rnd.randrange(limits.max_job_bytes // 2, limits.max_job_bytes + 1)
        records = None if rnd.random() < 0.2 else min(rnd.randrange(0, size // 15 + 1), limits.max_file_records)
        files.append(InputFile(f"{SOURCE}{rnd.choice(['', 'sub/'])}part-{i:05d}-{rnd.randrange(10**6)}.json", size, records))
    return files


@pytest.mark.parametrize("seed", range(40))
def test_generated_file_lists_land_once_within_every_limit(seed: int) -> None:
    rnd = random.Random(seed)
    limits = rnd.choice([
        Limits(),
        Limits(max_job_bytes=10_000_000, max_job_files=7, max_file_records=400_000, max_job_records=900_000),
        Limits(max_job_bytes=10**9, max_job_files=50, max_file_records=50_000_000, max_job_records=60_000_000),
    ])
    per_file = rnd.choice([None, limits.max_file_records // 2])
    files = [f for f in generated_files(rnd, limits) if f.records_bound(per_file) <= min(limits.max_file_records, limits.max_job_records)]
    if not files:
        return
    in_progress = rnd.randrange(0, 7)
    plan = make_plan(files, limits=limits, records_per_file_max=per_file, in_progress=in_progress)
    check_plan(plan, files, limits, per_file)
    # Deterministic: the same files in any order give the same plan.
    shuffled = files[:]
    rnd.shuffle(shuffled)
    again = make_plan(shuffled, limits=limits, records_per_file_max=per_file, in_progress=in_progress)
    assert again.document() == plan.document()
    # Addressing: a job reads in place or its own part prefix holding exactly its files.
    for job in plan.jobs:
        uri, copies = plan.job_input(job)
        if len(plan.jobs) == 1:
            assert uri == f"s3://transformed/{SOURCE}" and not copies
        elif len(job.files) == 1:
            assert uri == f"s3://transformed/{job.files[0].key}" and not copies
        else:
            assert uri == f"s3://transformed/{JOBS}part-{job.part:04d}/"
            assert [c["source"] for c in copies] == [f.key for f in job.files]
            targets = [c["target"] for c in copies]
            assert len(set(targets)) == len(targets) and all(t.startswith(uri[len("s3://transformed/"):]) for t in targets)
        outputs = plan.expected_outputs(job)
        assert len(outputs) == len(job.files) == len(set(outputs))
        assert all(o.startswith(f"{OUTPUT}part-{job.part:04d}/") and o.endswith(".json.out") for o in outputs)


def optimal_jobs(sizes: list[int], capacity: int) -> int:
    """Fewest bins by brute force over assignments (small inputs only)."""
    n = len(sizes)
    for bins in range(1, n + 1):
        for assignment in itertools.product(range(bins), repeat=n):
            loads = [0] * bins
            for size, b in zip(sizes, assignment):
                loads[b] += size
            if max(loads) <= capacity:
                return bins
    return n


@pytest.mark.parametrize("seed", range(60))
def test_job_count_is_within_first_fit_decreasings_bound_of_the_optimum(seed: int) -> None:
    rnd = random.Random(1000 + seed)
    limits = Limits(max_job_bytes=100, max_job_files=1000, max_file_records=10**9, max_job_records=10**9)
    sizes = [rnd.randrange(1, 101) for _ in range(rnd.randrange(1, 8))]
    files = [InputFile(f"{SOURCE}f{i}", s, 0) for i, s in enumerate(sizes)]
    plan = make_plan(files, limits=limits)
    check_plan(plan, files, limits)
    best = optimal_jobs(sizes, 100)
    assert best <= len(plan.jobs) <= 11 / 9 * best + 6 / 9


# ----------------------------------------------------------------------------------------------
# Concurrency, addressing details, errors


@pytest.mark.parametrize("job_type", ["batch_inference", "batch_segment"])
def test_concurrency_follows_the_quota_and_never_reaches_zero(job_type: str) -> None:
    files = [InputFile(f"{SOURCE}f{i:02d}", 600_000_000, 1) for i in range(12)]  # 12 single-file jobs
    seen = {}
    for in_progress in range(0, 8):
        for sharing in (1, 2, 3):
            plan = make_plan(files, job_type=job_type, in_progress=in_progress, solutions_sharing_quota=sharing)
            c = plan.max_concurrency
            seen[in_progress, sharing] = c
            assert 1 <= c <= 5
            if 5 - in_progress >= sharing:
                assert c * sharing + in_progress <= 5 and (c + 1) * sharing + in_progress > 5
            else:
                assert c == 1  # MaxConcurrency 0 would mean unlimited; the busy loop absorbs the rest
    assert seen[0, 1] == 5 and seen[2, 1] == 3 and seen[0, 2] == 2 and seen[5, 1] == 1
    assert make_plan(files[:2]).max_concurrency == 2  # never more than the jobs
    assert make_plan(files, quota=20).max_concurrency == 12


def test_one_job_reads_the_input_prefix_in_place() -> None:
    files = [InputFile(f"{SOURCE}a.json", 10, 1), InputFile(f"{SOURCE}sub/b.json", 10, 1)]
    plan = make_plan(files)
    (job,) = plan.jobs
    assert plan.job_input(job) == (f"s3://transformed/{SOURCE}", [])
    assert plan.job_output(job) == f"s3://curated/{OUTPUT}part-0001/"
    assert plan.expected_outputs(job) == [f"{OUTPUT}part-0001/a.json.out", f"{OUTPUT}part-0001/sub/b.json.out"]
    assert plan.to_state()["copies"] == 0


def test_copies_with_the_same_file_name_are_numbered() -> None:
    files = [InputFile(f"{SOURCE}x/part.json", 300, 1), InputFile(f"{SOURCE}y/part.json", 300, 1), InputFile(f"{SOURCE}z.json", 600, 1)]
    plan = make_plan(files, limits=Limits(max_job_bytes=600))
    multi = next(j for j in plan.jobs if len(j.files) == 2)
    _, copies = plan.job_input(multi)
    assert [c["target"] for c in copies] == [f"{JOBS}part-{multi.part:04d}/0001-part.json", f"{JOBS}part-{multi.part:04d}/0002-part.json"]


@pytest.mark.parametrize(
    ("files", "kw", "message"),
    [
        ([InputFile(f"{SOURCE}big.json", 10**9 + 1, 1)], {}, r"input file runs/r1/batch-input/movies/big.json has 1,000,000,001 bytes"),
        ([InputFile(f"{SOURCE}many.json", 900_000_000, 50_000_001)], {}, r"many.json has 50,000,001 records"),
        ([InputFile(f"{SOURCE}unknown.json", 800_000_000)], {}, r"unknown.json \(800,000,000 bytes\) may hold up to 53,333,333 records, more than the 50,000,000 .*pass its record count"),
        ([], {}, r"no batch input file under runs/r1/batch-input/movies/ for solution movies"),
        ([InputFile(f"{SOURCE}a", 1, 1)] * 2, {}, r"listed twice"),
        ([InputFile(f"{SOURCE}a", 1, 1)], {"jobs_prefix": SOURCE + "parts/"}, r"inside the input prefix"),
        ([InputFile(f"{SOURCE}a", -1, 1)], {}, r"not valid"),
    ],
)
def test_inputs_that_cannot_be_planned_are_errors_naming_the_file(files, kw, message) -> None:
    with pytest.raises(PlanError, match=message):
        make_plan(files, **kw)


def test_an_unknown_count_is_bounded_by_size_or_by_the_etls_records_per_file() -> None:
    unknown = InputFile(f"{SOURCE}unknown.json", 800_000_000)
    assert unknown.records_bound(None) == 800_000_001 // 15 > 50_000_000
    plan = make_plan([unknown], records_per_file_max=5_000_000)
    assert plan.jobs[0].records == 5_000_000 and plan.to_state()["records"] is None
    assert InputFile("k", 29).records_bound(None) == 2  # {"userId":"x"}\n{"userId":"y"} is 29 bytes


def test_files_from_listing_skips_markers_folders_and_other_prefixes() -> None:
    listing = [(f"{SOURCE}_SUCCESS", 0), (f"{SOURCE}.hidden", 3), (f"{SOURCE}sub/", 0), (f"{SOURCE}a.json", 10),
               (f"{SOURCE}sub/b.json", 20), (f"{SOURCE}sub/_temporary/x", 5), ("runs/r1/batch-input/other/c.json", 7)]
    files = files_from_listing(listing, SOURCE, {"a.json": 3, f"{SOURCE}sub/b.json": 4})
    assert files == [InputFile(f"{SOURCE}a.json", 10, 3), InputFile(f"{SOURCE}sub/b.json", 20, 4)]


def test_a_lower_job_record_limit_packs_item_files_into_jobs_of_at_most_that_many() -> None:
    limit = 500  # pipeline_contracts.solutions.ITEM_AFFINITY_ITEMS_PER_JOB
    rnd = random.Random(3)
    files = [InputFile(f"{SOURCE}items-{i:03d}.json", size=25 * n, records=n) for i, n in
             enumerate(rnd.randint(1, limit) for _ in range(40))]
    plan = make_plan(files, max_job_records=limit, job_type="batch_segment")
    check_plan(plan, files, Limits(max_job_records=limit))
    assert all(job.records <= limit for job in plan.jobs)
    assert len(plan.jobs) >= math.ceil(sum(f.records for f in files) / limit) > 1
    # Without it, everything is one job reading the prefix in place.
    (job,) = make_plan(files).jobs
    assert make_plan(files).job_input(job) == (f"s3://transformed/{SOURCE}", [])
    # The limit never raises Personalize's own.
    assert make_plan(files, max_job_records=10**9).limits.max_job_records == Limits().max_job_records


def test_a_file_over_the_lower_limit_fails_naming_it() -> None:
    files = [InputFile(SOURCE + "a.json", 100, 500), InputFile(SOURCE + "b.json", 100, 501)]
    with pytest.raises(PlanError, match=rf"input file {SOURCE}b.json has 501 records, more than the 500 a batch job of this solution"):
        make_plan(files, max_job_records=500)
    for bad in (0, -1, True, 1.5):
        with pytest.raises(PlanError, match="max_job_records"):
            make_plan(files, max_job_records=bad)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_count_records_over_any_chunking(size: int) -> None:
    body = b'{"itemId":"a"}\n\n  \n{"itemId":"b"}\r\n{"itemId":"c"}'  # blank lines are not records; no final newline
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    assert count_records(chunks) == 3
    assert count_records(chunks, stop_above=1) == 2
    assert count_records(chunks, stop_above=3) == 3
    assert count_records([]) == 0


@pytest.mark.parametrize("count", [0, 1, 10, 11, 20, 21, 25])
def test_item_attribute_queries_are_planned_at_most_ten_a_job_each_once(count: int) -> None:
    """The queries files the ETL writes (`query_files`), planned as the state machine asks (the kind's
    `max_job_records`): ceil(count / 10) jobs, none over 10 queries, every query in exactly one job."""
    kind = OUTPUT_KINDS["item_attribute_affinity"]
    per_job = kind.max_job_records
    assert per_job == ITEM_ATTRIBUTE_QUERIES_PER_JOB == 10
    queries = [f'ITEMS.GENRES = "genre {n}"' for n in range(count)]
    files = query_files(queries)
    source = "runs/r1/" + batch_input_entry(kind.input_kind, "genre_fans")
    inputs = [InputFile(source + name, size=sum(len(q) + 20 for q in lines), records=len(lines))
              for name, lines in files.items()]
    if count == 0:
        with pytest.raises(PlanError, match="no batch input file"):
            make_plan(inputs, source_prefix=source, max_job_records=per_job, job_type=kind.job_type)
        return
    plan = make_plan(inputs, source_prefix=source, max_job_records=per_job, job_type=kind.job_type)
    assert len(plan.jobs) == math.ceil(count / per_job)
    assert all(job.records <= per_job for job in plan.jobs)
    planned = [query for job in plan.jobs for f in job.files for query in files[f.key[len(source):]]]
    assert sorted(planned) == sorted(queries)  # each query exactly once
    # Each job reads its own file (in place when it is the only job): never two files' queries at once.
    for job in plan.jobs:
        assert len(job.files) == 1 and plan.job_input(job)[1] == []
