"""The ratings input's encoding (`raw_encoding`, job argument --encoding): lines are decoded with it, and a
byte that is not text in it fails the run naming the file, the line and the option (issue 18). The bad byte
sits in a kept-looking row's spare column, in a rejected row and in a four-column file's rejected row (a line
of any status can hold it); the same bytes read with the right encoding come out right.

Inputs are generated; expectations come from the generator."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest

from glue_src.arguments import ENCODING_OPTION, parse_options
from glue_src.messages import EtlArgumentError
from pipeline_contracts.metadata_datasets import ENCODINGS, Encoding
from tests.glue.test_raw_input import run_job

HEADER = "userID\tmovieID\trating\ttimestamp\tnote"
TS = "1162160236000"


def good_rows(users: int) -> list[str]:
    """Enough kept interactions for the training minimums (so only the encoding can fail the run)."""
    return [f"{user}\t{item}\t4\t{TS}\tok" for user in range(1, users + 1) for item in range(1, 20)]


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def ratings(tmp_path: Path, special: list[bytes], *, at: int) -> Path:
    """A ratings file whose line `at` (1-based, the header is line 1) is `special` joined, all others ASCII."""
    lines = [HEADER.encode()] + [line.encode() for line in good_rows(60)]
    lines[at - 1 : at - 1] = [b"\t".join(special)]
    folder = tmp_path / "in"
    folder.mkdir()
    return write(folder / "ratings.tsv", lines)


def test_encoding_names_are_the_metadata_sources_names() -> None:
    assert get_args(Encoding) == tuple(ENCODINGS)


@pytest.mark.parametrize("name", tuple(ENCODINGS))
def test_each_encoding_is_accepted_and_a_near_miss_is_refused(name: str) -> None:
    base = {"input_uri": "s3://raw/ratings/", "output_uri": "s3://transformed/runs/", "run_id": "r1"}
    assert parse_options({**base, "encoding": name}).encoding == name
    assert parse_options({**base, "encoding": name.upper()}).encoding == name
    with pytest.raises(EtlArgumentError, match=r"--encoding has value 'latin1'; allowed: one of utf-8, utf-8-sig"):
        parse_options({**base, "encoding": "latin1"})


# A kept-looking row whose spare column holds the byte; a row rejected for its user id holding it.
KEPT_WITH_BYTE = [b"7", b"3", b"4", TS.encode(), b"Caf\xe9"]
REJECTED_WITH_BYTE = [b"Jos\xe9", b"3", b"4", TS.encode(), b"x"]


@pytest.mark.parametrize(
    ("special", "at"), [(KEPT_WITH_BYTE, 5), (REJECTED_WITH_BYTE, 17)], ids=["kept_row", "rejected_row"]
)
def test_a_latin1_byte_in_a_utf8_file_fails_naming_file_line_and_option(
    spark: Any, tmp_path: Path, special: list[bytes], at: int
) -> None:
    path = ratings(tmp_path, special, at=at)
    outcome = run_job(spark, path.parent, tmp_path / "out")
    message = str(outcome.error)
    assert f"{path}" in message and f"line {at} (and 0 more line(s))" in message, message
    assert "not UTF-8 text" in message and f"set {ENCODING_OPTION} (utf-8)" in message
    assert outcome.summary["failure"] == "input"
    assert not (outcome.run_dir / "interactions").exists()  # nothing replaced reaches an output


def test_the_same_file_read_as_latin1_keeps_its_rows_and_quarantines_the_accented_id_right(
    spark: Any, tmp_path: Path
) -> None:
    path = ratings(tmp_path, REJECTED_WITH_BYTE, at=3)
    outcome = run_job(spark, path.parent, tmp_path / "out", encoding="latin-1")
    assert outcome.error is None
    assert len(outcome.interactions()) == 60 * 19
    (record,) = outcome.quarantine()
    assert (record["reason"], record["line"]) == ("invalid_user_id", f"José\t3\t4\t{TS}\tx")


def test_valid_utf8_accents_and_a_utf8_bom_pass_as_utf8(spark: Any, tmp_path: Path) -> None:
    path = ratings(tmp_path, ["Jos\u00e9".encode(), b"3", b"4", TS.encode(), "\U0001f600".encode()], at=2)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    for encoding in ("utf-8", "utf-8-sig"):
        outcome = run_job(spark, path.parent, tmp_path / encoding, encoding=encoding)
        assert outcome.error is None, outcome.error
        (record,) = outcome.quarantine()
        assert record["line"] == f"José\t3\t4\t{TS}\t\U0001f600"
        assert outcome.summary["counts"]["expected_header_lines"] == 1


def test_cp1252_reads_its_defined_bytes_and_refuses_an_undefined_one(spark: Any, tmp_path: Path) -> None:
    # 0x80 is the euro sign in cp1252; 0x81 is one of its five undefined bytes.
    path = ratings(tmp_path, [b"\x80", b"3", b"4", TS.encode(), b"x"], at=4)
    outcome = run_job(spark, path.parent, tmp_path / "defined", encoding="cp1252")
    assert outcome.error is None, outcome.error
    assert [record["line"] for record in outcome.quarantine()] == [f"\u20ac\t3\t4\t{TS}\tx"]

    (tmp_path / "u").mkdir()
    undefined = ratings(tmp_path / "u", [b"8", b"3", b"4", TS.encode(), b"\x81"], at=6)
    outcome = run_job(spark, undefined.parent, tmp_path / "undefined", encoding="cp1252")
    assert "line 6 (and 0 more line(s)) has bytes that are not windows-1252 text" in str(outcome.error)
    assert f"set {ENCODING_OPTION} (cp1252)" in str(outcome.error)


def test_a_four_column_file_is_checked_on_its_rejected_lines(spark: Any, tmp_path: Path) -> None:
    # Its kept lines are ASCII by construction: the byte can only be in a line the rules reject.
    folder = tmp_path / "in"
    folder.mkdir()
    lines = [b"userID\tmovieID\trating\ttimestamp"] + [
        f"{user}\t{item}\t4\t{TS}".encode() for user in range(1, 61) for item in range(1, 20)
    ]
    lines.insert(9, b"1\t2\t4\xfc\t" + TS.encode())  # latin-1 u-umlaut: non-numeric rating in a 4-field line
    path = write(folder / "four.tsv", lines)
    message = str(run_job(spark, folder, tmp_path / "out").error)
    assert f"{path}" in message and "line 10 (and 0 more line(s)) has bytes that are not UTF-8 text" in message
