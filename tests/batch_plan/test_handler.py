"""plan_batch_jobs and place_job_input against moto S3: listing, plan documents, copies, names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambda_src.batch_plan import handler as H
from lambda_src.batch_plan.planning import Limits, PlanError
from pipeline_contracts.job_names import PERSONALIZE_NAME_MAX, is_personalize_name, numbered_job_name
from pipeline_contracts.solutions import ITEM_AFFINITY_ITEMS_PER_JOB, batch_input_entry

from .conftest import INPUT_BUCKET, OUTPUT_BUCKET

ROOT = Path(__file__).resolve().parents[2]
RUN = "runs/r1/"
SOURCE = RUN + "batch-input/movies/"


def put_inputs(s3: Any, sizes: dict[str, int]) -> dict[str, bytes]:
    bodies = {}
    for name, size in sizes.items():
        line = b'{"userId":"%s"}\n' % name.encode()
        body = (line * (size // len(line) + 1))[:size]
        s3.client.put_object(Bucket=INPUT_BUCKET, Key=SOURCE + name, Body=body)
        bodies[name] = body
    return bodies


def event(**extra: Any) -> dict[str, Any]:
    return {"input_bucket": INPUT_BUCKET, "output_bucket": OUTPUT_BUCKET, "run_prefix": RUN, "solution": "movies", **extra}


def keys(s3: Any, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3.client.list_objects_v2(Bucket=INPUT_BUCKET, Prefix=prefix).get("Contents", []))


def small_limits(monkeypatch: Any, **kw: int) -> None:
    """Personalize's limits scaled down so a test's few KB split like gigabytes would."""
    real = H.plan

    def plan(files, **args):
        return real(files, **{**args, "limits": Limits(**kw)})

    monkeypatch.setattr(H, "plan", plan)


def test_one_job_in_place_and_the_plan_written(s3: Any, lambda_context: Any) -> None:
    put_inputs(s3, {"part-0.json": 300, "part-1.json": 200, "_SUCCESS": 0})
    state = H.plan_batch_jobs(event(records={"part-0.json": 20, SOURCE + "part-1.json": 13}, kms_key_id=s3.kms_key_id,
                                    job_name_base="pbp-dev-batch-movies-weekly-0123456789"), lambda_context)
    assert {k: state[k] for k in ("jobs_count", "files", "bytes", "records", "copies", "max_concurrency", "waves")} == {
        "jobs_count": 1, "files": 2, "bytes": 500, "records": 33, "copies": 0, "max_concurrency": 1, "waves": 1}
    (job,) = state["jobs"]
    assert job == {"part": 1, "input_uri": f"s3://{INPUT_BUCKET}/{SOURCE}", "output_uri": f"s3://{OUTPUT_BUCKET}/{RUN}batch-output/movies/part-0001/",
                   "files": 2, "bytes": 500, "records": 33, "copy": False, "job_name": "pbp-dev-batch-movies-weekly-0123456789-0001"}
    plan_doc = json.loads(s3.client.get_object(Bucket=INPUT_BUCKET, Key=state["plan_key"])["Body"].read())
    assert plan_doc["jobs"][0]["expected_outputs"] == [f"{RUN}batch-output/movies/part-0001/part-{n}.json.out" for n in (0, 1)]
    assert json.loads(s3.client.get_object(Bucket=INPUT_BUCKET, Key=state["jobs_key"])["Body"].read()) == state["jobs"]
    head = s3.client.head_object(Bucket=INPUT_BUCKET, Key=state["plan_key"])
    assert head["ServerSideEncryption"] == "aws:kms" and s3.kms_key_id in head["SSEKMSKeyId"]
    # Placing a job that reads in place copies nothing.
    assert H.place_job_input({"input_bucket": INPUT_BUCKET, "plan_key": state["plan_key"], "part": 1}, lambda_context) == {
        "part": 1, "input_uri": job["input_uri"], "copied": 0, "bytes": 0, "removed": 0}


def test_split_jobs_get_their_files_copied_and_nothing_else(s3: Any, lambda_context: Any, monkeypatch: Any) -> None:
    small_limits(monkeypatch, max_job_bytes=1000, max_job_files=3)
    sizes = {f"part-{i}.json": 300 for i in range(7)} | {"big.json": 1000}
    bodies = put_inputs(s3, sizes)
    state = H.plan_batch_jobs(event(records_per_file_max=100, in_progress=3), lambda_context)
    assert state["jobs_count"] == 4 and state["files"] == 8 and state["copies"] == 7 and state["max_concurrency"] == 2
    assert state["records"] is None  # counts were bounded, not known
    jobs = {j["part"]: j for j in state["jobs"]}
    single = [j for j in jobs.values() if j["files"] == 1]
    assert [j["input_uri"] for j in single] == [f"s3://{INPUT_BUCKET}/{SOURCE}big.json"]
    # A stray object from an earlier attempt in a part prefix must not be read by that job.
    multi = [j for j in jobs.values() if j["copy"]]
    stray_prefix = multi[0]["input_uri"].split("/", 3)[3]
    s3.client.put_object(Bucket=INPUT_BUCKET, Key=stray_prefix + "old.json", Body=b"{}")
    copied = set()
    for job in jobs.values():
        result = H.place_job_input({"input_bucket": INPUT_BUCKET, "plan_key": state["plan_key"], "part": job["part"],
                                    "kms_key_id": s3.kms_key_id}, lambda_context)
        prefix = job["input_uri"].split("/", 3)[3]
        if not job["copy"]:
            assert result["copied"] == 0
            continue
        placed = keys(s3, prefix)
        assert len(placed) == job["files"] == result["copied"] and result["bytes"] == job["bytes"] == 300 * job["files"]
        assert result["removed"] == (1 if prefix == stray_prefix else 0)
        for key in placed:
            name = key.rsplit("/", 1)[1]
            obj = s3.client.get_object(Bucket=INPUT_BUCKET, Key=key)
            assert obj["Body"].read() == bodies[name] and obj["ServerSideEncryption"] == "aws:kms"
            copied.add(name)
    assert copied == {n for n in sizes if n != "big.json"}
    assert keys(s3, SOURCE) == sorted(SOURCE + n for n in sizes)  # the input itself is untouched


def test_a_file_over_the_record_limit_fails_naming_it(s3: Any, lambda_context: Any) -> None:
    put_inputs(s3, {"a.json": 100, "b.json": 100})
    with pytest.raises(PlanError, match=r"input file runs/r1/batch-input/movies/b.json has 50,000,001 records"):
        H.plan_batch_jobs(event(records={"b.json": 50_000_001}), lambda_context)
    with pytest.raises(PlanError, match="no batch input file under runs/r1/batch-input/other/"):
        H.plan_batch_jobs(event(solution="other"), lambda_context)


def test_todays_single_solution_layout_and_segment_jobs(s3: Any, lambda_context: Any) -> None:
    s3.client.put_object(Bucket=INPUT_BUCKET, Key=RUN + "batch-input/part-0.json", Body=b'{"itemId":"1"}\n')
    state = H.plan_batch_jobs(event(solution="segments", source_prefix=RUN + "batch-input", job_type="batch_segment", in_progress=9), lambda_context)
    assert state["job_type"] == "batch_segment" and state["max_concurrency"] == 1
    assert state["jobs"][0]["input_uri"] == f"s3://{INPUT_BUCKET}/{RUN}batch-input/"
    assert state["plan_key"] == RUN + "batch-jobs/segments/_plan.json"


ITEMS_SOURCE = RUN + batch_input_entry("items", "affinity")


def put_item_files(s3: Any, lines: dict[str, int]) -> None:
    """Item files as the ETL writes them: one {"itemId"} line per item, `lines[name]` lines each."""
    for name, count in lines.items():
        body = b"".join(b'{"itemId":"item-%06d"}\n' % n for n in range(count))
        s3.client.put_object(Bucket=INPUT_BUCKET, Key=ITEMS_SOURCE + name, Body=body)


def test_item_affinity_jobs_hold_at_most_the_item_limit_counted_from_the_files(s3: Any, lambda_context: Any) -> None:
    limit = ITEM_AFFINITY_ITEMS_PER_JOB
    # Two full files, two small ones that share a job (copied to its part prefix), all without counts:
    # the handler counts their lines (by size alone, each full file could hold more than the limit, and
    # the two small ones, 300 + 150 records, more than the limit together).
    put_item_files(s3, {"part-00000.json": limit, "part-00001.json": limit, "part-00002.json": 300, "part-00003.json": 150})
    base = "pbp-dev-batch-affinity-weekly-0123456789"
    state = H.plan_batch_jobs(event(solution="affinity", source_prefix=ITEMS_SOURCE, job_type="batch_segment",
                                    records_per_file_max=5_000_000, max_job_records=limit, job_name_base=base),
                              lambda_context)
    assert state["jobs_count"] == 3 and state["records"] == 2 * limit + 450
    jobs = state["jobs"]
    assert [j["records"] for j in jobs] == [limit, limit, 450] and all(j["records"] <= limit for j in jobs)
    assert [j["input_uri"] for j in jobs[:2]] == [f"s3://{INPUT_BUCKET}/{ITEMS_SOURCE}part-0000{n}.json" for n in (0, 1)]
    assert jobs[2]["copy"] and jobs[2]["input_uri"] == f"s3://{INPUT_BUCKET}/{RUN}batch-jobs/affinity/part-0003/"
    assert [j["output_uri"] for j in jobs] == [f"s3://{OUTPUT_BUCKET}/{RUN}batch-output/affinity/part-000{n}/" for n in (1, 2, 3)]
    assert [j["job_name"] for j in jobs] == [f"{base}-000{n}" for n in (1, 2, 3)]
    # Without the lower limit the same files fit one job reading the items prefix in place.
    state = H.plan_batch_jobs(event(solution="similar", source_prefix=ITEMS_SOURCE, records_per_file_max=5_000_000), lambda_context)
    assert [(j["input_uri"], j["output_uri"], j["copy"]) for j in state["jobs"]] == [
        (f"s3://{INPUT_BUCKET}/{ITEMS_SOURCE}", f"s3://{OUTPUT_BUCKET}/{RUN}batch-output/similar/part-0001/", False)]


def test_an_item_file_over_the_job_limit_fails_naming_it(s3: Any, lambda_context: Any) -> None:
    limit = ITEM_AFFINITY_ITEMS_PER_JOB
    put_item_files(s3, {"part-00000.json": limit, "part-00001.json": limit + 1})
    with pytest.raises(PlanError, match=rf"input file {ITEMS_SOURCE}part-00001.json has more than {limit} records.*affinity"):
        H.plan_batch_jobs(event(solution="affinity", source_prefix=ITEMS_SOURCE, max_job_records=limit), lambda_context)
    # A given count is held to the limit as well, without reading the file.
    with pytest.raises(PlanError, match=rf"input file {ITEMS_SOURCE}part-00000.json has 501 records, more than the {limit}"):
        H.plan_batch_jobs(event(solution="affinity", source_prefix=ITEMS_SOURCE, max_job_records=limit,
                                records={"part-00000.json": 501, "part-00001.json": 3}), lambda_context)


def test_the_etl_summary_counts_the_files_so_none_is_read(s3: Any, lambda_context: Any, monkeypatch: Any) -> None:
    """The summary's per-file counts (keys relative to the run folder, as the Glue job writes them, the queries
    of each solution one level deeper) pack the jobs; only a file it does not count is read, and an explicit
    `records` entry wins over it."""
    limit = ITEM_AFFINITY_ITEMS_PER_JOB
    put_item_files(s3, {"part-00000.json": 400, "part-00001.json": 300, "part-00002.json": 100})
    relative = ITEMS_SOURCE[len(RUN):]
    summary = {
        "status": "SUCCEEDED",
        "batch_inputs": {
            # The summary says 450 and 50 where the files hold 400 and 300: the plan must follow the summary.
            "items": {"records": 500, "files": {relative + "part-00000.json": 450, relative + "part-00001.json": 50}},
            "item_attributes": {"genre_fans": {"records": 2, "files": {"batch-input-queries/genre_fans/q.json": 2}}},
        },
    }
    s3.client.put_object(Bucket=INPUT_BUCKET, Key=RUN + "_summary.json", Body=json.dumps(summary).encode())
    reads: list[str] = []
    original = H.count_records
    monkeypatch.setattr(H, "count_records", lambda chunks, stop_above: reads.append("read") or original(chunks, stop_above=stop_above))
    common = {"solution": "affinity", "source_prefix": ITEMS_SOURCE, "job_type": "batch_segment", "max_job_records": limit}
    state = H.plan_batch_jobs(event(**common, summary_key=RUN + "_summary.json"), lambda_context)
    assert reads == ["read"]  # part-00002.json alone, which the summary does not count
    assert state["records"] == 450 + 50 + 100 and [j["records"] for j in state["jobs"]] == [450, 150]
    assert H.summary_counts(INPUT_BUCKET, RUN, RUN + "_summary.json")[RUN + "batch-input-queries/genre_fans/q.json"] == 2
    # An explicit count wins; a missing summary leaves every file to be counted.
    state = H.plan_batch_jobs(event(**common, summary_key=RUN + "_summary.json", records={"part-00000.json": 10}),
                              lambda_context)
    assert state["records"] == 10 + 50 + 100
    reads.clear()
    state = H.plan_batch_jobs(event(**common, summary_key=RUN + "missing/_summary.json"), lambda_context)
    assert reads == ["read"] * 3 and state["records"] == 800


def test_long_job_name_bases_give_cut_distinct_names_with_the_base_beginning(s3: Any, lambda_context: Any, monkeypatch: Any) -> None:
    small_limits(monkeypatch, max_job_files=1)
    put_inputs(s3, {f"part-{i:02d}.json": 50 for i in range(12)})
    base = "pbp-dev-batch-movies-" + "m" * 31 + "-0123456789"
    assert len(base) == PERSONALIZE_NAME_MAX
    names = [j["job_name"] for j in H.plan_batch_jobs(event(job_name_base=base), lambda_context)["jobs"]]
    assert names == [numbered_job_name(base, n) for n in range(1, 13)] and len(set(names)) == 12
    assert all(is_personalize_name(n) and n.startswith("pbp-dev-batch-movies-") and n != base for n in names)


@pytest.mark.parametrize(
    "bad",
    [{"input_bucket": ""}, {"solution": None}, {"job_type": "batch_ranking"}, {"records": {"a": "1"}}, {"in_progress": -1},
     {"quota": True}, {"job_name_base": "-bad"}, {"max_job_records": 0}, {"max_job_records": "500"}, {"job_name_base": 5}, {"solution": "a/b"}, {"solution": "s" * 64}],
)
def test_bad_plan_events(s3: Any, lambda_context: Any, bad: dict) -> None:
    put_inputs(s3, {"a.json": 10})
    with pytest.raises(H.InvalidEvent):
        H.plan_batch_jobs({**event(), **bad}, lambda_context)


def test_bad_place_events(s3: Any, lambda_context: Any) -> None:
    put_inputs(s3, {"a.json": 10})
    state = H.plan_batch_jobs(event(), lambda_context)
    for bad in ({"part": 0}, {"part": 2}, {"plan_key": ""}):
        with pytest.raises(H.InvalidEvent):
            H.place_job_input({"input_bucket": INPUT_BUCKET, "plan_key": state["plan_key"], "part": 1, **bad}, lambda_context)


def test_its_lambda_asset_is_the_package_and_its_contracts(tmp_path: Path) -> None:
    """Built as the stacks build every function's asset (its package plus the contracts it imports),
    the handler imports in an isolated interpreter with that directory alone."""
    from stacks.bundling import package_files, with_contracts

    files = with_contracts(package_files(ROOT / "lambda_src" / "batch_plan"))
    assert {name.split("/")[0] for name in files} == {"batch_plan", "pipeline_contracts"}
    assert {"pipeline_contracts/job_names.py", "pipeline_contracts/run_layout.py"} <= set(files)
    for name, source in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(source.read_bytes())
    code = "import sys; sys.path.insert(0, '.'); import batch_plan.handler as h; print(h.plan_batch_jobs.__module__, h.numbered_job_name.__module__)"
    out = subprocess.check_output([sys.executable, "-I", "-B", "-c", code], cwd=tmp_path, text=True, timeout=60)
    assert out.split() == ["batch_plan.handler", "pipeline_contracts.job_names"]
