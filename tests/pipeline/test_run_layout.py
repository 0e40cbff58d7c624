"""One run layout (`pipeline_contracts/run_layout.py`), and every side agrees with it.

- the state machine's run URIs and the manifest step's batch-input prefix (the resolved definition);
- every S3 object pattern under runs/ in the synthesized templates' policies (roles and buckets);
- the post-processing handlers' keys, executed against moto S3;
- no module of the product spells a layout name itself (a source scan);
- the Glue zip and the Lambda assets carry the module, importable as `pipeline_contracts.run_layout`.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from moto import mock_aws

from lambda_src.postprocess import handler as postprocess_handler
from pipeline_contracts import run_layout
from pipeline_contracts.solutions import batch_input_entry, batch_output_entry
from stacks.app_factory import PipelineApp
from pipeline_rehearsal import FakeCloud, resolve_definition
from tests.support.templates import all_states

ROOT = Path(__file__).resolve().parents[2]
# With several solutions: the items and query inputs, the batch-job plans, the related-items and segments outputs.
SOLUTION_ENTRIES = (
    run_layout.BATCH_INPUT_ITEMS,
    run_layout.BATCH_INPUT_QUERIES,
    run_layout.BATCH_JOBS,
    run_layout.RELATED_ITEMS,
    run_layout.SEGMENTS,
)
ENTRIES = run_layout.TRANSFORMED_ENTRIES + run_layout.CURATED_ENTRIES + SOLUTION_ENTRIES
# Modules of the product that must take every layout name from the contract.
SCANNED = ("stacks", "lambda_src", "pipeline_cli", "glue_src")


@pytest.fixture(scope="module")
def resolved(default_app: PipelineApp, default_templates) -> dict[str, Any]:
    data, pipeline = (default_templates[s.stack_name].to_json() for s in default_app.stacks)
    cloud = FakeCloud(pipeline, stacks={default_app.data_stack.stack_name: data})
    lake = default_app.data_stack.lake
    return {
        "solutions": default_app.config.solutions,
        "definition": resolve_definition(pipeline, cloud=cloud),
        "templates": {"data": (data, FakeCloud(data)), "pipeline": (pipeline, cloud)},
        "buckets": {
            name: cloud.resolve(default_app.pipeline_stack.resolve(bucket.bucket_name))
            for name, bucket in (("transformed", lake.transformed_bucket), ("curated", lake.curated_bucket))
        },
    }


def test_the_state_machine_builds_its_run_uris_from_the_contract(resolved: dict[str, Any]) -> None:
    states, buckets = resolved["definition"]["States"], resolved["buckets"]
    selector = states["Prepare run"]["ResultSelector"]
    for key, bucket, entry in (
        ("interactionsUri.$", "transformed", run_layout.INTERACTIONS),
        ("batchInputUri.$", "transformed", run_layout.BATCH_INPUT),
        ("batchOutputUri.$", "curated", run_layout.BATCH_OUTPUT),
    ):
        assert selector[key] == f"States.Format('{run_layout.run_uri(buckets[bucket], '{}', entry)}', $.Payload.runId)"
    assert states["Post-process: write manifest"]["Parameters"]["Payload"]["input_bucket"] == buckets["transformed"]
    nested = all_states(resolved["definition"])
    for spec in resolved["solutions"]:
        listing = nested[f"{spec.name} post-process: list output files"]["Parameters"]["Payload"]
        uri = run_layout.run_uri(buckets["curated"], "{}", batch_output_entry(spec.name))
        assert listing["batch_output_uri.$"] == f"States.Format('{uri}', $.run.id)"
        plan = nested[f"{spec.name} batch: plan jobs"]["Parameters"]["Payload"]
        source = run_layout.run_key("{}", batch_input_entry(spec.input_kind, spec.name))
        assert plan["source_prefix.$"] == f"States.Format('{source}', $.run.id)"


def _policy_resources(template: dict[str, Any], cloud: FakeCloud) -> Iterator[tuple[str, str]]:
    """(logical id of the policy, resolved resource) of every IAM policy and bucket policy statement."""
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in ("AWS::IAM::Policy", "AWS::S3::BucketPolicy"):
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            resources = statement.get("Resource", [])
            for value in resources if isinstance(resources, list) else [resources]:
                yield logical_id, str(cloud.resolve(value))


def test_every_runs_pattern_in_the_policies_is_a_contract_entry(resolved: dict[str, Any]) -> None:
    allowed = {run_layout.RUNS_PREFIX + "*"} | {
        run_layout.run_key("*", entry) + ("*" if entry.endswith("/") else "") for entry in ENTRIES
    } | {  # each solution's Distributed Map reads its own job list
        run_layout.run_key("*", f"{run_layout.BATCH_JOBS}{spec.name}/{run_layout.BATCH_JOB_LIST}")
        for spec in resolved["solutions"]
    }
    seen = set()
    for template, cloud in resolved["templates"].values():
        for policy, resource in _policy_resources(template, cloud):
            if not resource.startswith("arn:aws:s3:::") or "/" not in resource:
                continue
            key = resource.split("/", 1)[1]
            if "runs" in key.split("/")[0]:
                assert key in allowed, f"{policy}: {resource}"
                seen.add(key)
    # The post-processing functions' grants name each curated entry they touch.
    assert {run_layout.run_key("*", e) + ("*" if e.endswith("/") else "") for e in run_layout.CURATED_ENTRIES} <= seen


@mock_aws
def test_the_handlers_write_where_the_contract_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(postprocess_handler, "_S3", None)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="curated")
    s3.create_bucket(Bucket="transformed")
    line = {"input": {"userId": "7"}, "output": {"recommendedItems": ["1"], "scores": [0.5]}, "error": None}
    output_folder = run_layout.run_key("r1", run_layout.BATCH_OUTPUT) + "users/"
    source = output_folder + "users.json" + run_layout.BATCH_OUTPUT_SUFFIX
    s3.put_object(Bucket="curated", Key=source, Body=json.dumps(line).encode() + b"\n")
    uri = run_layout.run_uri("curated", "r1", run_layout.BATCH_OUTPUT)

    listed = postprocess_handler.list_output_files({"batch_output_uri": uri + "users/"}, _Context())
    results = [postprocess_handler.process_file(item, _Context()) for item in listed["files"]]
    record = {"name": "users", "kind": "user_recommendations", "status": "SUCCEEDED", "processedFiles": results}
    postprocess_handler.write_manifest(
        {"batch_output_uri": uri, "run_id": "r1", "input_bucket": "transformed", "solutions": [record]}, _Context()
    )

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="curated")["Contents"]}
    assert keys == {
        source,
        run_layout.run_key("r1", run_layout.RECOMMENDATIONS) + "users/users.json.csv",
        run_layout.run_key("r1", run_layout.ERRORS) + "users/users.json.jsonl",
        run_layout.run_key("r1", run_layout.MANIFEST),
        run_layout.run_key("r1", run_layout.SUCCESS),
    }


class _Context:
    function_name = "test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 600_000


def _spells_layout(text: str) -> bool:
    names = [re.escape(entry) for entry in ENTRIES]
    # A name at the start of a string or after "/": a key or URI being built (prose that mentions a folder,
    # e.g. a cdk-nag reason, is not a spelling the code depends on).
    return bool(re.search(rf"(^|/){re.escape(run_layout.RUNS_PREFIX)}|(^|/)({'|'.join(names)})", text))


def _code_strings(path: Path) -> Iterator[str]:
    """String constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value


