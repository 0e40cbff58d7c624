"""The Glue entry point (`job.py`, with stand-ins for the Glue libraries), the local runner and
the bundled sample, and the summary written to S3."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from glue_src import local_run, transform
from glue_src.arguments import ARGUMENT_NAMES
from glue_src.messages import TrainingMinimumsError
from glue_src.summary import write_summary
from glue_src.sample import make_sample
from stacks.bundling import imported_modules, with_contracts
from tests.glue.conftest import assert_only_data_files, read_csv_rows, read_lines

GLUE_SRC = Path(transform.__file__).resolve().parent


def _fake_glue_modules(spark: Any, job_events: list[str] | None = None) -> dict[str, types.ModuleType]:
    """Stand-ins for awsglue.utils.getResolvedOptions, awsglue.context.GlueContext and awsglue.job.Job;
    the Job records its calls in `job_events`."""
    events = job_events if job_events is not None else []

    def get_resolved_options(argv: list[str], names: list[str]) -> dict[str, str]:
        pairs = dict(zip(argv[1::2], argv[2::2]))
        missing = [name for name in names if f"--{name}" not in pairs]
        if missing:
            raise SystemExit(f"the following arguments are required: {', '.join('--' + m for m in missing)}")
        return {name: pairs[f"--{name}"] for name in names}

    class GlueContext:
        def __init__(self, spark_context: Any) -> None:
            assert spark_context is spark.sparkContext
            self.spark_session = spark

    class Job:
        def __init__(self, glue_context: Any) -> None:
            assert isinstance(glue_context, GlueContext)

        def init(self, job_name: str, args: dict[str, str]) -> None:
            events.append(f"init {job_name} run_id={args['run_id']}")

        def commit(self) -> None:
            events.append("commit")

    awsglue, utils, context, job = (
        types.ModuleType(name) for name in ("awsglue", "awsglue.utils", "awsglue.context", "awsglue.job")
    )
    utils.getResolvedOptions = get_resolved_options
    context.GlueContext = GlueContext
    job.Job = Job
    return {"awsglue": awsglue, "awsglue.utils": utils, "awsglue.context": context, "awsglue.job": job}


def _u_data(path: Path) -> set[tuple[str, str, str, str, str]]:
    """An ml-100k `u.data`-like file (tab, no header, seconds): 30 users x 100 movies, ratings
    1-5. Returns the interactions the job must keep (rating >= 3.5), with EVENT_TYPE `rating` and the rating as
    EVENT_VALUE (`_u_data_argv` reads column 2 as both)."""
    lines, kept = [], set()
    for user in range(1, 31):
        for item in range(1, 101):
            rating, stamp = (user + item) % 5 + 1, 880_000_000 + user * 1000 + item
            lines.append(f"{user}\t{item}\t{rating}\t{stamp}")
            if rating >= 3.5:
                kept.add((str(user), str(item), str(stamp), "rating", f"{float(rating)}"))
    path.write_text("\n".join(lines) + "\n")
    return kept


def _u_data_argv(tmp_path: Path) -> list[str]:
    """What Glue passes the script for a run over the `u.data` file (JOB_NAME comes from Glue)."""
    argv = ["job.py", "--JOB_NAME", "pbp-dev-ratings-etl"]
    for name, value in {
        "input_uri": str(tmp_path / "u.data"),
        "output_uri": str(tmp_path / "runs") + "/",
        "run_id": "20260101T000000Z-u-data-1",
        "min_rating": "3.5",
        "delimiter": "tab",
        "has_header": "false",
        "user_column": "0",
        "item_column": "1",
        "rating_column": "2",
        "timestamp_column": "3",
        "event_value_column": "2",
        "timestamp_unit": "s",
        "metadata_root_uri": str(tmp_path) + "/",
        "items_dataset": "{}",
        "users_dataset": "{}",
    }.items():
        argv += [f"--{name}", value]
    return argv


def _job_with_recorded_calls(spark: Any, monkeypatch: pytest.MonkeyPatch, events: list[str], fail: bool = False) -> Any:
    """glue_src.job with the Glue stand-ins, its transform run recorded in `events` (and failing if asked)."""
    for name, module in _fake_glue_modules(spark, events).items():
        monkeypatch.setitem(sys.modules, name, module)
    from glue_src import job

    real_run = job.transform.run

    def recorded_run(*args: Any, **kwargs: Any) -> dict:
        events.append("transform")
        if fail:
            raise TrainingMinimumsError("kept data below the training minimums")
        return real_run(*args, **kwargs)

    monkeypatch.setattr(job.transform, "run", recorded_run)
    return job


def test_glue_job_entry_point_runs_the_transform_on_u_data_by_position(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _u_data(tmp_path / "u.data")
    events: list[str] = []
    job = _job_with_recorded_calls(spark, monkeypatch, events)
    summary = job.main(_u_data_argv(tmp_path))

    # The Glue job is initialised before the transform (its security configuration applies only
    # then) and committed after it succeeded.
    assert events == ["init pbp-dev-ratings-etl run_id=20260101T000000Z-u-data-1", "transform", "commit"]
    run_dir = tmp_path / "runs" / "20260101T000000Z-u-data-1"
    headers, rows = read_csv_rows(run_dir / "interactions")
    assert set(headers) == {"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"} and sorted(rows) == sorted(expected)
    assert sorted(read_lines(run_dir / "batch-input")) == sorted(f'{{"userId":"{user}"}}' for user in range(1, 31))
    assert_only_data_files(run_dir / "interactions", ".csv")
    assert json.loads((run_dir / "_summary.json").read_text()) == summary
    assert summary["status"] == "SUCCEEDED" and summary["minimums"]["met"]
    assert (summary["input"]["files_read"], summary["input"]["files_skipped"]) == (1, 0)
    assert [(layout["header"], layout["field_count"]) for layout in summary["input"]["layouts"]] == [(None, 4)]
    counts = summary["counts"]
    assert (counts["kept"], counts["filtered_by_rating"], counts["duplicates"], counts["rejected"]) == (1200, 1800, 0, 0)
    assert counts["users_with_2plus_interactions"] == 30 and counts["distinct_items"] == 100


def test_glue_job_passes_the_batch_arguments_when_given(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _u_data(tmp_path / "u.data")
    job = _job_with_recorded_calls(spark, monkeypatch, [])
    queries = {"fans": ['ITEMS.GENRES = "Comedy"']}
    batch = ["--batch_inputs", "items", "--batch_items_top_n", "5", "--batch_items_per_file", "2",
             "--item_attribute_queries", json.dumps(queries)]
    summary = job.main(_u_data_argv(tmp_path) + batch)
    run_dir = tmp_path / "runs" / "20260101T000000Z-u-data-1"
    per_item: dict[str, int] = {}
    for _, item, *_ in expected:
        per_item[item] = per_item.get(item, 0) + 1
    top = sorted(per_item, key=lambda item: (-per_item[item], item))[:5]
    items_folder = run_dir / "batch-input-items"
    assert sorted(json.loads(line)["itemId"] for line in read_lines(items_folder)) == sorted(top)
    assert max(len(path.read_text().splitlines()) for path in items_folder.iterdir()) <= 2
    assert not (run_dir / "batch-input").exists()
    assert summary["arguments"]["item_attribute_queries"] == queries
    assert sorted(summary["batch_inputs"]) == ["item_attributes", "items"]


def test_glue_job_that_fails_is_not_committed(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _u_data(tmp_path / "u.data")
    events: list[str] = []
    job = _job_with_recorded_calls(spark, monkeypatch, events, fail=True)
    with pytest.raises(TrainingMinimumsError):
        job.main(_u_data_argv(tmp_path))
    assert events == ["init pbp-dev-ratings-etl run_id=20260101T000000Z-u-data-1", "transform"]


def test_glue_job_needs_the_job_name_glue_passes(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    job = _job_with_recorded_calls(spark, monkeypatch, events)
    without_job_name = _u_data_argv(tmp_path)[3:]
    with pytest.raises(SystemExit, match="--JOB_NAME"):
        job.main(["job.py", *without_job_name])
    assert events == []


def test_glue_job_without_run_id_fails_before_spark(spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, module in _fake_glue_modules(spark).items():
        monkeypatch.setitem(sys.modules, name, module)
    from glue_src import job

    with pytest.raises(SystemExit, match="--run_id"):
        job.main(["job.py", "--input_uri", "s3://raw/ratings/", "--output_uri", "s3://t/runs/"])


def test_job_imports_its_modules_from_the_extra_py_files_zip_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the CDK asset ships (the same selection): glue_src/ and pipeline_contracts/ at the zip's root, put on
    # sys.path by Glue. With no copy of either package already imported, every module job.py imports, directly or
    # through another, must come from the zip: a module the zip lacks fails the import here.
    shipped = with_contracts(imported_modules([GLUE_SRC / "job.py"], "glue_src"))
    assert {"glue_src/transform.py", "glue_src/metadata.py", "glue_src/inputs.py"} <= set(shipped)
    archive = tmp_path / "transform-module.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for relative, source in shipped.items():
            bundle.write(source, relative)
    packages = ("glue_src", "pipeline_contracts")
    for name in [name for name in sys.modules if name.split(".")[0] in packages]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(archive))
    spec = importlib.util.spec_from_file_location("glue_job_script", GLUE_SRC / "job.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        loaded = {name: Path(sys.modules[name].__file__) for name in sys.modules if name.split(".")[0] in packages}
        assert {"glue_src.transform", "glue_src.metadata", "glue_src.arguments"} <= set(loaded)
        assert {name: path for name, path in loaded.items() if archive not in path.parents} == {}
        assert module.metadata.writer is sys.modules["glue_src.outputs"].writer  # one package, the zip's
    finally:
        for name in [name for name in sys.modules if name.split(".")[0] in packages]:
            del sys.modules[name]
    assert "awsglue" not in sys.modules  # the Glue libraries are imported only when main() runs


@dataclass(frozen=True)
class SampleRun:
    status: int
    out: str
    err: str
    folder: Path  # the run's output folder


@pytest.fixture(scope="module")
def sample_run(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> SampleRun:
    """`local_run` with no input (the bundled sample), run once for the tests that read its outputs: seconds each."""
    output, out, err = tmp_path_factory.mktemp("sample-run"), io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = local_run.main(["--output", str(output), "--run-id", "sample", "--quiet"])
    return SampleRun(status, out.getvalue(), err.getvalue(), output / "sample")


def test_local_run_with_no_input_uses_the_bundled_sample_and_passes_the_minimums(sample_run: SampleRun) -> None:
    assert sample_run.status == 0, sample_run.err
    summary = json.loads((sample_run.folder / "_summary.json").read_text())
    counts = summary["counts"]
    assert json.loads(sample_run.out) == counts
    assert summary["arguments"]["input_uri"] == str(local_run.SAMPLE_INPUT)
    assert counts["kept"] >= 1000 and counts["users_with_2plus_interactions"] >= 25
    assert counts["duplicates"] == 2
    assert {reason: n for reason, n in counts["rejected_by_reason"].items() if n} == {
        "blank_line": 2,
        "repeated_header": 1,
        "wrong_field_count": 1,
        "non_numeric_rating": 1,
        "rating_out_of_range": 1,
        "timestamp_out_of_range": 1,
    }


def test_local_run_reports_bad_arguments_without_starting_spark(capsys: pytest.CaptureFixture[str]) -> None:
    assert local_run.main(["--timestamp-unit", "ns"]) == 2
    assert "--timestamp_unit has value 'ns'" in capsys.readouterr().err


def test_local_run_builds_glue_arguments_for_other_formats() -> None:
    args = local_run.build_parser().parse_args(["--input", "u.data", "--no-header", "--timestamp-unit", "s", "--run-id", "x"])
    arguments = local_run.glue_arguments(args)
    columns = ("--has_header", "--user_column", "--item_column", "--rating_column", "--timestamp_column")
    assert {key: arguments[key] for key in (*columns, "--event_type_column", "--event_value_column")} == {
        "--has_header": "false",
        "--user_column": "0",
        "--item_column": "1",
        "--rating_column": "2",
        "--timestamp_column": "3",
        # No default position for the optional columns: without them EVENT_TYPE is the default type, EVENT_VALUE empty.
        "--event_type_column": "-",
        "--event_value_column": "-",
    }
    assert set(arguments) == {f"--{name}" for name in ARGUMENT_NAMES}


def test_bundled_sample_is_what_the_generator_writes() -> None:
    text = make_sample.SAMPLE_PATH.read_text(encoding="utf-8")
    assert text == "\n".join(make_sample.sample_lines()) + "\n"
    assert len(text.encode()) < 200_000
    assert text.splitlines()[0] == "userID\tmovieID\trating\ttimestamp"
    for path, lines in make_sample.item_files().items():
        assert path.read_text(encoding="utf-8") == "\n".join(lines) + "\n", path


def test_local_run_on_the_sample_writes_the_hetrec_items(sample_run: SampleRun) -> None:
    assert sample_run.status == 0, sample_run.err
    summary = json.loads((sample_run.folder / "_summary.json").read_text())
    items = summary["datasets"]["items"]
    assert (items["status"], items["header"]) == ("WRITTEN", ["ITEM_ID", "GENRES", "YEAR"])
    headers, rows = read_csv_rows(sample_run.folder / "items")
    assert set(headers) == {"ITEM_ID,GENRES,YEAR"} and len(rows) == items["counts"]["ids_written"] > 300
    # Most rated movies have metadata, not all (make_sample leaves 20 out), and 10 unrated ones do.
    coverage = items["coverage"]
    assert 0.9 < coverage["share_of_interacted_items_with_metadata"] < 1
    assert coverage["items_with_metadata_without_interactions"] >= 10
    assert [entry["rule"] for entry in items["sources"][1]["skipped"]] == ["hidden_name"]


@mock_aws
def test_summary_goes_to_s3_with_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="transformed", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    write_summary({"run_id": "r1", "counts": {"kept": 1}}, "s3://transformed/runs/r1/_summary.json")
    body = s3.get_object(Bucket="transformed", Key="runs/r1/_summary.json")
    assert body["ContentType"] == "application/json"
    assert json.loads(body["Body"].read()) == {"run_id": "r1", "counts": {"kept": 1}}
