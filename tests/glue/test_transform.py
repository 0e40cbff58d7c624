"""The transform on local Spark: exact outputs, quarantine reasons, counts, formats, minimums, arguments.

Each scenario runs the job once (module-scoped fixture) and several tests read its outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from glue_src import transform
from glue_src import limits
from glue_src.arguments import EtlOptions, parse_delimiter, parse_options
from glue_src.messages import EtlArgumentError, EtlInputError, TrainingMinimumsError
from glue_src.rows import SECONDS_PER_DAY, recent_cutoff
from tests.glue.conftest import MAX_EPOCH, assert_only_data_files, options, read_csv_rows, read_json_lines, read_lines

HEADER = "userID\tmovieID\trating\ttimestamp"

# HetRec format: tab, header, epoch milliseconds.
GOLDEN_LINES = [
    HEADER,
    "1\t10\t4\t1162160236000",
    "1\t11\t3.5\t1162160624999",  # threshold 3.5 kept; ms -> s truncates
    "1\t12\t3\t1162161008000",  # 3.0 < 3.5: filtered
    "2\t10\t5\t1200000000000",
    "2\t10\t5\t1200000000000",  # exact duplicate
    "2\t11\t4.5\t1200000000500",
    "2\t11\t4.5\t1200000000900",  # same interaction once in seconds: duplicate
    "3\t20\t0.5\t1300000000000",  # filtered
    "3\t21\t4\t1300000001000",
]
GOLDEN_INTERACTIONS = {
    ("1", "10", "1162160236"),
    ("1", "11", "1162160624"),
    ("2", "10", "1200000000"),
    ("2", "11", "1200000000"),
    ("3", "21", "1300000001"),
}

# (line, reason or None when kept / a duplicate of a kept line)
MESSY_LINES: list[tuple[str, str | None]] = [
    (HEADER, None),
    ("4\t40\t4\t1162160236000", None),
    ("", "blank_line"),
    ("   \t  ", "blank_line"),
    ("", "blank_line"),
    (HEADER, "repeated_header"),
    ("4\t41", "wrong_field_count"),
    ("4\t41\t4\t1162160236000\textra", "wrong_field_count"),
    ("4\t\t4\t1162160236000", "missing_field"),
    ("4\t42\tfour\t1162160236000", "non_numeric_rating"),
    ("4\t50\tNaN\t1162160236000", "non_numeric_rating"),
    ("4\t43\t4\tyesterday", "non_numeric_timestamp"),
    ("4\t44\t4\t99999999999999999999999", "timestamp_out_of_range"),  # huge
    ("4\t45\t4\t-1162160236000", "timestamp_out_of_range"),  # negative
    ("4\t46\t4\t1162160236", "timestamp_out_of_range"),  # seconds given as ms: 1970
    ("4\t47\t4\t2000000000000", "timestamp_out_of_range"),  # 2033, in the future
    ("4\t48\t7\t1162160236000", "rating_out_of_range"),
    ("4\t49\t0\t1162160236000", "rating_out_of_range"),
    ("bad user\t51\t4\t1162160236000", "invalid_user_id"),
    ("4\tx,y\t4\t1162160236000", "invalid_item_id"),
    ("4\t40\t4\t1162160236000", None),  # duplicate of the first data line
]


@dataclass
class Run:
    options: EtlOptions
    run_dir: Path
    summary: dict[str, Any]
    error: Exception | None


def _run(spark: Any, input_path: Path, output: Path, **arguments: Any) -> Run:
    opts = options(input_path, output, **arguments)
    error = None
    try:
        transform.run(spark, opts)
    except TrainingMinimumsError as raised:
        error = raised
    run_dir = output / opts.run_id
    return Run(opts, run_dir, json.loads((run_dir / "_summary.json").read_text()), error)


@pytest.fixture(scope="module")
def hetrec_run(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Two HetRec files in one folder: a clean golden one and a messy one."""
    raw = tmp_path_factory.mktemp("hetrec-raw")
    (raw / "a.dat").write_text("\n".join(GOLDEN_LINES) + "\n")
    (raw / "b.dat").write_text("\n".join(line for line, _ in MESSY_LINES) + "\n")
    return _run(spark, raw, tmp_path_factory.mktemp("hetrec-out"))


