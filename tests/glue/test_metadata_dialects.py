"""Metadata read from real-file dialects (issue 18): encodings, RFC 4180 quoting, null markers, dates, one-hot
columns, and every way a configured source can be unreadable. The fixtures are synthetic: each reproduces one
trait of a public MovieLens file (latin-1 titles as in ml-100k u.item, doubled quotes as in ml-latest movies.csv,
`\\N` as in HetRec movies.dat, 19 genre flags as in u.item) without any of its rows (the licence forbids
redistributing them).

Spark runs once per scenario (module-scoped); the output is read back with Python's csv module.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from glue_src import metadata
from glue_src.messages import EtlInputError
from pipeline_contracts.metadata_datasets import parse_dataset
from tests.glue.conftest import options, read_lines

# Every character class a value may hold, each as a title; the expected output replaces line breaks by a space
# (Personalize reads one record per line).
CHARACTER_CLASSES = {
    "1": "Misérables, Les (1995)",  # latin-1 accent and the delimiter
    "2": 'Film "X", The (2000)',  # quotes and the delimiter
    "3": "11'09\"01 - September 11 (2002)",  # a lone quote inside
    "4": "Pipe | inside",  # the categorical separator in a textual value
    "5": "two\nlines",  # a line break inside quotes
    "6": "crlf\r\nlines",
    "7": "Emoji \U0001F3AC and 漢字",  # non-BMP and CJK
    "8": "tab\there",
    "9": '"""artsy"""',  # quotes only
}
LATIN1_CLASSES = {key: value for key, value in CHARACTER_CLASSES.items() if key not in ("7",)}


def _expected(value: str) -> str:
    return value.replace("\r\n", " ").replace("\n", " ").strip()


def _csv_bytes(rows: list[list[str]], encoding: str, delimiter: str = ",") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def _put(root: Path, relative: str, body: bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def _run(spark: Any, root: Path, specs: dict[str, Any], items: list[str]) -> dict[str, Any]:
    opts = options(root / "ratings", root / "runs")
    run_dir = Path(opts.run_uri)
    _put(run_dir, "interactions/part-00000.csv", ("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n" + "".join(
        f"u1,{item},1,rating,\n" for item in items)).encode())
    _put(run_dir, "batch-input/part-00000.json", b'{"userId": "u1"}\n')
    parsed = {kind: parse_dataset(kind, spec) for kind, spec in specs.items()}  # type: ignore[arg-type]
    return metadata.run(spark, opts, parsed, str(root) + "/", {"outputs": {}})


def _written(folder: Path) -> dict[str, list[str]]:
    (path,) = sorted(folder.glob("part-*.csv"))
    raw = path.read_bytes()
    raw.decode("utf-8")  # Personalize wants UTF-8
    header, *rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert all(len(row) == len(header) for row in rows)
    assert len(raw.decode("utf-8").splitlines()) == len(rows) + 1  # one record per line
    return {row[0]: row[1:] for row in rows}


TITLES = {"fields": [{"name": "TITLE", "type": "textual"}]}


@pytest.fixture(scope="module")
def round_trip(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("round_trip")
    rows = [["id", "title"]] + [[key, value] for key, value in CHARACTER_CLASSES.items()]
    _put(root, "utf8/titles.csv", _csv_bytes(rows, "utf-8"))
    latin_rows = [["id", "title"]] + [[f"u{key}", value] for key, value in LATIN1_CLASSES.items()]
    _put(root, "latin/titles.tsv", _csv_bytes(latin_rows, "latin-1", "\t"))
    _put(root, "sig/titles.csv", b"\xef\xbb\xbf" + _csv_bytes([["id", "name"], ["s1", "Café"]], "utf-8"))
    specs = {
        "items": {**TITLES, "sources": [{"prefix": "utf8/", "id_column": "id", "columns": {"TITLE": "title"}}]},
        "users": {
            "fields": [{"name": "NAME", "type": "categorical"}],
            "sources": [
                {"prefix": "latin/", "id_column": "id", "columns": {"NAME": "title"}, "delimiter": "tab",
                 "encoding": "latin-1"},
            ],
        },
    }
    _run(spark, root, specs, items=list(CHARACTER_CLASSES))
    return root / "runs" / "run-1"


def test_every_character_class_comes_back_equal_through_pythons_csv_reader(round_trip: Path) -> None:
    assert _written(round_trip / "items") == {key: [_expected(value)] for key, value in CHARACTER_CLASSES.items()}


def test_each_value_whose_line_breaks_are_written_as_spaces_is_counted(round_trip: Path) -> None:
    datasets = json.loads((round_trip / "_summary.json").read_text())["datasets"]
    broken = lambda values: sum(1 for value in values if "\n" in value.strip() or "\r" in value.strip())  # noqa: E731
    assert broken(CHARACTER_CLASSES.values()) == 2  # the generator's two line-break classes
    assert datasets["items"]["counts"]["line_breaks_written_as_spaces"] == broken(CHARACTER_CLASSES.values())
    assert datasets["users"]["counts"]["line_breaks_written_as_spaces"] == broken(LATIN1_CLASSES.values())


def test_latin1_tab_separated_values_come_back_as_utf8(round_trip: Path) -> None:
    written = _written(round_trip / "users")
    # A categorical value holding `|` would be split by Personalize: the pipe class is the one value that
    # cannot come back as one value; the others do.
    expected = {f"u{key}": [_expected(value)] for key, value in LATIN1_CLASSES.items()}
    assert written == expected
    assert "\ufffd" not in json.dumps(written)


U_ITEM_FLAGS = ["unknown", "Action", "Adventure"]


def _u_item_line(item: int, title: str, date: str, flags: list[int]) -> str:
    return "|".join([str(item), title, date, "", "http://example.invalid/x", *map(str, flags)])


U_ITEM = [  # ml-100k u.item's traits: latin-1, `|`, no header, dd-Mon-yyyy dates, 0/1 genre flags
    _u_item_line(1, "Toy Story (1995)", "01-Jan-1995", [0, 0, 1]),
    _u_item_line(2, "Misérables, Les (1995)", "01-Jan-1995", [0, 1, 1]),
    _u_item_line(3, "unknown", "", [1, 0, 0]),  # no date: a null year, not a rejected row
    _u_item_line(4, "Bad date", "1995-01-01", [0, 0, 0]),  # not_date:YEAR
    _u_item_line(5, "Bad flag", "01-Feb-1996", [0, 2, 0]),  # not_one_hot:GENRES
    _u_item_line(6, "One-digit day", "4-Feb-1971", [0, 0, 1]),  # as u.item writes days below 10
    _u_item_line(7, "No such day", "31-Feb-1995", [0, 0, 1]),  # not_date:YEAR (a lenient parser rolls it over)
]
MOVIES_CSV = [  # ml-latest movies.csv's traits: RFC 4180 quotes, `(no genres listed)`
    "movieId,title,genres",
    '7789,"11\'09""01 - September 11 (2002)",Drama',
    '9001,"Film ""X"", The (2000)",Comedy|Drama',
    "9002,Nothing (2001),(no genres listed)",
    '9003,"Line\nbreak (2003)",Drama',
]
HETREC_MOVIES = [  # HetRec movies.dat's traits: tab, latin-1, `\N`, a quoted URL holding commas
    "id\ttitle\tyear\trtAllCriticsScore\tpicture",
    '10\tAmélie\t2001\t89\t"http://example.invalid/a,b.jpg"',
    '11\tNo score\t\\N\t\\N\t"http://example.invalid/c.jpg"',
]


@pytest.fixture(scope="module")
def traits(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    root = tmp_path_factory.mktemp("traits")
    _put(root, "uitem/u.item", ("\n".join(U_ITEM) + "\n").encode("latin-1"))
    _put(root, "mlmovies/movies.csv", ("\n".join(MOVIES_CSV) + "\n").encode("utf-8"))
    _put(root, "hetrec/movies.dat", ("\r\n".join(HETREC_MOVIES) + "\r\n").encode("latin-1"))
    items = {
        "fields": [
            {"name": "YEAR", "type": "int"},
            {"name": "GENRES", "type": "categorical"},
            {"name": "TITLE", "type": "textual"},
            {"name": "ML_GENRES", "type": "categorical"},
            {"name": "SCORE", "type": "int"},
            {"name": "CREATION_TIMESTAMP", "type": "creation_timestamp"},
        ],
        "sources": [
            {"prefix": "uitem/", "delimiter": "|", "has_header": False, "id_column": 0, "encoding": "latin-1",
             "columns": {"YEAR": 2, "CREATION_TIMESTAMP": 2},
             "dates": {"YEAR": "%d-%b-%Y", "CREATION_TIMESTAMP": "%d-%b-%Y"}},
            {"prefix": "uitem/", "delimiter": "|", "has_header": False, "id_column": 0, "encoding": "latin-1",
             "shape": "one_hot", "columns": {"GENRES": {"5": "unknown", "6": "Action", "7": "Adventure"}}},
            {"prefix": "mlmovies/", "id_column": "movieId", "columns": {"TITLE": "title", "ML_GENRES": "genres"},
             "separator": "|", "null_values": ["(no genres listed)"]},
            {"prefix": "hetrec/", "delimiter": "tab", "id_column": "id", "encoding": "latin-1",
             "columns": {"SCORE": "rtAllCriticsScore"}, "null_values": ["\\N"]},
        ],
    }
    summary = _run(spark, root, {"items": items}, items=["1", "2"])
    return summary, root / "runs" / "run-1"


def test_u_item_dates_become_years_and_epoch_seconds_and_flags_one_genre_list(
    traits: tuple[dict[str, Any], Path],
) -> None:
    summary, run_dir = traits
    written = _written(run_dir / "items")
    assert written["1"][:2] == ["1995", "Adventure"] and written["1"][5] == "788918400"
    assert written["2"][:2] == ["1995", "Action|Adventure"]
    dates, flags = summary["datasets"]["items"]["sources"][:2]
    assert written["6"][0] == "1971" and written["6"][5] == str(int(datetime(1971, 2, 4, tzinfo=UTC).timestamp()))
    assert dates["counts"]["rejected_by_reason"] == {"not_date:YEAR": 2}  # ids 4 and 7 (their first field)
    assert flags["counts"]["rejected_by_reason"] == {"not_one_hot:GENRES": 1}  # id 5
    assert "3" not in written  # no date: no CREATION_TIMESTAMP, dropped and counted
    assert summary["datasets"]["items"]["counts"]["ids_without_creation_timestamp"] >= 1


def test_movies_csv_doubled_quotes_and_no_genres_listed(traits: tuple[dict[str, Any], Path]) -> None:
    summary, run_dir = traits
    source = summary["datasets"]["items"]["sources"][2]
    assert source["counts"]["kept_rows"] == 4 and source["counts"]["rejected"] == 0
    assert source["counts"]["lines_read"] == 6 and source["counts"]["blank_lines"] == 0  # one record spans 2 lines
    quarantined = read_lines(run_dir / "quarantine-items")
    assert not any("9001" in line for line in quarantined)


def test_hetrec_null_marker_is_a_null_field_not_a_rejected_row(traits: tuple[dict[str, Any], Path]) -> None:
    summary, _ = traits
    source = summary["datasets"]["items"]["sources"][3]
    assert source["counts"]["kept_rows"] == 2 and source["counts"]["rejected"] == 0
    assert source["counts"]["lines_read"] == 3


# One way each that a configured source's files cannot be read, as (file, bytes, the source's settings,
# what the problem says).
UNREADABLE = {
    "typo_in_id_column": ("typo/movies.csv", b"movieId,title\n1,A\n", {"id_column": "movieID"}, "no column 'movieID'"),
    "missing_has_header_false": ("nohead/u.item", b"1|A|x\n", {"id_column": "id", "delimiter": "|"}, "no column 'id'"),
    "wrong_delimiter": ("delim/movies.dat", b"id\ttitle\n1\tA\n", {"id_column": "id"}, "split by ','"),
    "zip_archive": ("zip/movies.zip", b"", {"id_column": "id"}, "looks like a ZIP archive"),
    "invalid_utf8": ("utf8/movies.csv", b"id,title\n1,A\n2,Mis\xe9rables\n", {"id_column": "id"},
                     "line 3 (and 0 more line(s)) has bytes that are not UTF-8"),
    "undefined_cp1252_byte": ("cp/movies.csv", b"id,title\n1,\x81\n", {"id_column": "id", "encoding": "cp1252"},
                              "line 2 (and 0 more line(s)) has bytes that are not windows-1252"),
}


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("movies.csv", "id,title\n1,A\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def unreadable(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    root = tmp_path_factory.mktemp("unreadable")
    sources = []
    for index, (relative, body, settings, _) in enumerate(UNREADABLE.values()):
        _put(root, relative, _zip_bytes() if relative.endswith(".zip") else body)
        folder = relative.split("/")[0] + "/"
        _put(root, folder + "good.csv", b"")  # a good (blank) file beside the bad one is not named
        sources.append({"prefix": folder, "columns": {f"F{index}": "title"}, **settings})
    fields = [{"name": f"F{index}", "type": "textual"} for index in range(len(UNREADABLE))]
    with pytest.raises(EtlInputError) as raised:
        _run(spark, root, {"items": {"fields": fields, "sources": sources}}, items=["1"])
    summary = json.loads((root / "runs" / "run-1" / "_summary.json").read_text(encoding="utf-8"))
    return summary, str(raised.value), root


@pytest.mark.parametrize("way", sorted(UNREADABLE))
def test_each_unreadable_file_of_a_configured_source_fails_the_run_by_name(
    unreadable: tuple[dict[str, Any], str, Path], way: str
) -> None:
    summary, message, root = unreadable
    relative, _, _, problem = UNREADABLE[way]
    problems = {
        Path(entry["file"].split(":", 1)[-1]).name + "@" + entry["file"].rsplit("/", 2)[-2]: entry["problem"]
        for source in summary["datasets"]["items"]["sources"]
        for entry in source["problems"]
    }
    folder, name = relative.split("/")
    assert problem in problems[f"{name}@{folder}"]
    assert summary["status"] == "FAILED" and summary["datasets"]["items"]["status"] == "FAILED"
    assert not any(key.startswith("good.csv") for key in problems)
    assert "items_dataset: 6 file(s) of its sources cannot be read as configured" in message
    assert not (root / "runs" / "run-1" / "items").exists()
