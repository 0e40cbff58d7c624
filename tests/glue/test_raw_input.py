"""Raw input that used to be read wrongly, skipped silently or lost (issue 9): files of one prefix
with their own column orders, hidden-looking names, ids wrapped in whitespace or control
characters, unreadable compressed files, batch-input limits, empty arguments, glob characters,
binary files, empty input and the wrong timestamp unit.

Inputs are generated; expectations come from the generator (what each line was made to be),
never from a run of the job.
"""

from __future__ import annotations

import bz2
import gzip
import json
import random
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from glue_src import local_run, transform
from glue_src import limits
from glue_src.arguments import ARGUMENT_NAMES, REQUIRED_ARGUMENTS, TIMESTAMP_UNITS, parse_options
from glue_src.inputs import HEAD_BYTES, describe_binary, skip_rule
from glue_src.limits import ID_PATTERN, MIN_EPOCH_SECONDS
from glue_src.messages import EtlArgumentError, EtlInputError, TrainingMinimumsError
from glue_src.rows import REJECT_REASONS, id_number, valid_id
from pipeline_contracts import run_layout
from tests.glue.conftest import MAX_EPOCH, options, read_csv_rows, read_interaction_keys, read_json_lines

NAMES = ("userID", "movieID", "rating", "timestamp")
BASE_MS = 1_162_160_236_000


@dataclass
class Outcome:
    run_dir: Path
    summary: dict[str, Any]
    error: Exception | None

    def interactions(self) -> set[tuple[str, str, str]]:
        return read_interaction_keys(self.run_dir / "interactions")

    def batch_users(self) -> list[str]:
        return [record["userId"] for record in read_json_lines(self.run_dir / "batch-input")]

    def quarantine(self) -> list[dict[str, Any]]:
        return read_json_lines(self.run_dir / "quarantine")


def run_job(spark: Any, input_path: Path, output: Path, **arguments: Any) -> Outcome:
    opts = options(input_path, output, **arguments)
    error = None
    try:
        transform.run(spark, opts)
    except (TrainingMinimumsError, EtlInputError) as raised:
        error = raised
    run_dir = output / opts.run_id
    return Outcome(run_dir, json.loads((run_dir / run_layout.SUMMARY).read_text()), error)


def row(order: tuple[str, ...], values: dict[str, str], delimiter: str = "\t") -> str:
    return delimiter.join(values[name] for name in order)


def files_read(summary: dict[str, Any]) -> set[str]:
    layouts = summary["input"]["layouts"]
    return {path for layout in layouts for path in layout["files"]} | set(summary["input"]["blank_files"])


def local_name(path: str) -> str:
    return path.split(":", 1)[1] if path.startswith("file:") else path


# --------------------------------------------------------------------------- 1: column orders