def test_interactions_are_exactly_the_kept_rows_in_seconds(hetrec_run: Run) -> None:
    headers, rows = read_csv_rows(hetrec_run.run_dir / "interactions")
    assert set(headers) == {"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"}
    # No event-type column: every row has default_event_type; no event-value column: EVENT_VALUE empty (null).
    expected = GOLDEN_INTERACTIONS | {("4", "40", "1162160236")}
    assert sorted(rows) == sorted((*interaction, "rating", "") for interaction in expected)


def test_batch_input_has_one_line_per_distinct_kept_user(hetrec_run: Run) -> None:
    lines = read_lines(hetrec_run.run_dir / "batch-input")
    assert sorted(lines) == [f'{{"userId":"{user}"}}' for user in ("1", "2", "3", "4")]
    assert all(json.loads(line).keys() == {"userId"} for line in lines)


def test_output_folders_hold_only_data_files(hetrec_run: Run) -> None:
    assert_only_data_files(hetrec_run.run_dir / "interactions", ".csv")
    assert_only_data_files(hetrec_run.run_dir / "batch-input", ".json")
    assert_only_data_files(hetrec_run.run_dir / "quarantine", ".json")
    assert sorted(path.name for path in hetrec_run.run_dir.iterdir()) == [
        "_summary.json",
        "batch-input",
        "interactions",
        "quarantine",
    ]


def test_every_rejected_line_is_in_quarantine_with_its_reason(hetrec_run: Run) -> None:
    records = read_json_lines(hetrec_run.run_dir / "quarantine")
    assert all(record["source_file"].endswith("/b.dat") for record in records), records
    got: dict[tuple[str, str], int] = {(r["reason"], r["line"]): r["occurrences"] for r in records}
    expected: dict[tuple[str, str], int] = {}
    for line, reason in MESSY_LINES:
        if reason:
            expected[(reason, line)] = expected.get((reason, line), 0) + 1
    assert got == expected


def test_counts_add_up(hetrec_run: Run) -> None:
    counts = hetrec_run.summary["counts"]
    assert counts["rejected_by_reason"] == {
        "blank_line": 3,
        "repeated_header": 1,
        "wrong_field_count": 2,
        "missing_field": 1,
        "invalid_user_id": 1,
        "invalid_item_id": 1,
        "non_numeric_rating": 2,
        "non_numeric_timestamp": 1,
        "rating_out_of_range": 2,
        "timestamp_out_of_range": 4,
        # No event-type or event-value column read: nothing can be refused for them.
        "invalid_event_type": 0,
        "non_numeric_event_value": 0,
    }
    assert {key: counts[key] for key in ("lines_read", "header_lines", "expected_header_lines", "rows_read")} == {
        "lines_read": len(GOLDEN_LINES) + len(MESSY_LINES),
        "header_lines": 3,
        "expected_header_lines": 2,
        "rows_read": len(GOLDEN_LINES) + len(MESSY_LINES) - 2,
    }
    assert (counts["kept"], counts["filtered_by_rating"], counts["duplicates"], counts["rejected"]) == (6, 2, 3, 18)
    # keep_event_types empty: every type kept; max_age_days 0: every age kept
    assert (counts["filtered_by_event_type"], counts["filtered_by_age"]) == (0, 0)
    assert counts["rows_read"] == (
        counts["kept"] + counts["filtered_by_rating"] + counts["filtered_by_event_type"] + counts["filtered_by_age"]
        + counts["duplicates"] + counts["rejected"]
    )
    assert (counts["distinct_users"], counts["distinct_items"], counts["users_with_2plus_interactions"]) == (4, 4, 2)
    assert counts["batch_input_bytes"] == sum(len(line) + 1 for line in read_lines(hetrec_run.run_dir / "batch-input"))


