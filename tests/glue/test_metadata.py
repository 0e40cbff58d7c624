"""Items / Users metadata on local Spark: both multi-value shapes, several sources joined on the id, messy rows,
every limit, counts that add up, coverage, and a dataset without raw files.

Two small scenarios, each run once (module-scoped) and read by several tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glue_src import metadata
from pipeline_contracts.metadata_datasets import parse_dataset
from tests.glue.conftest import assert_only_data_files, options, read_json_lines, read_lines

LONG_ID = "9" * 257
LONG_GENRE = "y" * 1001
# Ten 99-character genres: joined they take 10 * 99 + 9 = 999 characters; an eleventh does not fit.
WIDE_GENRES = [f"g{index:02d}" + "x" * 96 for index in range(11)]

HETREC_ITEMS = {
    "fields": [
        {"name": "GENRES", "type": "categorical"},
        {"name": "YEAR", "type": "int"},
        {"name": "CREATION_TIMESTAMP", "type": "creation_timestamp"},
    ],
    "sources": [
        {"prefix": "items/movies/", "delimiter": "tab", "id_column": "id",
         "columns": {"YEAR": "year", "CREATION_TIMESTAMP": "added"}},
        {"prefix": "items/genres/", "delimiter": "tab", "id_column": "movieID", "columns": {"GENRES": "genre"},
         "shape": "long"},
    ],
}
MOVIES = [
    "id\ttitle\tyear\tadded",
    "1\tA\t1999\t1000000000",
    "2\tB\t2001\t1000000001",
    "2\tB again\t2003\t1000000002",  # the same id again: merged, the larger number kept
    "",
    "3\tC\tnineteen\t1000000003",  # not_int:YEAR
    f"{LONG_ID}\tLong\t2000\t1",  # id_too_long
    "bad id!\tD\t2000\t1",  # invalid_id
    "4\tshort",  # wrong_field_count
    "5\tE\t\t",  # kept with an empty year, but no creation timestamp: dropped as an id
    "id\ttitle\tyear\tadded",  # a header again
    "7\tG\t1980\t1000000007",
]
GENRES = [
    "movieID\tgenre",
    "1\tDrama",
    "1\tComedy",
    "1\tDrama",  # the same value again: one value
    f"2\t{LONG_GENRE}",  # categorical_value_too_long:GENRES
    "6\tHorror",  # an id only this source knows: no creation timestamp, dropped
    *(f"7\t{genre}" for genre in WIDE_GENRES),  # over 1000 characters joined: truncated at a | boundary
]
GENRES_OTHER_ORDER = ["genre\tmovieID", "Sci-Fi\t2"]  # each file is read by its own header

ML_LATEST_ITEMS = {
    "fields": [{"name": "GENRES", "type": "categorical"}, {"name": "TITLE", "type": "textual"}],
    "sources": [{"prefix": "ml/", "id_column": "movieId", "columns": {"GENRES": "genres", "TITLE": "title"},
                 "separator": "|"}],
}
ML_LATEST_MOVIES = [
    "movieId,title,genres",
    "1,Toy Story (1995),Adventure|Animation|Children",
    '11,"American President, The (1995)",Comedy|Drama|Romance',  # a quoted comma
    "12,Heat (1995),Action| Crime ||Thriller",  # spaces and an empty value between separators
]
USERS = {  # no header: 0-based positions
    "fields": [{"name": "AGE", "type": "int"}, {"name": "PLAN", "type": "categorical"}],
    "sources": [{"prefix": "profiles/", "has_header": False, "id_column": 0, "columns": {"AGE": 2, "PLAN": 1}}],
}
PROFILES = ["u1,gold,34", "u2,free,x", "u3,free,51"]


def _write(root: Path, relative: str, lines: list[str]) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _interactions(run_dir: Path, items: list[str], users: list[str]) -> None:
    """What the interactions transform left in the run folder (coverage is measured against it)."""
    _write(run_dir, "interactions/part-00000.csv", ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"] + [f"u1,{i},1,rating," for i in items])
    _write(run_dir, "batch-input/part-00000.json", [json.dumps({"userId": user}) for user in users])


def _run(
    spark: Any, root: Path, specs: dict[str, Any], items: list[str], users: list[str], **arguments: Any
) -> dict[str, Any]:
    opts = options(root / "ratings", root / "runs", **arguments)
    _interactions(Path(opts.run_uri), items, users)
    summary: dict[str, Any] = {"outputs": {}}
    parsed = {kind: parse_dataset(kind, spec) for kind, spec in specs.items()}  # type: ignore[arg-type]
    return metadata.run(spark, opts, parsed, str(root) + "/", summary)


@pytest.fixture(scope="module")
def hetrec(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    root = tmp_path_factory.mktemp("hetrec")
    _write(root, "items/movies/movies.dat", MOVIES)
    _write(root, "items/genres/movie_genres.dat", GENRES)
    _write(root, "items/genres/more_genres.dat", GENRES_OTHER_ORDER)
    _write(root, "items/genres/_notes.dat", ["movieID\tgenre", "1\tNever read"])
    # Users configured, but no raw files under their prefix this run.
    summary = _run(spark, root, {"items": HETREC_ITEMS, "users": USERS}, items=["1", "2", "99"], users=["u1"])
    return summary, root / "runs" / "run-1"


@pytest.fixture(scope="module")
def ml_latest(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    root = tmp_path_factory.mktemp("ml")
    _write(root, "ml/movies.csv", ML_LATEST_MOVIES)
    _write(root, "profiles/users.csv", PROFILES)
    summary = _run(spark, root, {"items": ML_LATEST_ITEMS, "users": USERS}, items=["1"], users=["u1", "u2", "u9"])
    return summary, root / "runs" / "run-1"


def _rows(folder: Path) -> tuple[str, dict[str, list[str]]]:
    import csv

    assert_only_data_files(folder, ".csv")
    (path,) = sorted(folder.glob("part-*.csv"))
    header, *rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    return ",".join(header), {row[0]: row[1:] for row in rows}


def test_long_genres_and_wide_years_are_joined_on_the_item_id(hetrec: tuple[dict[str, Any], Path]) -> None:
    summary, run_dir = hetrec
    header, rows = _rows(run_dir / "items")
    assert header == "ITEM_ID,GENRES,YEAR,CREATION_TIMESTAMP"
    assert rows["1"] == ["Comedy|Drama", "1999", "1000000000"]  # values sorted, the repeated one once
    assert rows["2"] == ["Sci-Fi", "2003", "1000000002"]  # from the file with the other column order
    assert sorted(rows) == ["1", "2", "7"]  # 5 and 6 have no CREATION_TIMESTAMP
    assert summary["datasets"]["items"]["counts"] == {
        "ids": 5, "ids_written": 3, "ids_without_creation_timestamp": 2, "truncated_values": 1,
        "line_breaks_written_as_spaces": 0,
    }


def test_joined_categorical_values_over_1000_characters_are_cut_at_a_separator(
    hetrec: tuple[dict[str, Any], Path],
) -> None:
    _, run_dir = hetrec
    _, rows = _rows(run_dir / "items")
    genres = rows["7"][0]
    assert genres == "|".join(WIDE_GENRES[:10]) and len(genres) == 999


def test_messy_rows_are_quarantined_with_their_reason_and_counts_add_up(hetrec: tuple[dict[str, Any], Path]) -> None:
    summary, run_dir = hetrec
    movies, genres = summary["datasets"]["items"]["sources"]
    assert movies["counts"] == {
        "lines_read": 12, "blank_lines": 1, "records_read": 11, "header_records": 2, "rejected": 4,
        "rejected_by_reason": {"id_too_long": 1, "invalid_id": 1, "not_int:YEAR": 1, "wrong_field_count": 1},
        "kept_rows": 5,
    }
    assert genres["counts"]["rejected_by_reason"] == {"categorical_value_too_long:GENRES": 1}
    for source in (movies, genres):
        counts = source["counts"]
        assert counts["records_read"] == counts["header_records"] + counts["rejected"] + counts["kept_rows"]
        assert counts["lines_read"] == counts["blank_lines"] + counts["records_read"]  # no record spans lines
    quarantined = {(row["reason"], row["line"]) for row in read_json_lines(run_dir / "quarantine-items")}
    assert quarantined == {
        ("not_int:YEAR", "3\tC\tnineteen\t1000000003"),
        ("id_too_long", f"{LONG_ID}\tLong\t2000\t1"),
        ("invalid_id", "bad id!\tD\t2000\t1"),
        ("wrong_field_count", "4\tshort"),
        ("categorical_value_too_long:GENRES", f"2\t{LONG_GENRE}"),
    }
    assert [entry["rule"] for entry in genres["skipped"]] == ["hidden_name"]


def test_coverage_of_interacted_items(hetrec: tuple[dict[str, Any], Path]) -> None:
    summary, _ = hetrec
    assert summary["datasets"]["items"]["coverage"] == {
        "interacted_items": 3,
        "interacted_items_with_metadata": 2,
        "share_of_interacted_items_with_metadata": 0.6667,
        "items_with_metadata_without_interactions": 1,
    }


def test_a_configured_dataset_without_raw_files_is_skipped_and_says_so(hetrec: tuple[dict[str, Any], Path]) -> None:
    summary, run_dir = hetrec
    users = summary["datasets"]["users"]
    assert users["status"] == "SKIPPED" and users["reason"].startswith("no raw rows this run under ")
    assert not (run_dir / "users").exists()  # no folder: the state machine skips the import
    assert summary["outputs"] == {"items": str(run_dir / "items") + "/"}


def test_ml_latest_genres_in_one_column_with_quoted_titles(ml_latest: tuple[dict[str, Any], Path]) -> None:
    _, run_dir = ml_latest
    header, rows = _rows(run_dir / "items")
    assert header == "ITEM_ID,GENRES,TITLE"
    assert rows == {
        "1": ["Adventure|Animation|Children", "Toy Story (1995)"],
        "11": ["Comedy|Drama|Romance", "American President, The (1995)"],
        "12": ["Action|Crime|Thriller", "Heat (1995)"],
    }


def test_users_by_position_and_their_coverage_of_batch_users(ml_latest: tuple[dict[str, Any], Path]) -> None:
    summary, run_dir = ml_latest
    header, rows = _rows(run_dir / "users")
    assert header == "USER_ID,AGE,PLAN"
    assert rows == {"u1": ["34", "gold"], "u3": ["51", "free"]}
    assert [json.loads(line)["reason"] for line in read_lines(run_dir / "quarantine-users")] == ["not_int:AGE"]
    assert summary["datasets"]["users"]["coverage"] == {
        "batch_users": 3,
        "batch_users_with_metadata": 1,
        "share_of_batch_users_with_metadata": 0.3333,
        "users_with_metadata_without_interactions": 1,
    }


def test_users_coverage_without_a_users_batch_input_counts_the_interacted_users(spark: Any, tmp_path: Path) -> None:
    _write(tmp_path, "profiles/users.csv", PROFILES)
    # The batch-input folder left there must not be read: this run writes no users batch input.
    summary = _run(spark, tmp_path, {"users": USERS}, items=["1"], users=["u1", "u2", "u9"], batch_inputs="items")
    assert summary["datasets"]["users"]["coverage"] == {
        "interacted_users": 1,
        "interacted_users_with_metadata": 1,
        "share_of_interacted_users_with_metadata": 1.0,
        "users_with_metadata_without_interactions": 1,  # u3 (u2's row is quarantined: its AGE is not a number)
    }


def test_job_arguments_name_the_bad_dataset(tmp_path: Path) -> None:
    from glue_src.messages import EtlArgumentError

    with pytest.raises(EtlArgumentError, match=r"--items_dataset: .*items_dataset.fields.*1 to 100"):
        metadata.parse_arguments({"metadata_root_uri": "s3://raw/", "items_dataset": '{"fields": [], "sources": []}'})
    assert metadata.parse_arguments({"metadata_root_uri": "s3://raw", "items_dataset": "{}", "users_dataset": "{}"}) == (
        "s3://raw/", {"items": None, "users": None}
    )