def test_no_product_module_spells_the_layout_itself() -> None:
    spelled = {
        path.relative_to(ROOT).as_posix(): [s for s in _code_strings(path) if _spells_layout(s)]
        for folder in SCANNED
        for path in sorted((ROOT / folder).rglob("*.py"))
    }
    assert {module: strings for module, strings in spelled.items() if strings} == {}


def test_the_scan_finds_a_spelled_layout() -> None:
    assert _spells_layout("runs/{}/batch-output/") and _spells_layout("s3://b/runs/") and _spells_layout("_SUCCESS")
    assert not _spells_layout("Personalize batch inference output")
    assert all(_spells_layout(entry) for entry in SOLUTION_ENTRIES)  # the folders of several solutions too


def test_the_contract_imports_from_the_glue_zip_alone(default_app: PipelineApp, default_templates) -> None:
    outdir = Path(default_app.app.outdir)
    manifest = json.loads((outdir / f"{default_app.pipeline_stack.stack_name}.assets.json").read_text())
    zips = [
        outdir / entry["source"]["path"]
        for entry in manifest["files"].values()
        if (outdir / entry["source"]["path"] / "glue_src" / "transform.py").is_file()
    ]
    (archive,) = zips
    code = "import pipeline_contracts.run_layout as m, sys; print(m.__file__)"
    found = subprocess.run(
        [sys.executable, "-I", "-B", "-c", f"import sys; sys.path.insert(0, {str(archive)!r}); {code}"],
        capture_output=True, text=True, check=True, cwd=archive,
    ).stdout.strip()
    assert Path(found).is_relative_to(archive)
