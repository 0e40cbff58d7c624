"""What a local run prints and how a failed run explains itself: one JSON object on stdout whatever the outcome,
and the main rejection reasons, with their counts, in the failure's message and the summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glue_src import local_run
from glue_src.counts import MAIN_REJECTIONS, main_rejections, rejections_line
from glue_src.rows import REJECT_REASONS

HEADER = "userID\tmovieID\trating\ttimestamp"
STAMP = "1162160236000"


def counts_with(**rejected: int) -> dict[str, Any]:
    by_reason = dict.fromkeys(REJECT_REASONS, 0) | rejected
    return {"rejected_by_reason": by_reason, "rejected": sum(by_reason.values()), "rows_read": 10_000}


def test_no_rejection_names_nothing() -> None:
    assert (main_rejections(counts_with()), rejections_line(counts_with())) == ([], None)


def test_the_most_frequent_reasons_come_first_ties_in_reason_order() -> None:
    counts = counts_with(timestamp_out_of_range=5, blank_line=5, non_numeric_rating=6_001)
    assert main_rejections(counts) == [
        {"reason": "non_numeric_rating", "rows": 6_001},
        {"reason": "blank_line", "rows": 5},
        {"reason": "timestamp_out_of_range", "rows": 5},
    ]
    assert rejections_line(counts) == (
        "6,011 of 10,000 rows rejected, mainly non_numeric_rating 6,001, blank_line 5, timestamp_out_of_range 5"
    )


@pytest.mark.parametrize("reasons", [MAIN_REJECTIONS, MAIN_REJECTIONS + 1])
def test_at_most_the_main_reasons_are_named_and_the_others_counted(reasons: int) -> None:
    counts = counts_with(**{reason: 100 - n for n, reason in enumerate(REJECT_REASONS[:reasons])})
    named = main_rejections(counts)
    assert [entry["reason"] for entry in named] == list(REJECT_REASONS[:MAIN_REJECTIONS])
    line = rejections_line(counts)
    assert line is not None
    assert line.endswith(" and 1 other reason(s)") == (reasons > MAIN_REJECTIONS)


def failing_input(folder: Path) -> Path:
    """1,200 non-numeric ratings, 3 short lines, 2 blank lines and 1 rating out of range around 5 good rows."""
    lines = [HEADER] + [f"{n}\t{n}\t4\t{STAMP}" for n in range(5)]
    lines += [f"{n}\t{n}\tgood\t{STAMP}" for n in range(1_200)]
    lines += ["1\t2\t4"] * 3 + ["", ""] + [f"9\t9\t9\t{STAMP}"]
    path = folder / "ratings.dat"
    path.write_text("\n".join(lines) + "\n")
    return path


EXPECTED_REJECTIONS = [
    {"reason": "non_numeric_rating", "rows": 1_200},
    {"reason": "wrong_field_count", "rows": 3},
    {"reason": "blank_line", "rows": 2},
]
EXPECTED_LINE = (
    "1,206 of 1,211 rows rejected, mainly non_numeric_rating 1,200, wrong_field_count 3, blank_line 2 "
    "and 1 other reason(s)"
)


@pytest.mark.parametrize("quiet", [True, False])
def test_a_run_below_the_minimums_names_its_main_rejections(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], quiet: bool
) -> None:
    argv = ["--input", str(failing_input(tmp_path)), "--output", str(tmp_path / "out"), "--run-id", "r"]
    assert local_run.main(argv + (["--quiet"] if quiet else [])) == local_run.EXIT_MINIMUMS
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    summary = json.loads((tmp_path / "out" / "r" / "_summary.json").read_text())
    assert printed == ({key: summary[key] for key in local_run.QUIET_FAILURE_KEYS} if quiet else summary)
    assert (summary["failure"], summary["main_rejections"]) == ("minimums", EXPECTED_REJECTIONS)
    assert EXPECTED_LINE in summary["message"] and EXPECTED_LINE in captured.err
    assert summary["counts"]["rejected_by_reason"]["rating_out_of_range"] == 1


def test_a_run_whose_input_is_missing_prints_one_json_object(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--input", str(tmp_path / "missing"), "--output", str(tmp_path / "out"), "--run-id", "r", "--quiet"]
    assert local_run.main(argv) == local_run.EXIT_INPUT
    printed = json.loads(capsys.readouterr().out)
    assert (printed["status"], printed["failure"], printed["counts"]) == ("FAILED", "input", None)
    assert "does not exist" in printed["message"]
