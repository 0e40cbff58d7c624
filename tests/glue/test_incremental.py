"""The incremental ETL on local Spark, over one raw prefix and a sequence of runs (one Spark session, each run's
outputs reused by several assertions): a new file is read once; a run whose pipeline failed (its ledger never
promoted) does not advance the ledger, so the next run reads the same file again; an unchanged prefix reads
nothing and keeps the whole set; a changed file (new ETag) is read again and its removed rows force a FULL
import; a full rebuild on demand reads everything; a gone history forces a rebuild.

Runs that succeed go through `local_run` (which promotes the ledger, as the state machine's success path does);
the "failed" run calls the transform alone and promotes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from glue_src import local_run, transform
from glue_src.incremental import IncrementalRun
from glue_src.inputs import path_key
from glue_src.ledger_store import IncrementalOptions
from pipeline_contracts import run_layout
from tests.glue.conftest import options, read_lines

HEADER = "userID\tmovieID\trating\ttimestamp"
BASE_MS = 1_162_160_236_000


def rows(users: range, items: range, offset: int = 0) -> list[str]:
    """One kept rating per (user, item), each at its own time."""
    return [
        f"{user}\t{item}\t4\t{BASE_MS + (offset + n) * 1000}"
        for n, (user, item) in enumerate((u, i) for u in users for i in items)
    ]


A_ROWS = rows(range(1, 61), range(1, 21))  # 1,200 interactions of users 1-60
B_ROWS = rows(range(1001, 1031), range(1, 11), offset=10_000) + A_ROWS[:5]  # 300 new, 5 already in a.dat


def write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")


def summary_of(output: Path, run_id: str) -> dict[str, Any]:
    return json.loads((output / run_id / run_layout.SUMMARY).read_text(encoding="utf-8"))


def local(raw: Path, output: Path, run_id: str, *more: str) -> dict[str, Any]:
    argv = ["--input", str(raw), "--output", str(output), "--run-id", run_id, "--incremental", "--quiet", *more]
    assert local_run.main(argv) == local_run.EXIT_OK
    return summary_of(output, run_id)


def ledger(output: Path) -> dict[str, Any]:
    return json.loads((output / run_layout.LEDGER_KEY).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sequence(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("incremental")
    raw, output = base / "raw", base / "out"
    raw.mkdir()
    write(raw / "a.dat", A_ROWS)
    seen: dict[str, Any] = {"raw": raw, "output": output, "a": path_key(str(raw / "a.dat"), url_encoded=False)}
    seen["r1"], seen["ledger_r1"] = local(raw, output, "r1"), ledger(output)
    write(raw / "b.dat", B_ROWS)
    # r2's Glue job succeeds but its pipeline run fails: its ledger is proposed, never promoted.
    failed = IncrementalOptions(ledger_uri=str(output / run_layout.LEDGER_KEY))
    seen["r2"] = transform.run(spark, options(raw, output, "r2"), incremental=failed)
    seen["ledger_after_r2"] = ledger(output)
    seen["r3"] = local(raw, output, "r3")
    seen["r4"] = local(raw, output, "r4")
    write(raw / "a.dat", A_ROWS[:-60])  # other bytes, another ETag: 60 interactions gone
    seen["r5"] = local(raw, output, "r5")
    return seen


def section(summary: dict[str, Any]) -> dict[str, Any]:
    return summary["incremental"]


def test_the_first_run_reads_everything_and_its_ledger_names_each_file(sequence: dict[str, Any]) -> None:
    first = section(sequence["r1"])
    assert first["rebuild_reason"].startswith("no ledger yet")
    assert (first["objects"]["processed"], first["delta"], first["whole_set"]["interactions"]) == (1, None, 1200)
    assert sequence["ledger_r1"]["run"] == "r1" and list(sequence["ledger_r1"]["objects"]) == [sequence["a"]]


def test_a_new_file_is_read_alone_and_the_delta_holds_only_its_new_interactions(sequence: dict[str, Any]) -> None:
    second = section(sequence["r2"])
    assert (second["previous_run"], second["rebuild_reason"]) == ("r1", None)
    assert {key: second["objects"][key] for key in ("processed", "new", "changed", "skipped_as_processed")} == {
        "processed": 1, "new": 1, "changed": 0, "skipped_as_processed": 1
    }
    assert sequence["r2"]["counts"]["kept"] == 305  # the lines read in this run: b.dat's
    assert second["delta"]["interactions"] == 300  # 5 of them were already imported
    delta_lines = read_lines(sequence["output"] / "r2" / run_layout.INTERACTIONS_DELTA)
    assert len([line for line in delta_lines if line != "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]) == 300
    assert (second["whole_set"]["interactions"], second["import_full_reason"]) == (1500, None)


def test_the_batch_input_covers_users_only_in_the_history(sequence: dict[str, Any]) -> None:
    users = {json.loads(line)["userId"] for line in read_lines(sequence["output"] / "r2" / "batch-input")}
    assert users == {str(n) for n in [*range(1, 61), *range(1001, 1031)]}
    whole = read_lines(sequence["output"] / "r2" / run_layout.INTERACTIONS)
    assert len([line for line in whole if line != "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]) == 1500


def test_a_failed_run_does_not_advance_the_ledger(sequence: dict[str, Any]) -> None:
    assert sequence["ledger_after_r2"] == sequence["ledger_r1"]
    assert (sequence["output"] / "r2" / run_layout.PROPOSED_LEDGER).exists()  # proposed, never promoted
    third = section(sequence["r3"])
    assert (third["previous_run"], third["objects"]["new"], third["delta"]["interactions"]) == ("r1", 1, 300)


def test_a_file_already_processed_is_not_read_again(sequence: dict[str, Any]) -> None:
    fourth = section(sequence["r4"])
    assert (fourth["previous_run"], fourth["objects"]["processed"], fourth["objects"]["skipped_as_processed"]) == (
        "r3", 0, 2
    )
    assert (sequence["r4"]["counts"]["rows_read"], fourth["delta"]["interactions"]) == (0, 0)
    assert fourth["whole_set"]["interactions"] == 1500  # the history carries what earlier runs read


def test_a_changed_file_is_read_again_and_its_removed_rows_force_a_full_import(sequence: dict[str, Any]) -> None:
    fifth = section(sequence["r5"])
    assert (fifth["objects"]["changed"], fifth["objects"]["changed_keys"]) == (1, [sequence["a"]])
    assert (fifth["removed_interactions"], fifth["whole_set"]["interactions"]) == (60, 1440)
    assert fifth["import_full_reason"].startswith("60 interaction(s) of 1 changed or deleted raw object(s)")


def planned(spark: Any, sequence: dict[str, Any], **incremental: Any) -> IncrementalRun:
    """The plan the next run would make (nothing is read or written but the listing and the ledger)."""
    output = sequence["output"]
    return IncrementalRun(
        spark,
        options(sequence["raw"], output, "next"),
        IncrementalOptions(ledger_uri=str(output / run_layout.LEDGER_KEY), **incremental),
        now=datetime.now(UTC),
    )


def test_a_full_rebuild_on_demand_reads_everything(spark: Any, sequence: dict[str, Any]) -> None:
    assert planned(spark, sequence).plan.processed == frozenset()
    run = planned(spark, sequence, full_rebuild=True)
    assert run.plan.rebuild_reason == "a full rebuild was asked for this run (full_rebuild)"
    assert (len(run.plan.processed), run.has_history) == (2, False)


def test_a_gone_history_forces_a_rebuild(spark: Any, sequence: dict[str, Any]) -> None:
    history = sequence["output"] / "r5" / run_layout.HISTORY
    moved = history.with_name("history-moved")
    history.rename(moved)
    try:
        run = planned(spark, sequence)
    finally:
        moved.rename(history)
    assert run.plan.rebuild_reason is not None and "is gone" in run.plan.rebuild_reason
    assert (len(run.plan.processed), run.has_history) == (2, False)
