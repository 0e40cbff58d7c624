"""The ledger's rules without Spark (`pipeline_contracts/etl_ledger.py`, `glue_src/ledger_store.py`): the rebuild
cadence at its limit and one step before, every other rebuild reason, the delta plan, the job arguments."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from glue_src.ledger_store import FULL_REBUILD_EVERY_DAYS_MAX, object_versions, parse_incremental, read_ledger
from glue_src.messages import EtlArgumentError
from pipeline_contracts.etl_ledger import Ledger, LedgerError, import_full_reason, plan_delta, rebuild_reason

NOW = datetime(2026, 11, 15, 3, 0, tzinfo=UTC)
INPUT = "s3://raw/ratings/"


def ledger(rebuilt_days_ago: float = 1, **objects: str) -> Ledger:
    return Ledger(run="r1", input_uri=INPUT, objects=objects, full_rebuild_at=NOW - timedelta(days=rebuilt_days_ago))


def reason(previous: Ledger | None, *, every: int = 7, requested: bool = False, problem: str | None = None) -> str | None:
    return rebuild_reason(previous, problem=problem, input_uri=INPUT, now=NOW, every_days=every, requested=requested)


@pytest.mark.parametrize("days_ago, rebuilds", [(7, True), (7 - 1 / 86_400, False)])
def test_the_cadence_rebuilds_at_its_limit_and_not_a_second_before(days_ago: float, rebuilds: bool) -> None:
    found = reason(ledger(days_ago))
    assert (found is not None) == rebuilds
    if rebuilds:
        assert found is not None and "7.0 days old; etl_full_rebuild_every_days is 7" in found


def test_no_cadence_never_rebuilds_by_age() -> None:
    assert reason(ledger(10_000), every=0) is None


def test_every_other_reason_is_named() -> None:
    assert reason(ledger(), requested=True) == "a full rebuild was asked for this run (full_rebuild)"
    assert reason(None) == "no ledger yet: no earlier run with etl_incremental succeeded"
    assert reason(None, problem="s3://t/state/ledger.json is not a ledger") == (
        "the ledger cannot be used (s3://t/state/ledger.json is not a ledger)"
    )
    moved = Ledger(run="r1", input_uri="s3://raw/old/", objects={}, full_rebuild_at=NOW)
    assert reason(moved) == f"the ledger is of s3://raw/old/, this run reads {INPUT}"


def test_the_plan_sorts_every_object_into_one_kind() -> None:
    plan = plan_delta(ledger(a='"1"', b='"2"', gone='"3"'), {"a": '"1"', "b": '"9"', "c": '"4"'}, reason=None)
    assert (plan.new, plan.changed, plan.deleted, plan.unchanged) == (("c",), ("b",), ("gone",), ("a",))
    assert (plan.processed, plan.dropped) == (frozenset({"b", "c"}), frozenset({"b", "gone"}))
    assert import_full_reason(plan, 0) is None
    assert "2 changed or deleted raw object(s)" in str(import_full_reason(plan, 5))


def test_a_rebuild_reads_every_object() -> None:
    plan = plan_delta(ledger(a='"1"'), {"a": '"1"', "b": '"2"'}, reason="asked")
    assert (plan.processed, plan.dropped, plan.rebuild_reason) == (frozenset({"a", "b"}), frozenset(), "asked")


def test_a_ledger_round_trips_and_a_malformed_one_is_named(tmp_path: Path) -> None:
    written = ledger(a='"1"')
    assert Ledger.from_json(json.loads(json.dumps(written.as_json()))) == written
    for broken, what in (({"version": 2}, "version 1"), ({**written.as_json(), "objects": []}, "'objects'")):
        with pytest.raises(LedgerError, match=what):
            Ledger.from_json(broken)
    path = tmp_path / "ledger.json"
    assert read_ledger(str(path)) == (None, None)  # none yet: the first run
    path.write_text("{not json")
    previous, problem = read_ledger(str(path))
    assert previous is None and problem is not None and "is not a ledger" in problem


def test_a_local_files_version_changes_with_its_bytes_only(tmp_path: Path) -> None:
    path = tmp_path / "a.dat"
    path.write_text("x")
    first = object_versions(str(tmp_path), [f"file:{path}"])
    path.write_text("x")
    assert object_versions(str(tmp_path), [f"file:{path}"]) == first == {str(path): '"9dd4e461268c8034f5c8564e155c67a6"'}
    path.write_text("y")
    assert object_versions(str(tmp_path), [f"file:{path}"]) != first


@pytest.mark.parametrize(
    "arguments, problem",
    [
        ({"incremental": "true", "ledger_uri": "s3://t/state/"}, "--ledger_uri"),
        ({"incremental": "maybe"}, "--incremental"),
        ({"incremental": "true", "ledger_uri": "l.json", "full_rebuild_every_days": "-1"}, "--full_rebuild_every"),
        (
            {"incremental": "true", "ledger_uri": "l.json", "full_rebuild_every_days": FULL_REBUILD_EVERY_DAYS_MAX + 1},
            "--full_rebuild_every",
        ),
        ({"incremental": "true", "ledger_uri": "l.json", "full_rebuild": "soon"}, "--full_rebuild "),
    ],
)
def test_bad_job_arguments_are_named(arguments: dict, problem: str) -> None:
    with pytest.raises(EtlArgumentError, match=problem):
        parse_incremental(arguments)


def test_the_job_arguments_at_their_limits() -> None:
    assert parse_incremental({}) is None and parse_incremental({"--incremental": "false"}) is None
    parsed = parse_incremental(
        {"--incremental": "true", "--ledger_uri": "l.json", "--full_rebuild_every_days": str(FULL_REBUILD_EVERY_DAYS_MAX)}
    )
    assert parsed is not None and (parsed.full_rebuild_every_days, parsed.full_rebuild) == (3650, False)
