"""`python -m pipeline_cli rehearse` (issue 22): whole runs of a named configuration, locally, asserted on the files
they write and on what they print.

The expectations come from the run's own records: the ETL's `_summary.json` for the interactions, the manifest for
each solution's rows, the configuration for the solutions and their kinds.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

from lambda_src.postprocess.kinds import output_kind
from pipeline_contracts import run_layout
from stacks.app_factory import named_configuration

from .conftest import Rehearse


def run_folder(output: Path) -> Path:
    (folder,) = [path for path in output.iterdir() if path.is_dir()]
    return folder


def csv_rows(folder: Path) -> list[dict[str, str]]:
    return [row for path in sorted(folder.rglob("*.csv")) for row in csv.DictReader(path.open(encoding="utf-8"))]


def interactions_of(transformed: Path) -> dict[str, set[str]]:
    """User -> the items the ETL wrote for them."""
    by_user: dict[str, set[str]] = defaultdict(set)
    for row in csv_rows(transformed / run_layout.INTERACTIONS):
        by_user[row["USER_ID"]].add(row["ITEM_ID"])
    return by_user


def test_the_default_configuration_rehearses_a_run_into_recommendation_csvs(rehearse: Rehearse, tmp_path: Path) -> None:
    code, printed = rehearse()
    assert code == 0, printed
    run = run_folder(tmp_path / "out")
    curated, transformed = run / "curated", run / "transformed"

    # The ETL's outputs, as the real transform wrote them: as many interactions as its summary says it kept.
    summary = json.loads((transformed / run_layout.SUMMARY).read_text())
    interactions = interactions_of(transformed)
    assert sum(len(items) for items in interactions.values()) == summary["counts"]["kept"] > 1000
    assert len(interactions) == summary["counts"]["distinct_users"]

    # The curated run: the manifest, then _SUCCESS; one CSV row per recommended item, for every user of the batch input.
    manifest = json.loads((curated / run_layout.MANIFEST).read_text())
    assert (manifest["status"], (curated / run_layout.SUCCESS).read_text()) == ("SUCCEEDED", "")
    (section,) = manifest["solutions"].values()
    rows = csv_rows(curated / run_layout.RECOMMENDATIONS)
    assert list(rows[0]) == ["user_id", "rank", "item_id", "score"]
    assert len(rows) == section["outputs"]["rows"] == 25 * len(interactions)
    by_user: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_user[row["user_id"]].append(row)
    assert set(by_user) == set(interactions)
    known_items = set().union(*interactions.values())
    for user, recommended in by_user.items():
        assert [int(r["rank"]) for r in recommended] == list(range(1, 26))
        assert [float(r["score"]) for r in recommended] == sorted((float(r["score"]) for r in recommended), reverse=True)
        items = {r["item_id"] for r in recommended}
        assert items <= known_items and not items & interactions[user], user  # known items, none the user had
    # Every line answered: the errors files are empty.
    assert section["outputs"]["errors"] == 0
    assert all(not path.read_text() for path in (curated / run_layout.ERRORS).rglob("*") if path.is_file())

    # What it printed: the stand-in notice, the stages with their simulated times, counts, the gate, cost, files.
    assert "not Amazon Personalize" in printed
    assert "Glue ETL done after" in printed and "Run 1 of 1: execution rehearsal-1 at 2026-01-04 03:00 UTC" in printed
    # A solution's stages run in its child execution: they are printed from its history, folded into the run's.
    for stage in ("solution training", "solution quality gate", "solution batch", "solution post-process"):
        assert f"{stage} done after" in printed, stage
    assert f"{summary['counts']['kept']:,} interactions kept, {len(interactions)} users" in printed
    assert f"{len(interactions)} lines, {len(rows):,} rows, 0 errored, 1 file(s)" in printed
    assert "model ACCEPTED" in printed and "est. cost:" in printed and str(curated) in printed
    assert "gate: Accepted " in printed and "first run (no accepted version yet)" in printed
    assert "SUCCEEDED after" in printed


def test_the_full_configuration_rehearses_every_kind_and_the_metadata(rehearse: Rehearse, tmp_path: Path) -> None:
    code, printed = rehearse("--config", "full")
    assert code == 0, printed
    run = run_folder(tmp_path / "out")
    curated, transformed = run / "curated", run / "transformed"
    manifest = json.loads((curated / run_layout.MANIFEST).read_text())
    assert manifest["status"] == "SUCCEEDED" and (curated / run_layout.SUCCESS).exists()

    # Every configured solution wrote its kind's CSVs, with rows, where its manifest section says.
    solutions = named_configuration("full")["solutions"]
    assert set(manifest["solutions"]) == {s["name"] for s in solutions}
    kinds = set()
    for spec in solutions:
        section = manifest["solutions"][spec["name"]]
        kind = output_kind(spec["recipe"])
        kinds.add(kind.name)
        folder = curated / section["outputs"]["folder"].removeprefix(f"runs/{run.name}/")
        rows = csv_rows(folder)
        assert (section["status"], section["kind"]) == ("SUCCEEDED", kind.name), spec["name"]
        assert len(rows) == section["outputs"]["rows"] > 0, spec["name"]
        assert ",".join(rows[0]) + "\n" == kind.header.decode(), spec["name"]
    assert kinds == {"user_recommendations", "related_items", "item_affinity", "item_attribute_affinity"}

    # The Items and Users datasets: written by the ETL from the sample's metadata, and imported.
    for kind in ("items", "users"):
        assert csv_rows(transformed / run_layout.metadata_entry(kind)), kind
    assert set(manifest["import_modes"]) == {"interactions", "items", "users"}
    assert "stand-in metrics of genre_fans: hits_at_1_percent" in printed


def test_an_input_below_the_training_minimums_fails_as_the_deployed_run_would(
    rehearse: Rehearse, tmp_path: Path
) -> None:
    ratings = tmp_path / "few.dat"
    ratings.write_text("userID\tmovieID\trating\ttimestamp\n" + "".join(
        f"{user}\t{movie}\t4\t1162160236000\n" for user in range(75, 80) for movie in range(1, 5)))  # fmt: skip
    code, printed = rehearse("--input", str(ratings))

    assert code == 1, printed
    # The Transform stage's named error, with Glue's message (the job's exception) as its cause.
    assert "error: TransformFailed" in printed
    assert "cause: Glue job run failed for run " in printed and "TrainingMinimumsError: " in printed
    assert "failing state: Transform failed" in printed
    run = run_folder(tmp_path / "out")
    summary = json.loads((run / "transformed" / run_layout.SUMMARY).read_text())
    assert (summary["status"], summary["failure"]) == ("FAILED", "minimums")
    assert not (run / "curated" / run_layout.SUCCESS).exists()


def test_bad_arguments_are_refused_before_anything_runs(rehearse: Rehearse, tmp_path: Path) -> None:
    assert rehearse("--runs", "0")[0] == 2
    assert rehearse("--input", str(tmp_path / "missing"))[0] == 2
    assert not (tmp_path / "out").exists()
