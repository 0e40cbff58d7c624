"""The manifest says which Items / Users datasets a run imported and which it skipped (issue 12, item 3).

The state machine hands the write-manifest step `$.import.metadata` exactly when the configuration has
metadata datasets (that path exists only then: a reference to it in a run without them would fail the run).
"""

from __future__ import annotations

from datetime import datetime, timezone
from lambda_src.postprocess.manifest import build_manifest
from stacks.app_factory import PipelineApp
from tests.support.templates import all_states, pipeline_definition

WRITE_MANIFEST = "Post-process: write manifest"


def test_the_manifest_step_gets_the_metadata_imports_exactly_when_datasets_are_configured(
    configured_app: PipelineApp, configured_templates
) -> None:
    payload = all_states(pipeline_definition(configured_app, configured_templates))[WRITE_MANIFEST]["Parameters"][
        "Payload"
    ]
    if configured_app.config.metadata_datasets:
        assert payload["metadata_imports.$"] == "$.import.metadata"
    else:
        assert "metadata_imports.$" not in payload


def test_the_manifest_lists_imported_and_skipped_datasets() -> None:
    imports = {
        "items": {"status": "IMPORTED", "detail": "arn:aws:personalize:us-east-1:1:dataset-import-job/i"},
        "users": {"status": "SKIPPED", "detail": "the Glue job wrote no users/ folder in this run"},
    }
    now = datetime(2026, 11, 29, tzinfo=timezone.utc)
    assert build_manifest({"run_id": "r1", "metadata_imports": imports}, [], now)["metadata_imports"] == imports
    assert build_manifest({"run_id": "r1"}, [], now)["metadata_imports"] is None
