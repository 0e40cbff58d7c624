"""The batch inputs the configured solutions read (issue 13): users, items by the documented rule (every
interacted item, or the N most interacted with ties by id), item-attribute queries, only the requested ones,
files of at most N lines, per-file line counts in the summary, and no failure on one job's file limit.

The input is generated from a table of interactions per item; every expectation comes from that table (which
items have kept interactions and how many), never from a run of the job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from glue_src import local_run, transform
from glue_src.arguments import parse_options
from glue_src.counts import check_minimums
from glue_src.limits import BATCH_INPUT_MAX_BYTES, BATCH_INPUT_MAX_FILES
from glue_src.messages import EtlArgumentError, TrainingMinimumsError
from pipeline_contracts import run_layout, solutions
from tests.glue.conftest import options, read_json_lines

HEADER = "userID\tmovieID\trating\ttimestamp"
BASE_MS = 1_162_160_236_000

# item id -> distinct kept interactions (each with its own user). Ties on purpose: 30, 4 and 100 have 3 each
# (text order: "100" < "30" < "4"), 7 and 8 have 1 each.
KEPT_PER_ITEM = {"55": 5, "9": 4, "30": 3, "4": 3, "100": 3, "7": 1, "8": 1, "x.1": 2}
# Lines that must not count: an item seen only below the rating threshold, a kept interaction repeated
# (a duplicate: one interaction, not six), and rejected lines.
FILTERED_ONLY_ITEM = "66"
DUPLICATED_ITEM, DUPLICATE_COPIES = "77", 6


def ratings_lines() -> list[str]:
    lines = [HEADER]
    for item, count in KEPT_PER_ITEM.items():
        lines += [f"u{user}\t{item}\t4\t{BASE_MS + user * 1000}" for user in range(count)]
    lines += [f"u{user}\t{FILTERED_ONLY_ITEM}\t1\t{BASE_MS}" for user in range(9)]
    lines += [f"u1\t{DUPLICATED_ITEM}\t5\t{BASE_MS}"] * DUPLICATE_COPIES
    lines += ["u1\tbad item!\t4\t" + str(BASE_MS), "u1\t55\tfour\t" + str(BASE_MS), ""]
    return lines


def kept_counts() -> dict[str, int]:
    return {**KEPT_PER_ITEM, DUPLICATED_ITEM: 1}


def expected_top(n: int) -> list[str]:
    """The rule as documented: most kept interactions first, ties by item id ascending (text order)."""
    return sorted(kept_counts(), key=lambda item: (-kept_counts()[item], item))[:n]


@dataclass
class Outcome:
    run_dir: Path
    summary: dict[str, Any]

    def folder(self, entry: str) -> Path:
        return self.run_dir / entry

    def item_ids(self) -> list[str]:
        return [record["itemId"] for record in read_json_lines(self.folder(run_layout.BATCH_INPUT_ITEMS))]


def run_job(spark: Any, root: Path, run_id: str, **arguments: Any) -> Outcome:
    raw = root / "ratings.dat"
    if not raw.exists():
        raw.write_text("\n".join(ratings_lines()) + "\n")
    opts = options(raw, root / "out", run_id=run_id, **arguments)
    try:
        transform.run(spark, opts)
    except TrainingMinimumsError:
        pass  # a few dozen interactions: below the training minimums, every output is written anyway
    run_dir = root / "out" / run_id
    return Outcome(run_dir, json.loads((run_dir / run_layout.SUMMARY).read_text()))


QUERIES = {
    "genre_fans": ['ITEMS.GENRES = "Comedy"', 'ITEMS.GENRES = "Drama" AND ITEMS.YEAR > 1990'],
    "odd": ['ITEMS.TITLE = "back\\slash"', "line\nbreak", "tab\there", "unicode: é ✓"],
    # One past what a batch segment job reads (ITEM_ATTRIBUTE_QUERIES_PER_JOB): two files, 10 and 1.
    "many": [f"ITEMS.YEAR = {1990 + n}" for n in range(11)],
}


@pytest.fixture(scope="module")
def all_items(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """users and items (every interacted item, 2 per file) and the queries of two solutions."""
    return run_job(
        spark,
        tmp_path_factory.mktemp("all-items"),
        "all",
        batch_inputs="users,items",
        batch_items_per_file="2",
        item_attribute_queries=json.dumps(QUERIES),
    )


@pytest.fixture(scope="module")
def top_items(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """items alone: the 3 most interacted (a tie at the third place)."""
    return run_job(spark, tmp_path_factory.mktemp("top-items"), "top", batch_inputs="items", batch_items_top_n="3")


def test_every_item_with_a_kept_interaction_is_an_items_line(all_items: Outcome) -> None:
    ids = all_items.item_ids()
    assert sorted(ids) == sorted(kept_counts()) and len(ids) == len(set(ids))
    assert FILTERED_ONLY_ITEM not in ids  # only interactions below --min_rating
    lines = [line for path in sorted(all_items.folder(run_layout.BATCH_INPUT_ITEMS).iterdir()) for line in path.read_text().splitlines()]
    assert all(json.loads(line).keys() == {"itemId"} for line in lines)


def test_items_files_hold_at_most_the_asked_lines(all_items: Outcome) -> None:
    per_file = [len(path.read_text().splitlines()) for path in all_items.folder(run_layout.BATCH_INPUT_ITEMS).iterdir()]
    assert max(per_file) <= 2 and sum(per_file) == len(kept_counts()) and len(per_file) >= len(kept_counts()) // 2
    assert all_items.summary["batch_inputs"]["items"]["records_per_file_max"] == 2


def test_top_n_takes_the_most_interacted_items_with_ties_by_id(top_items: Outcome) -> None:
    assert sorted(top_items.item_ids()) == sorted(expected_top(3))
    assert sorted(top_items.item_ids()) == ["100", "55", "9"]  # the rule spelled out: "100" < "30" < "4" as text
    assert DUPLICATED_ITEM not in top_items.item_ids()  # six copies of one interaction count once
    assert "the 3 items with the most kept interactions" in top_items.summary["batch_inputs"]["items"]["rule"]


def test_top_n_larger_than_the_items_gives_every_item(spark: Any, tmp_path: Path) -> None:
    outcome = run_job(spark, tmp_path, "many", batch_inputs="items", batch_items_top_n=str(len(kept_counts()) + 5))
    assert sorted(outcome.item_ids()) == sorted(kept_counts())


def test_only_the_requested_inputs_are_written(all_items: Outcome, top_items: Outcome) -> None:
    queries = solutions.batch_input_entry("item_attributes", "genre_fans").split("/")[0]
    entries = lambda outcome: sorted(path.name for path in outcome.run_dir.iterdir())  # noqa: E731
    assert entries(all_items) == sorted(
        ["_summary.json", "interactions", "quarantine", "batch-input", "batch-input-items", queries]
    )
    assert entries(top_items) == sorted(["_summary.json", "interactions", "quarantine", "batch-input-items"])
    assert sorted(top_items.summary["batch_inputs"]) == ["items"]
    assert top_items.summary["outputs"]["batch_input"] is None
    assert top_items.summary["outputs"]["batch_input_items"].endswith("/top/" + run_layout.BATCH_INPUT_ITEMS)
    assert sorted(all_items.summary["batch_inputs"]) == ["item_attributes", "items", "users"]


def test_user_counts_do_not_need_the_users_input(all_items: Outcome, top_items: Outcome) -> None:
    users = {f"u{user}" for count in KEPT_PER_ITEM.values() for user in range(count)}
    for outcome in (all_items, top_items):
        counts = outcome.summary["counts"]
        assert counts["distinct_users"] == len(users)
        assert counts["kept"] == sum(kept_counts().values()) and counts["distinct_items"] == len(kept_counts())
    assert top_items.summary["counts"]["batch_input_files"] == 0


def test_queries_files_hold_one_escaped_line_per_query(all_items: Outcome) -> None:
    for solution, queries in QUERIES.items():
        folder = all_items.folder(solutions.batch_input_entry("item_attributes", solution))
        files = solutions.query_files(queries)
        assert sorted(path.name for path in folder.iterdir()) == sorted(files)
        for name, file_queries in files.items():
            text = (folder / name).read_text(encoding="utf-8")
            lines = text.splitlines()
            assert text.endswith("\n") and len(lines) == len(file_queries)  # a newline inside a query stays escaped
            assert [json.loads(line) for line in lines] == [{"itemAttributes": query} for query in file_queries]
    (first,) = solutions.query_files(QUERIES["genre_fans"])
    assert '"itemAttributes": "ITEMS.GENRES = \\"Comedy\\""' in (
        all_items.folder(solutions.batch_input_entry("item_attributes", "genre_fans")) / first
    ).read_text()


def test_summary_lists_every_file_with_its_line_count(all_items: Outcome) -> None:
    sections = all_items.summary["batch_inputs"]
    inputs = [sections["users"], sections["items"], *sections["item_attributes"].values()]
    for section in inputs:
        folders = {key.rsplit("/", 1)[0] for key in section["files"]}
        assert len(folders) == 1, section
        on_disk = {
            str(path.relative_to(all_items.run_dir)): len(path.read_text(encoding="utf-8").splitlines())
            for path in (all_items.run_dir / folders.pop()).iterdir()
        }
        assert section["files"] == on_disk and section["records"] == sum(on_disk.values()) > 0
    assert len(sections["items"]["files"]) > 1
    assert sections["item_attributes"]["odd"]["records"] == len(QUERIES["odd"])


def test_the_file_limit_of_one_batch_job_no_longer_fails_the_run() -> None:
    counts = {
        "kept": 10_000,
        "users_with_2plus_interactions": 500,
        "batch_input_files": BATCH_INPUT_MAX_FILES * 3,
        "batch_input_bytes": BATCH_INPUT_MAX_BYTES * 5,
    }
    assert check_minimums(counts) == []
    assert len(check_minimums({**counts, "kept": 10})) == 1  # the minimums are still checked


BASE = {"input_uri": "s3://raw/ratings/", "output_uri": "s3://transformed/runs/", "run_id": "r1"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"batch_inputs": "users,movies"}, r"--batch_inputs has value 'users,movies'; allowed: a comma-separated list of users, items"),
        ({"batch_inputs": "users,"}, r"--batch_inputs has value 'users,'"),
        ({"batch_inputs": "item_attributes"}, r"--batch_inputs .*item_attributes only with the queries"),
        ({"batch_items_top_n": "-1"}, r"--batch_items_top_n has value '-1'; allowed: a whole number from 0 to 50000000"),
        ({"batch_items_top_n": "ten"}, r"--batch_items_top_n has value 'ten'"),
        ({"batch_items_per_file": "5000001"}, r"--batch_items_per_file has value '5000001'; allowed: a whole number from 0 to 5000000"),
        ({"batch_items_per_file": "2.5"}, r"--batch_items_per_file has value '2.5'"),
        ({"item_attribute_queries": "{not json"}, r"--item_attribute_queries has value '\{not json'; allowed: a JSON object .*not JSON"),
        ({"item_attribute_queries": '["q"]'}, r"--item_attribute_queries has value '\[\"q\"\]'; allowed: a JSON object"),
        ({"item_attribute_queries": '{"fans": "q"}'}, r"--item_attribute_queries .*'fans' has 'q'"),
        ({"item_attribute_queries": '{"fans": []}'}, r"'fans' has \[\]"),
        ({"item_attribute_queries": '{"fans": ["q", " "]}'}, r"'fans' has \['q', ' '\]"),
        ({"item_attribute_queries": '{"fans": ["q", "q"]}'}, r"distinct non-empty"),
        ({"item_attribute_queries": '{"Bad-Name": ["q"]}'}, r"'Bad-Name' has \['q'\]"),
    ],
)
def test_bad_batch_arguments_are_clear_errors(arguments: dict[str, str], message: str) -> None:
    with pytest.raises(EtlArgumentError, match=message):
        parse_options({**BASE, **arguments})


def test_batch_arguments_parse_with_defaults_that_write_the_users_input_alone() -> None:
    parsed = parse_options(BASE)
    assert (parsed.batch_inputs, parsed.batch_items_top_n, parsed.batch_items_per_file) == (("users",), 0, 0)
    assert parsed.item_attribute_queries == {} and parsed.writes_users and not parsed.writes_items
    given = parse_options(
        {**BASE, "batch_inputs": " items , users,items", "batch_items_top_n": "500", "batch_items_per_file": "500",
         "item_attribute_queries": json.dumps({"genre_fans": ["q1", "q2"]})}
    )
    assert (given.batch_inputs, given.batch_items_top_n, given.batch_items_per_file) == (("items", "users"), 500, 500)
    assert given.item_attribute_queries == {"genre_fans": ("q1", "q2")}
    assert given.batch_input_queries_uri("genre_fans") == "s3://transformed/runs/r1/batch-input-queries/genre_fans/"
    assert given.batch_input_items_uri == "s3://transformed/runs/r1/batch-input-items/"


def test_local_run_passes_the_batch_arguments_and_rejects_bad_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "q.json").write_text('{"fans": ["ITEMS.GENRES = \\"Comedy\\""]}')
    args = local_run.build_parser().parse_args(
        ["--batch-inputs", "users,items", "--batch-items-top-n", "9", "--batch-items-per-file", "500",
         "--item-attribute-queries", f"@{tmp_path / 'q.json'}"]
    )
    arguments = local_run.glue_arguments(args)
    assert {key: arguments[key] for key in ("--batch_inputs", "--batch_items_top_n", "--batch_items_per_file")} == {
        "--batch_inputs": "users,items", "--batch_items_top_n": "9", "--batch_items_per_file": "500"
    }
    assert parse_options(arguments).item_attribute_queries == {"fans": ('ITEMS.GENRES = "Comedy"',)}
    assert local_run.main(["--item-attribute-queries", "[1]"]) == local_run.EXIT_ARGUMENTS == 2
    assert "--item_attribute_queries has value '[1]'" in capsys.readouterr().err
    assert local_run.main(["--batch-items-top-n", "many"]) == 2
    assert "--batch_items_top_n has value 'many'" in capsys.readouterr().err
