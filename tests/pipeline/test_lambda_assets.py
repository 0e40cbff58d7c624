"""Each Lambda function ships only its own code: its package of lambda_src/ and the contracts it imports.

Checked on the synthesized app, for every function whose handler lives in lambda_src/: the handler module is
imported in a fresh interpreter with nothing of the repository on sys.path but the function's asset directory
(from cdk.out), and
- every first-party module it loads comes from the asset (nothing is missing);
- every module in the asset is loaded (nothing is shipped that the handler does not use);
- everything else it loads is the standard library, boto3 (the Lambda runtime's) or Powertools (the layer).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.app_factory import PipelineApp

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SOURCE = ROOT / "lambda_src"
# What the Lambda Python runtime provides (boto3 and its dependencies), what the Powertools layer provides
# (Powertools, and aws-xray-sdk with wrapt for its Tracer), and what this interpreter's site loads by itself.
PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "certifi",
            "aws_lambda_powertools", "typing_extensions", "aws_xray_sdk", "wrapt", "_distutils_hack"}  # fmt: skip

_PROBE = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
loaded = {}
for name, m in list(sys.modules.items()):
    path = getattr(m, "__file__", None)
    if path:
        loaded[name] = path
print(json.dumps(loaded))
"""


def _functions(app: PipelineApp) -> dict[str, dict[str, Any]]:
    """Our functions of both templates by logical id (handler, asset directory)."""
    outdir = Path(app.app.outdir)
    found = {}
    for stack in app.stacks:
        template = json.loads((outdir / stack.template_file).read_text())
        for logical_id, resource in template["Resources"].items():
            properties = resource.get("Properties", {})
            handler = properties.get("Handler", "") if resource["Type"] == "AWS::Lambda::Function" else ""
            if (LAMBDA_SOURCE / handler.split(".", 1)[0]).is_dir() and handler:
                asset_hash = properties["Code"]["S3Key"].removesuffix(".zip")
                found[logical_id] = {"handler": handler, "asset": outdir / f"asset.{asset_hash}"}
    return found


@pytest.fixture(scope="module")
def functions(default_app: PipelineApp, default_templates) -> dict[str, dict[str, Any]]:
    found = _functions(default_app)
    assert {f["handler"].split(".", 1)[0] for f in found.values()} == {
        "run_names", "run_modes", "postprocess", "model_gate", "batch_plan", "personalize_resources", "run_lease"
    }
    return found


def _loaded_modules(asset: Path, module: str) -> dict[str, str]:
    completed = subprocess.run(
        [sys.executable, "-I", "-B", "-c", f"import sys; sys.path.insert(0, {str(asset)!r}); exec({_PROBE!r})", module],
        capture_output=True, text=True, cwd=asset,
    )  # fmt: skip
    assert completed.returncode == 0, f"{module} does not import from its asset alone:\n{completed.stderr[-2000:]}"
    return json.loads(completed.stdout)


def test_each_function_imports_exactly_its_asset(functions: dict[str, dict[str, Any]]) -> None:
    stdlib = Path(json.__file__).parent
    for logical_id, function in functions.items():
        asset: Path = function["asset"]
        module = function["handler"].rsplit(".", 1)[0]
        loaded = _loaded_modules(asset, module)
        shipped = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
        from_asset = {Path(p).relative_to(asset).as_posix() for p in loaded.values() if Path(p).is_relative_to(asset)}
        assert from_asset == shipped, f"{logical_id} ships modules its handler does not load"
        elsewhere = {name.split(".")[0]: Path(path) for name, path in loaded.items() if not Path(path).is_relative_to(asset)}
        assert not [path for path in elsewhere.values() if path.is_relative_to(ROOT) and ".venv" not in path.parts]
        needs = {
            name
            for name, path in elsewhere.items()
            if name not in PROVIDED and name not in sys.stdlib_module_names and not path.is_relative_to(stdlib)
        }
        assert not needs, f"{logical_id} needs {needs}"


def test_functions_share_nothing_they_do_not_import(functions: dict[str, dict[str, Any]]) -> None:
    for function in functions.values():
        package = function["handler"].split(".", 1)[0]
        top = {p.name for p in function["asset"].iterdir()}
        assert top <= {package, "pipeline_contracts"}, top
        assert package in top


def test_the_shared_handler_helpers_ship_with_every_function_that_uses_them(functions: dict[str, dict[str, Any]]) -> None:
    """`pipeline_contracts/lambda_runtime.py` replaces code each handler used to copy: every package that imports it
    gets it in its asset (imported from there by the check above), and those are the four that used to copy it."""
    helper = "pipeline_contracts/lambda_runtime.py"
    users = {f["handler"].split(".", 1)[0] for f in functions.values() if (f["asset"] / helper).is_file()}
    assert users >= {"batch_plan", "model_gate", "run_lease", "run_modes"}, users
    for function in functions.values():
        package = function["handler"].split(".", 1)[0]
        imports = any("lambda_runtime" in path.read_text() for path in (LAMBDA_SOURCE / package).rglob("*.py"))
        assert (function["asset"] / helper).is_file() == imports, function["handler"]
