"""Code assets assembled by copying files on the synth machine (no Docker): a package plus the contracts it uses.

A Lambda function's asset is its own package (`lambda_src/<package>/`) and the `pipeline_contracts` modules that
package imports, nothing else; the Glue job's `--extra-py-files` zip is the transform module and the same
contracts. `pipeline_contracts` is standard library only, so copying its files is all the packaging it needs.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import aws_cdk as cdk
import jsii

REPO = Path(__file__).resolve().parent.parent
CONTRACTS_PACKAGE = "pipeline_contracts"
# Never pulled: local bundling always succeeds, but CDK's BundlingOptions require an image.
_UNUSED_IMAGE = cdk.DockerImage.from_registry("local-bundling-only")


@jsii.implements(cdk.ILocalBundling)
class _CopyFiles:
    """Local bundling that copies `files` (path in the asset -> source file) into the output directory."""

    def __init__(self, files: Mapping[str, Path]) -> None:
        self._files = dict(files)

    # The options (unused) arrive positionally from jsii; accepting them by keyword too makes the signature
    # match ILocalBundling.try_bundle (keyword-only options) for the type checker.
    def try_bundle(self, output_dir: str, *_options: object, **_keyword_options: object) -> bool:
        for relative, source in self._files.items():
            target = Path(output_dir, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return True


def copied_files(files: Mapping[str, Path]) -> cdk.BundlingOptions:
    """Bundling options that build the asset from exactly `files` (path in the asset -> source file)."""
    return cdk.BundlingOptions(image=_UNUSED_IMAGE, local=_CopyFiles(files))


def package_files(package_dir: Path) -> dict[str, Path]:
    """Every module of a package, under the package's name (e.g. postprocess/handler.py)."""
    return {
        f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}": path
        for path in sorted(package_dir.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def with_contracts(files: Mapping[str, Path]) -> dict[str, Path]:
    """`files` plus the `pipeline_contracts` modules they import, directly or through each other."""
    return {**files, **imported_modules(files.values(), CONTRACTS_PACKAGE)}


def imported_modules(sources: Iterable[Path], package: str) -> dict[str, Path]:
    """The modules of the repository's (flat) `package` that `sources` import, directly or through each
    other, with the package's `__init__.py`: path in the asset -> source file."""
    result: dict[str, Path] = {}
    pending = list(sources)
    while pending:
        for module in _package_modules(pending.pop(), package):
            for relative in (f"{package}/__init__.py", f"{package}/{module}.py"):
                if relative not in result:
                    result[relative] = REPO / relative
                    pending.append(result[relative])
    return result


def _package_modules(source: Path, package: str) -> Iterable[str]:
    """The names of the `package` modules a source file imports ("__init__" for the package itself)."""
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == package:
                module = parts[1] if len(parts) > 1 else "__init__"
                if (REPO / package / f"{module}.py").is_file():
                    yield module
