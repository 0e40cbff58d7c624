"""The house rules of the code's shape (issue 21), checked over every product module so they hold as code grows:
no product module over 600 lines; no function in stacks/, glue_src/ or lambda_src/ over 80 lines, except a
measured hot loop whose `def` line says why ("hot ... loop" in its comment, as `fast_path.run_block`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("stacks", "glue_src", "lambda_src", "pipeline_contracts", "pipeline_cli", "pipeline_rehearsal")
FUNCTION_RULE = ("stacks", "glue_src", "lambda_src")
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 600, 80


def _modules(folders: tuple[str, ...]) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _long_functions(path: Path, limit: int, root: Path = ROOT) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            says_why = "hot" in lines[node.lineno - 1] and "loop" in lines[node.lineno - 1]
            if length > limit and not says_why:
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_product_module_is_over_600_lines() -> None:
    sizes = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in _modules(PRODUCT)}
    assert len(sizes) > 50  # the walk found the code
    assert [f"{p.relative_to(ROOT)} ({n})" for p, n in sizes.items() if n > MAX_MODULE_LINES] == []


def test_no_function_is_over_80_lines_unless_a_measured_hot_loop_says_why() -> None:
    assert [found for path in _modules(FUNCTION_RULE) for found in _long_functions(path, MAX_FUNCTION_LINES)] == []


def test_the_function_rule_catches_a_long_function_and_exempts_a_hot_loop_that_says_so(tmp_path: Path) -> None:
    module = tmp_path / "long.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))  # 81 lines with the def
    module.write_text(f"def long():\n{body}\n\n\ndef hot():  # hot loop, measured\n{body}\n", encoding="utf-8")
    assert _long_functions(module, MAX_FUNCTION_LINES, tmp_path) == ["long.py:1 long (81 lines)"]
    assert _long_functions(module, MAX_FUNCTION_LINES + 1, tmp_path) == []  # exactly at the limit passes