def test_below_minimums_fails_with_the_message_after_writing_the_summary(hetrec_run: Run) -> None:
    assert isinstance(hetrec_run.error, TrainingMinimumsError)
    message = str(hetrec_run.error)
    assert "6 interactions kept (Personalize needs at least 1000)" in message
    assert "2 users with 2 or more interactions (Personalize needs at least 25)" in message
    summary = hetrec_run.summary
    assert (summary["status"], summary["message"], summary["minimums"]["met"]) == ("FAILED", message, False)
    assert summary["arguments"]["run_id"] == "run-1"
    assert summary["outputs"]["interactions"] == hetrec_run.options.interactions_uri
    assert summary["input"]["files_read"] == 2


def test_no_kept_row_still_writes_counts_and_fails_the_minimums(spark: Any, tmp_path: Path) -> None:
    (tmp_path / "ratings.dat").write_text(f"{HEADER}\n1\t2\t1\t1162160236000\n")
    run = _run(spark, tmp_path / "ratings.dat", tmp_path / "out")
    assert isinstance(run.error, TrainingMinimumsError)
    assert "0 interactions kept" in str(run.error) and run.summary["status"] == "FAILED"
    counts = run.summary["counts"]
    assert (counts["rows_read"], counts["kept"], counts["filtered_by_rating"], counts["distinct_users"]) == (1, 0, 1, 0)
    assert read_csv_rows(run.run_dir / "interactions")[1] == [] and read_lines(run.run_dir / "batch-input") == []


RATINGS_CSV = """userId,movieId,rating,timestamp
1,31,2.5,1260759144
1,1029,3.0,1260759179
1,1061,3.5,1260759182
2,10,4.0,835355493
2,10,4.0,835355493
3,60,5.0,1298861675
3,61,4.0,1298861675000
"""
ML_LATEST_ARGS = {
    "delimiter": ",",
    "user_column": "userId",
    "item_column": "movieId",
    "rating_column": "rating",
    "timestamp_column": "timestamp",
    "timestamp_unit": "s",
}


def test_the_recent_window_keeps_a_row_at_its_limit_and_filters_one_second_older(spark: Any, tmp_path: Path) -> None:
    days = 30
    cutoff = recent_cutoff(options(tmp_path / "ratings.csv", tmp_path / "out", max_age_days=days), MAX_EPOCH)
    assert cutoff == MAX_EPOCH - SECONDS_PER_DAY - days * SECONDS_PER_DAY  # the run's start minus 30 days
    stamps = {"at": cutoff, "past": cutoff - 1, "newer": cutoff + 5}
    lines = ["userId,movieId,rating,timestamp"] + [
        f"{user},{item},4,{stamp}" for user in range(1, 4) for item, stamp in enumerate(stamps.values(), start=1)
    ]
    (tmp_path / "ratings.csv").write_text("\n".join(lines) + "\n")
    run = _run(spark, tmp_path / "ratings.csv", tmp_path / "out", **{**ML_LATEST_ARGS, "max_age_days": str(days)})
    _, rows = read_csv_rows(run.run_dir / "interactions")
    assert {int(row[2]) for row in rows} == {stamps["at"], stamps["newer"]}
    counts = run.summary["counts"]
    assert (counts["kept"], counts["filtered_by_age"], counts["rejected"]) == (6, 3, 0)


def test_ml_latest_ratings_csv_by_arguments_only(spark: Any, tmp_path: Path) -> None:
    (tmp_path / "ratings.csv").write_text(RATINGS_CSV)
    run = _run(spark, tmp_path / "ratings.csv", tmp_path / "out", **ML_LATEST_ARGS)
    headers, rows = read_csv_rows(run.run_dir / "interactions")
    assert set(headers) == {"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"}
    assert sorted(rows) == [
        ("1", "1061", "1260759182", "rating", ""),
        ("2", "10", "835355493", "rating", ""),
        ("3", "60", "1298861675", "rating", ""),
    ]
    counts = run.summary["counts"]
    assert (counts["kept"], counts["filtered_by_rating"], counts["duplicates"], counts["rejected"]) == (3, 2, 1, 1)
    assert counts["rejected_by_reason"]["timestamp_out_of_range"] == 1  # milliseconds where seconds are expected
    assert [layout["header"] for layout in run.summary["input"]["layouts"]] == [["userId", "movieId", "rating", "timestamp"]]