@pytest.fixture(scope="module")
def two_orders(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Outcome, set[tuple[str, str, str]]]:
    """Two files, the second with its columns in another order; users and items that never
    collide, so a file read with the other's positions would show."""
    raw = tmp_path_factory.mktemp("orders")
    rng = random.Random(1)
    expected = set()
    for index, name in enumerate(("a.dat", "b.dat")):
        order = NAMES if index == 0 else tuple(rng.sample(NAMES, 4))
        while index and order == NAMES:
            order = tuple(rng.sample(NAMES, 4))
        lines = ["\t".join(order)]
        for n in range(20):
            user, item, stamp = str(100 * (index + 1) + n), str(5000 + 10 * index + n % 3), BASE_MS + n * 1000
            lines.append(row(order, {"userID": user, "movieID": item, "rating": "4", "timestamp": str(stamp)}))
            expected.add((user, item, str(stamp // 1000)))
        (raw / name).write_text("\n".join(lines) + "\n")
    return run_job(spark, raw, tmp_path_factory.mktemp("orders-out")), expected


def test_each_file_is_read_by_its_own_header(two_orders: tuple[Outcome, set[tuple[str, str, str]]]) -> None:
    outcome, expected = two_orders
    assert outcome.interactions() == expected
    assert outcome.quarantine() == []
    assert sorted(outcome.batch_users()) == sorted({user for user, _, _ in expected})
    assert len(outcome.summary["input"]["layouts"]) == 2


def test_a_header_without_the_columns_names_the_file_and_both_headers(spark: Any, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.dat").write_text("\t".join(NAMES) + "\n1\t2\t4\t1162160236000\n")
    (tmp_path / "in" / "other.dat").write_text("user\titem\tscore\twhen\n1\t2\t4\t1162160236000\n")
    outcome = run_job(spark, tmp_path / "in", tmp_path / "out")
    assert isinstance(outcome.error, EtlInputError)
    message = str(outcome.error)
    assert "other.dat" in message and "user\\titem\\tscore\\twhen" in message and "good.dat" in message
    assert "userID\\tmovieID\\trating\\ttimestamp" in message and "\n" not in message
    assert (outcome.summary["status"], outcome.summary["failure"]) == ("FAILED", "input")
    assert [local_name(p["file"]) for p in outcome.summary["input"]["problems"]] == [str(tmp_path / "in" / "other.dat")]


def test_a_headerless_file_too_short_for_the_positions_is_named_when_others_work(spark: Any, tmp_path: Path) -> None:
    raw = tmp_path / "in"
    raw.mkdir()
    (raw / "full.data").write_text("1\t2\t4\t880000000\n")
    (raw / "short.data").write_text("1\t2\n1\t2\t4\t880000000\n")
    positions = {"has_header": "false", "user_column": "0", "item_column": "1", "rating_column": "2", "timestamp_column": "3"}
    outcome = run_job(spark, raw, tmp_path / "out", timestamp_unit="s", **positions)
    assert isinstance(outcome.error, EtlInputError)
    assert [local_name(p["file"]) for p in outcome.summary["input"]["problems"]] == [str(raw / "short.data")]
    assert "full.data (4 fields)" in str(outcome.error)
    with pytest.raises(EtlArgumentError, match=r"--rating_column is position 2, but the first line of \S*short.data"):
        transform.run(spark, options(raw / "short.data", tmp_path / "out2", timestamp_unit="s", **positions))


# --------------------------------------------------------------------------- 2: hidden names


def test_hidden_names_are_listed_as_skipped_at_every_folder_level(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw"
    names = {
        "plain.dat": True, "_2024-11.csv": False, ".hidden.dat": False, "_tmp/inside.dat": False,
        ".cache/x.dat": False, "ok/_temporary/0/part.dat": False, "day=1/in.dat": True, "ok/in.dat": True,
    }
    rules = {name: "hidden_folder" if "/" in name else "hidden_name" for name in names}
    for number, (name, _) in enumerate(names.items()):
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_text("\t".join(NAMES) + f"\n{number}\t1\t4\t1162160236000\n")
    outcome = run_job(spark, raw, tmp_path / "out")
    read = {local_name(path) for path in files_read(outcome.summary)}
    skipped = {local_name(entry["file"]): entry["rule"] for entry in outcome.summary["input"]["skipped"]}
    assert read == {str(raw / name) for name, readable in names.items() if readable}
    assert skipped == {str(raw / name): rules[name] for name, readable in names.items() if not readable}
    assert {user for user, _, _ in outcome.interactions()} == {str(n) for n, readable in enumerate(names.values()) if readable}
    log = capsys.readouterr().err
    assert all(f"skipped file:{path} ({rule}" in log for path, rule in skipped.items())


@pytest.mark.parametrize(
    ("name", "rule"),
    [("_x.csv", "hidden_name"), (".x.csv", "hidden_name"), ("x.csv._COPYING_", "incomplete_copy"),
     ("_year=2024.csv", None), ("_metadata", None), ("x_.csv", None), ("x.csv", None)],
)
def test_skip_rules_follow_sparks_listing(name: str, rule: str | None) -> None:
    assert skip_rule(name) == rule


# --------------------------------------------------------------------------- 3: one id rule

# Whitespace and control characters (not the delimiter, not line breaks, not NUL: a NUL makes the
# file binary).
WRAPPERS = [chr(c) for c in range(1, 32) if chr(c) not in "\n\r,"] + ["\x7f", "\u00a0", "\u2003", "\u3000", "\ufeff"]


def test_ids_wrapped_in_whitespace_or_control_characters_are_rejected_once_for_both_outputs(spark: Any, tmp_path: Path) -> None:
    header = "userId,movieId,rating,timestamp"
    lines, kept, rejected_users, rejected_items = [header], set(), 0, 0
    for number, wrapper in enumerate(WRAPPERS):
        user, item, stamp = str(1000 + number), str(20 + number % 5), 1_162_160_236 + number
        lines.append(f" {user} , {item} ,4,{stamp}")  # spaces are trimmed: kept
        kept.add((user, item, str(stamp)))
        lines.append(f"{wrapper}{user},{item},4,{stamp + 1}")
        lines.append(f"{user},{item}{wrapper},4,{stamp + 2}")
        rejected_users, rejected_items = rejected_users + 1, rejected_items + 1
    (tmp_path / "ratings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = run_job(spark, tmp_path / "ratings.csv", tmp_path / "out", delimiter=",", user_column="userId",
                      item_column="movieId", timestamp_unit="s")
    counts = outcome.summary["counts"]
    assert outcome.interactions() == kept
    assert sorted(outcome.batch_users()) == sorted({user for user, _, _ in kept})
    assert (counts["rejected_by_reason"]["invalid_user_id"], counts["rejected_by_reason"]["invalid_item_id"]) == (
        rejected_users, rejected_items)
    assert (counts["kept"], counts["duplicates"]) == (len(kept), 0)
    assert counts["rows_read"] == counts["kept"] + counts["filtered_by_rating"] + counts["duplicates"] + counts["rejected"]


def test_the_id_check_is_exactly_the_id_pattern(spark: Any) -> None:
    """The fast path for whole numbers must accept nothing the pattern rejects (and the pattern
    decides the rest): generated strings around numbers, with signs, zeros, dots and wrappers."""
    rng = random.Random(7)
    pieces = ["0", "7", "42", "123456789", "9" * 18, "1" * 19, "+", "-", ".", "e", "a", " ", *WRAPPERS[:8]]
    candidates = {"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 5))) for _ in range(3000)}
    frame = spark.createDataFrame([(text,) for text in sorted(candidates)], ["id"])
    checked = frame.select("id", id_number("id")).select("id", valid_id("id").alias("ok"))
    got = {row["id"]: row["ok"] for row in checked.collect()}
    pattern = re.compile(ID_PATTERN)
    assert {text for text, ok in got.items() if ok != bool(pattern.match(text))} == set()
    assert any(got.values()) and not all(got.values())


# --------------------------------------------------------------------------- 4: unreadable files


def big_ratings(lines: int) -> bytes:
    body = "\n".join(f"{n % 97}\t{n % 501}\t4\t{BASE_MS + n}" for n in range(lines))
    return ("\t".join(NAMES) + "\n" + body + "\n").encode()


def truncated_gzip(data: bytes) -> bytes:
    packed = gzip.compress(data)
    return packed[: len(packed) * 3 // 4]


def corrupt_bzip2(data: bytes) -> bytes:
    packed = bytearray(bz2.compress(data))
    middle = len(packed) // 2
    packed[middle : middle + 64] = bytes(64)
    return bytes(packed)


# A truncated gzip breaks past the head the driver reads (Spark's own error names no file); a
# corrupt bzip2 block already breaks the head.
@pytest.mark.parametrize(
    ("name", "damage", "problem"),
    [("late.dat.gz", truncated_gzip, "cannot be read to its end: java.io"), ("late.dat.bz2", corrupt_bzip2, "cannot be read")],
)
def test_an_unreadable_compressed_file_fails_in_one_line_naming_it(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, damage: Callable[[bytes], bytes], problem: str
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    data = big_ratings(40_000)  # decompressed well past what the driver reads of each file
    assert len(data) > 4 * HEAD_BYTES
    (raw / "good.dat").write_bytes(data)
    (raw / name).write_bytes(damage(data))
    status = local_run.main(["--input", str(raw), "--output", str(tmp_path / "out"), "--run-id", "r", "--quiet"])
    err = capsys.readouterr().err
    message = [line for line in err.splitlines() if line.startswith("error: ")]
    assert status == local_run.EXIT_INPUT == 4
    assert len(message) == 1 and f"{raw / name}: {problem}" in message[0], err
    assert "good.dat" not in message[0] and "\tat " not in err
    summary = json.loads((tmp_path / "out" / "r" / run_layout.SUMMARY).read_text())
    assert (summary["status"], summary["failure"]) == ("FAILED", "input")
    assert [local_name(p["file"]) for p in summary["input"]["problems"]] == [str(raw / name)]


# --------------------------------------------------------------------------- 5: batch-input limits


def many_users(path: Path, users: int) -> None:
    lines = ["\t".join(NAMES)] + [f"{u}\t{i}\t4\t{BASE_MS + i}" for u in range(users) for i in range(2)]
    path.write_text("\n".join(lines) + "\n")


def test_batch_input_files_hold_at_most_the_record_limit(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "BATCH_INPUT_MAX_RECORDS_PER_FILE", 3)
    many_users(tmp_path / "r.dat", 10)
    outcome = run_job(spark, tmp_path / "r.dat", tmp_path / "out")
    per_file = [len(path.read_text().splitlines()) for path in sorted((outcome.run_dir / "batch-input").iterdir())]
    assert sum(per_file) == 10 and max(per_file) <= 3
    assert outcome.summary["counts"]["batch_input_files"] == len(per_file)
    assert outcome.summary["minimums"]["batch_input_max_records_per_file"] == 3


def test_more_batch_input_files_than_one_job_takes_is_left_to_batch_planning(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "BATCH_INPUT_MAX_USERS_PER_FILE", 2)
    monkeypatch.setattr(limits, "BATCH_INPUT_MAX_FILES", 3)
    many_users(tmp_path / "r.dat", 10)
    outcome = run_job(spark, tmp_path / "r.dat", tmp_path / "out")
    written = len(list((outcome.run_dir / "batch-input").iterdir()))
    assert written > 3 and outcome.summary["counts"]["batch_input_files"] == written
    # The run fails on the training minimums only (20 interactions), not on the files of one job.
    assert isinstance(outcome.error, TrainingMinimumsError)
    assert "batch input of" not in str(outcome.error) and "20 interactions kept" in str(outcome.error)


# --------------------------------------------------------------------------- 6: arguments, binary files, empty input, units

OPTIONAL_ARGUMENTS = [name for name in ARGUMENT_NAMES if name not in REQUIRED_ARGUMENTS]


@pytest.mark.parametrize("name", OPTIONAL_ARGUMENTS)
def test_an_empty_argument_is_an_error_not_the_default(name: str) -> None:
    base = {"input_uri": "s3://raw/ratings/", "output_uri": "s3://transformed/runs/", "run_id": "r1"}
    parse_options(base)  # left out: the default
    with pytest.raises(EtlArgumentError, match=rf"--{name} has value ''; allowed: a non-empty value"):
        parse_options({**base, name: ""})


@pytest.mark.parametrize("flag", ["--input", "--output", "--min-rating", "--delimiter", "--timestamp-unit"])
def test_local_run_rejects_empty_values_before_spark(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert local_run.main([flag, ""]) == local_run.EXIT_ARGUMENTS
    assert "has value ''; allowed: a non-empty value" in capsys.readouterr().err


def test_paths_with_glob_and_uri_characters_are_read_literally(spark: Any, tmp_path: Path) -> None:
    raw = tmp_path / "in [1]"
    raw.mkdir()
    names = ("ratings[1].dat", "ratings{a,b}*.dat", "ratings?.dat", "a#b%41+c.dat")
    for number, name in enumerate(names):
        (raw / name).write_text("\t".join(NAMES) + f"\n{number}\t1\t4\t1162160236000\n")
    single = run_job(spark, raw / names[0], tmp_path / "one")
    assert single.interactions() == {("0", "1", "1162160236")}
    folder = run_job(spark, raw, tmp_path / "all")
    assert len(folder.interactions()) == len(names)
    assert (folder.summary["input"]["files_read"], folder.summary["input"]["files_skipped"]) == (len(names), 0)


BINARY_FILES: dict[str, Callable[[bytes], bytes]] = {
    "ZIP archive": lambda text: _zipped(text),
    "gzip-compressed data, but its name does not end in .gz": gzip.compress,
    "bzip2-compressed data, but its name does not end in .bz2": bz2.compress,
    "UTF-16 text (little-endian, with a byte-order mark)": lambda text: b"\xff\xfe" + text.decode().encode("utf-16-le"),
    "UTF-16 text (big-endian, with a byte-order mark)": lambda text: b"\xfe\xff" + text.decode().encode("utf-16-be"),
    "UTF-16 text (no byte-order mark)": lambda text: text.decode().encode("utf-16-be"),
    "binary data (it has NUL bytes)": lambda text: text[:10] + b"\x00\x01\x02" * 50 + text[10:],
}


def _zipped(text: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("ratings.dat", text)
    return buffer.getvalue()


@pytest.mark.parametrize("description", sorted(BINARY_FILES))
def test_binary_heads_are_described(description: str) -> None:
    text = big_ratings(50)
    assert describe_binary(text) is None
    assert description in (describe_binary(BINARY_FILES[description](text)) or "")


def test_binary_files_fail_the_run_described_not_quoted(spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    text = big_ratings(50)
    for number, make in enumerate(BINARY_FILES.values()):
        (raw / f"ratings-{number}.dat").write_bytes(make(text))
    status = local_run.main(["--input", str(raw), "--output", str(tmp_path / "out"), "--run-id", "r", "--quiet"])
    err = capsys.readouterr().err
    assert status == local_run.EXIT_INPUT
    summary = json.loads((tmp_path / "out" / "r" / run_layout.SUMMARY).read_text())
    problems = {local_name(p["file"]): p["problem"] for p in summary["input"]["problems"]}
    assert problems.keys() == {str(raw / f"ratings-{n}.dat") for n in range(len(BINARY_FILES))}
    for number, description in enumerate(BINARY_FILES):
        assert description in problems[str(raw / f"ratings-{number}.dat")]
    assert "userID" not in err and "\\x" not in err


@pytest.mark.parametrize("contents", [None, {"a.dat": ""}, {"a.dat": "\n \t\n\r\n", "b.dat.gz": gzip.compress(b"")}])
def test_empty_input_writes_a_summary_and_exits_4(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], contents: dict[str, Any] | None
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, body in (contents or {}).items():
        (raw / name).write_bytes(body if isinstance(body, bytes) else body.encode())
    status = local_run.main(["--input", str(raw), "--output", str(tmp_path / "out"), "--run-id", "r", "--quiet"])
    assert status == local_run.EXIT_INPUT, capsys.readouterr().err
    summary = json.loads((tmp_path / "out" / "r" / run_layout.SUMMARY).read_text())
    assert (summary["status"], summary["failure"]) == ("FAILED", "input")
    assert "no rows to read" in summary["message"] and summary["input"]["files_read"] == len(contents or {})


@pytest.mark.parametrize(("written_in", "read_as"), [("s", "ms"), ("ms", "s")])
def test_most_timestamps_out_of_range_name_the_unit_that_fits(spark: Any, tmp_path: Path, written_in: str, read_as: str) -> None:
    factor = TIMESTAMP_UNITS[written_in]
    rng = random.Random(written_in)
    stamps = [rng.randrange(MIN_EPOCH_SECONDS, MAX_EPOCH) * factor for _ in range(40)]
    lines = ["\t".join(NAMES)] + [f"{n % 7}\t{n}\t4\t{stamp}" for n, stamp in enumerate(stamps)]
    (tmp_path / "r.dat").write_text("\n".join(lines) + "\n")
    outcome = run_job(spark, tmp_path / "r.dat", tmp_path / "out", timestamp_unit=read_as)
    assert outcome.summary["counts"]["rejected_by_reason"]["timestamp_out_of_range"] == len(stamps)
    assert len(outcome.summary["hints"]) == 1 and outcome.summary["hints"][0].endswith(f"run with --timestamp_unit {written_in}")
    assert f"--timestamp_unit {written_in}" in str(outcome.error)


def test_no_unit_hint_when_few_timestamps_are_out_of_range(spark: Any, tmp_path: Path) -> None:
    lines = ["\t".join(NAMES)] + [f"{n % 7}\t{n}\t4\t{BASE_MS + n}" for n in range(30)] + ["1\t99\t4\t1162160236"]
    (tmp_path / "r.dat").write_text("\n".join(lines) + "\n")
    outcome = run_job(spark, tmp_path / "r.dat", tmp_path / "out")
    assert outcome.summary["counts"]["timestamp_in_range_in_other_unit"] == 1 and outcome.summary["hints"] == []


# --------------------------------------------------------------------------- 8: the documented rules

RAW_INPUT_DOC = Path(__file__).resolve().parents[2] / "docs" / "raw-input.md"


def readme_rule_examples(header: str = "| check | rule | example | outcome |") -> list[tuple[str, str]]:
    """(example line, outcome) of every row of a raw-row rules table in docs/raw-input.md (the main one, or the
    event checks' with `header="| event check | rule | example | outcome |"`)."""
    text = RAW_INPUT_DOC.read_text(encoding="utf-8")
    table = text.split(header, 1)[1].split("\n\n", 1)[0]
    examples = []
    for row in table.strip().splitlines()[1:]:
        cells = [cell.strip() for cell in row.strip().strip("|").split(" | ")]
        example = re.search(r"`([^`]*)`", cells[2])
        outcome = re.search(r"`([a-z_]+)`", cells[3])
        assert example and outcome, row
        examples.append((example.group(1).replace("\\t", "\t"), outcome.group(1)))
    return examples


EVENT_REASONS = {"invalid_event_type", "non_numeric_event_value"}  # only with event columns: their own table


def test_every_example_of_the_documented_event_checks_gets_its_outcome(spark: Any, tmp_path: Path) -> None:
    examples = readme_rule_examples("| event check | rule | example | outcome |")
    assert {outcome for _, outcome in examples} == EVENT_REASONS
    kept_row = "75\t3\t4\t1162160236000\tclick\t4.5"
    lines = ["\t".join((*NAMES, "event", "value")), kept_row] + [line for line, _ in examples]
    (tmp_path / "r.dat").write_text("\n".join(lines) + "\n")
    outcome = run_job(spark, tmp_path / "r.dat", tmp_path / "out", event_type_column="event", event_value_column="value")
    assert {(record["reason"], record["line"]) for record in outcome.quarantine()} == {
        (expected, line) for line, expected in examples
    }
    assert read_csv_rows(outcome.run_dir / "interactions")[1] == [("75", "3", "1162160236", "click", "4.5")]


def test_every_example_of_the_documented_rules_table_gets_its_outcome(spark: Any, tmp_path: Path) -> None:
    examples = readme_rule_examples()
    assert {outcome for _, outcome in examples} >= set(REJECT_REASONS) - EVENT_REASONS
    kept_row = "75\t3\t4\t1162160236000"  # what the duplicate example duplicates
    lines = ["\t".join(NAMES), kept_row] + [line for line, _ in examples]
    (tmp_path / "r.dat").write_text("\n".join(lines) + "\n")
    outcome = run_job(spark, tmp_path / "r.dat", tmp_path / "out")
    quarantined = {(record["reason"], record["line"]) for record in outcome.quarantine()}
    counts = outcome.summary["counts"]
    for line, expected in examples:
        if expected in REJECT_REASONS:
            assert (expected, line) in quarantined, (line, expected)
    assert counts["filtered_by_rating"] == sum(1 for _, o in examples if o == "filtered_by_rating")
    assert counts["duplicates"] == sum(1 for _, o in examples if o == "duplicates")
    assert counts["rejected"] == sum(1 for _, o in examples if o in REJECT_REASONS)
