"""Whole-app checks of every synthesized template, for every named configuration: snapshot, cdk-nag, cfn-lint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import aws_s3 as s3
from syrupy.extensions.json import JSONSnapshotExtension

from stacks.app_factory import PipelineApp
from tests.support.cdk_app import mask_asset_hashes, synth, templates_of
from pipeline_rehearsal import resolve_definition, state_machine_logical_ids

@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


SNAPSHOT_DIR = Path(__file__).parent / "__snapshots__" / Path(__file__).stem


def test_templates_match_snapshots(
    configuration: str, configured_app: PipelineApp, configured_templates, json_snapshot, request: pytest.FixtureRequest
) -> None:
    # Stack names differ per configuration (its `environment`), so each has its own snapshot files.
    missing = [
        stack.stack_name
        for stack in configured_app.stacks
        if not (SNAPSHOT_DIR / f"test_templates_match_snapshots[{configuration}][{stack.stack_name}].json").exists()
    ]
    if missing and not request.config.getoption("--snapshot-update"):
        pytest.fail(
            f"config/{configuration}.json: no template snapshot yet for {', '.join(missing)}; record them once with "
            "`make snapshots` and commit tests/__snapshots__/test_templates/"
        )
    for stack in configured_app.stacks:
        template = mask_asset_hashes(configured_templates[stack.stack_name].to_json())
        assert template == json_snapshot(name=stack.stack_name)


def test_snapshots_are_stable_across_synths(tmp_path: Path, configuration: str, configured_templates) -> None:
    again = synth(tmp_path, configuration=configuration)
    for name, template in templates_of(again).items():
        assert mask_asset_hashes(template.to_json()) == mask_asset_hashes(configured_templates[name].to_json())


def _nag_report(tmp_path: Path, pipeline_builder) -> tuple[Exception | None, list[dict]]:
    pipeline = pipeline_builder(tmp_path)
    error = None
    try:
        pipeline.app.synth()
    except Exception as raised:  # jsii surfaces the validation failure as a plain error
        error = raised
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = [
        violation | {"plugin": plugin["pluginName"]}
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
    ]
    return error, violations


def test_cdk_nag_finds_nothing_unacknowledged(tmp_path: Path, configuration: str) -> None:
    error, violations = _nag_report(tmp_path, lambda out: synth(out, configuration=configuration, with_nag=True))
    readable = [(v["ruleName"], [c["constructPath"] for c in v["violatingConstructs"]]) for v in violations]
    assert readable == []
    assert error is None


def test_cdk_nag_would_catch_a_new_finding(tmp_path: Path) -> None:
    def with_unencrypted_bucket(out: Path) -> PipelineApp:
        pipeline = synth(out, with_nag=True)
        s3.Bucket(pipeline.data_stack, "CarelessBucket")
        return pipeline

    error, violations = _nag_report(tmp_path, with_unencrypted_bucket)
    assert error is not None
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= {v["ruleName"] for v in violations}


def _with_resolved_state_machines(template: dict) -> dict:
    """cfn-lint skips a DefinitionString that is an Fn::Join (CDK's output): hand it the concrete
    definition instead, so its Step Functions checks (states, transitions, intrinsics) run too."""
    for logical_id in state_machine_logical_ids(template):
        properties = template["Resources"][logical_id]["Properties"]
        properties["Definition"] = resolve_definition(template, logical_id)
        del properties["DefinitionString"]
        properties.pop("DefinitionSubstitutions", None)
    return template


def test_cfn_lint_is_clean_with_no_ignored_checks(configured_templates) -> None:
    from cfnlint.api import ManualArgs, lint

    findings = []
    for name, synthesized in configured_templates.items():
        template = _with_resolved_state_machines(synthesized.to_json())
        matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
        findings += [f"{name}: {m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches]
    assert findings == []