def test_a_column_name_not_in_the_header_is_a_clear_error(spark: Any, tmp_path: Path) -> None:
    (tmp_path / "ratings.csv").write_text(RATINGS_CSV)
    opts = options(tmp_path / "ratings.csv", tmp_path / "out", **{**ML_LATEST_ARGS, "user_column": "userID"})
    with pytest.raises(EtlArgumentError, match=r"--user_column is 'userID', which is not a column of the header.*'userId', 'movieId'"):
        transform.run(spark, opts)
    tab_opts = options(tmp_path / "ratings.csv", tmp_path / "out")  # the HetRec defaults on a comma file
    with pytest.raises(EtlArgumentError, match=r"Check --user_column, --delimiter and --has_header"):
        transform.run(spark, tab_opts)
    assert not (tmp_path / "out").exists()


def test_missing_input_is_a_clear_error_with_a_summary(spark: Any, tmp_path: Path) -> None:
    with pytest.raises(EtlInputError, match=r"--input_uri \S*nothing-here does not exist"):
        transform.run(spark, options(tmp_path / "nothing-here", tmp_path / "out"))
    summary = json.loads((tmp_path / "out" / "run-1" / "_summary.json").read_text())
    assert (summary["status"], summary["failure"]) == ("FAILED", "input")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"input_uri": ""}, r"--input_uri has value ''; allowed: a non-empty value"),
        ({"run_id": "../escape"}, r"--run_id has value '../escape'"),
        ({"timestamp_unit": "us"}, r"--timestamp_unit has value 'us'; allowed: ms \(epoch milliseconds\) or s"),
        ({"min_rating": "high"}, r"--min_rating has value 'high'; allowed: a number from 0.5 to 5.0"),
        ({"min_rating": "6"}, r"--min_rating has value '6'"),
        ({"has_header": "maybe"}, r"--has_header has value 'maybe'; allowed: true or false"),
        ({"delimiter": "::"}, r"--delimiter has value '::'"),
        ({"has_header": "false"}, r"--user_column has value 'userID'; allowed: a 0-based column position"),
        ({"item_column": "userID"}, r"must differ"),
        ({"output_uri": "s3://raw/ratings/out/"}, r"--output_uri .* a location outside --input_uri"),
    ],
)
def test_bad_arguments_are_clear_errors(arguments: dict[str, str], message: str) -> None:
    base = {"input_uri": "s3://raw/ratings/", "output_uri": "s3://transformed/runs/", "run_id": "r1"}
    with pytest.raises(EtlArgumentError, match=message):
        parse_options({**base, **arguments})


def test_glue_style_arguments_parse_with_defaults() -> None:
    parsed = parse_options(
        {"--input_uri": "s3://raw/ratings/", "--output_uri": "s3://transformed/runs", "--run_id": "20260101T000000Z-x-1", "--delimiter": "tab"}
    )
    assert parsed.delimiter == "\t" and parsed.has_header and parsed.timestamp_unit == "ms" and parsed.min_rating == 3.5
    assert parsed.run_uri == "s3://transformed/runs/20260101T000000Z-x-1/"
    assert parsed.summary_uri == "s3://transformed/runs/20260101T000000Z-x-1/_summary.json"
    assert [parse_delimiter(d) for d in ("\\t", "\t", "comma", ",", "|", "space")] == ["\t", "\t", ",", ",", "|", " "]


def test_batch_input_files_are_capped_so_each_fits_one_postprocessing_invocation(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "BATCH_INPUT_MAX_USERS_PER_FILE", 2)
    raw = tmp_path / "raw.dat"
    raw.write_text("\n".join(GOLDEN_LINES) + "\n")
    run = _run(spark, raw, tmp_path / "out")
    files = sorted((run.run_dir / "batch-input").glob("*.json"))
    per_file = [len(path.read_text().splitlines()) for path in files]
    assert sum(per_file) == 3 and max(per_file) <= 2 and len(files) >= 2
