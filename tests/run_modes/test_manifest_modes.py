"""The manifest and the notice carry the modes the run chose, each with its reason."""

from __future__ import annotations

from datetime import datetime, timezone

from lambda_src.postprocess.manifest import build_solutions_manifest, summary_of_solutions
from pipeline_contracts.run_modes import modes_line

MODES = {
    "imports": {"interactions": {"mode": "FULL", "reason": "no ACTIVE bulk import yet"},
                "items": {"mode": "INCREMENTAL", "reason": "1 ACTIVE import"}},
    "training": {"users": {"mode": "UPDATE", "reason": "ACTIVE FULL version v1"}},
}  # fmt: skip
NOW = datetime(2026, 11, 29, tzinfo=timezone.utc)


def section(status: str = "SUCCEEDED") -> dict:
    outputs = {"folder": "f/", "files": [], "lines": 1, "rows": 1, "keys_answered": 1, "errors": 0}
    return {"kind": "user_recommendations", "status": status, "model": None, "outputs": outputs}


def test_the_manifest_has_the_import_modes_and_each_solutions_training_mode() -> None:
    sections = {"users": section(), "similar": section()}
    manifest = build_solutions_manifest({"run_id": "r1", "modes": MODES}, sections, NOW)
    assert manifest["import_modes"] == MODES["imports"]
    assert manifest["solutions"]["users"]["training"] == MODES["training"]["users"]
    assert manifest["solutions"]["similar"]["training"] is None  # a solution the modes do not name
    summary = summary_of_solutions(manifest, "s3://c/runs/r1/_manifest.json", None, gates={})
    assert "Modes: imports interactions FULL, items INCREMENTAL; training users UPDATE." in summary["message"]
    assert summary["solutions"][0]["training"] == MODES["training"]["users"]


def test_without_modes_nothing_is_invented() -> None:
    manifest = build_solutions_manifest({"run_id": "r1"}, {"users": section()}, NOW)
    assert manifest["import_modes"] is None and manifest["solutions"]["users"]["training"] is None
    assert "Modes:" not in summary_of_solutions(manifest, "s3://m", None, gates={})["message"]
    assert modes_line(None) is None and modes_line({"imports": {}, "training": {}}) is None
