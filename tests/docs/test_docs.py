"""The documentation stays true to the code: README.md, docs/*.md, CHANGELOG.md.

Each check reads a page the way a newcomer would (a table, a code block, a link) and compares it with what the
code or the synthesized templates say, so that a change to either side without the other fails here, naming what
differs.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from pipeline_cli.graph import definition_from_template, render_graph
from stacks.app_factory import named_configurations
from tests.support.cdk_app import Synthesized
from tests.support.templates import all_states

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]
CODE_FOLDERS = ("stacks", "lambda_src", "glue_src", "pipeline_contracts", "pipeline_cli")


def _section(text: str, heading: str) -> str:
    """The text under `heading` (a whole line) up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    following = re.search(rf"^#{{1,{level}}} ", text[start:], flags=re.MULTILINE)
    return text[start : start + following.start()] if following else text[start:]


def _code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


# --------------------------------------------------------------------------- README: the two commands


def test_readme_opens_with_the_two_make_commands_the_makefile_defines() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = _code_blocks(readme, "sh")[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make rehearse", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("rehearse", "test", "synth"):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target
    assert readme.index(first_block) < readme.index("\n## "), "the two commands come before any section"


# --------------------------------------------------------------------------- links


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```$", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    return {_slug(match) for match in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_points_at_an_existing_file_and_heading(page: Path) -> None:
    text = re.sub(r"^```.*?^```$", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    broken = []
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue  # https:, mailto: ...
        path_part, _, anchor = link.partition("#")
        target = (page.parent / path_part).resolve() if path_part else page
        if not target.exists():
            broken.append(f"{link}: no file {target.relative_to(ROOT) if ROOT in target.parents else target}")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: no heading #{anchor} in {target.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [page.name for page in sorted(DOCS.glob("*.md")) if f"](docs/{page.name})" not in readme]
    assert not missing, f"README.md's 'Where to read on' table does not link {missing}"


# --------------------------------------------------------------------------- runbook


def _fail_errors(template: dict[str, Any]) -> set[str]:
    states = all_states(definition_from_template(template))
    fails = {name: state for name, state in states.items() if state["Type"] == "Fail"}
    # A Fail state with an ErrorPath passes on the error of a job stage polled in a child execution of its own
    # (stacks/orchestration/own_history.py); that stage's own Fail states, in the child, name the errors.
    passing_on = {name for name, state in fails.items() if "ErrorPath" in state}
    assert all(name.endswith(": failed in its child") for name in passing_on), passing_on
    return {str(state["Error"]) for name, state in fails.items() if name not in passing_on}


def _runbook_entries() -> set[str]:
    runbook = _section((DOCS / "operations.md").read_text(), "## Runbook: every named failure")
    headings = re.findall(r"^### (.+)$", runbook, flags=re.MULTILINE)
    return {name for heading in headings for name in re.findall(r"`([A-Za-z]+)`", heading)}


def test_every_named_failure_of_the_configuration_has_a_runbook_entry(
    configured_templates: dict[str, Template], configured_app: Any
) -> None:
    errors = _fail_errors(configured_templates[configured_app.pipeline_stack.stack_name].to_json())
    assert len(errors) >= 10, errors  # the walk found the nested Fail states too
    missing = sorted(errors - _runbook_entries())
    assert not missing, f"docs/operations.md's runbook has no '### `Error`' entry for {missing}"


def test_every_runbook_entry_names_a_failure_some_configuration_has(
    synthesized_apps: Callable[[str], Synthesized],
) -> None:
    errors: set[str] = set()
    for name in named_configurations():
        synthesized = synthesized_apps(name)
        errors |= _fail_errors(synthesized.templates[synthesized.app.pipeline_stack.stack_name].to_json())
    stale = sorted(_runbook_entries() - errors)
    assert not stale, f"docs/operations.md's runbook has entries no state machine fails with: {stale}"


# --------------------------------------------------------------------------- graph


def test_the_architecture_page_shows_the_current_graph(pipeline_template: Template) -> None:
    section = _section((DOCS / "architecture.md").read_text(), "## State machine graph")
    (documented,) = _code_blocks(section, "text")
    current = render_graph(definition_from_template(pipeline_template.to_json()), outline=True)
    assert documented.rstrip("\n") == current.rstrip("\n"), (
        "docs/architecture.md's graph is out of date: paste `python -m pipeline_cli graph --outline` "
        "(after `make synth`) into it"
    )


# --------------------------------------------------------------------------- layout


def _tree_entries() -> set[str]:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    entries = set()
    for path in tracked:
        if not (ROOT / path).exists():
            continue  # deleted in the work tree, not yet committed
        top, _, rest = path.partition("/")
        if top.startswith("."):
            continue
        entries.add(f"{top}/" if rest else top)
        if top in CODE_FOLDERS and rest:
            module, _, below = rest.partition("/")
            if module != "__init__.py" and not module.startswith((".", "__pycache__")):
                entries.add(f"{top}/{module}/" if below else f"{top}/{module}")
    return entries


def test_the_layout_table_lists_exactly_the_tree() -> None:
    layout = _section((DOCS / "architecture.md").read_text(), "## Layout")
    documented = set(re.findall(r"^\| `([^`]+)` \|", layout, flags=re.MULTILINE))
    tree = _tree_entries()
    assert not tree - documented, f"docs/architecture.md's layout table lacks {sorted(tree - documented)}"
    assert not documented - tree, f"docs/architecture.md's layout table lists what is not there: {sorted(documented - tree)}"


# --------------------------------------------------------------------------- costs


def test_the_worked_cost_example_is_what_the_estimate_prints() -> None:
    from lambda_src.model_gate.costs import GlueUsage, PriceTable, RunUsage, estimate_run_cost

    usage = RunUsage(
        training_hours=3.5,
        glue=GlueUsage(744, "DPUSeconds", "STANDARD"),
        batch_recommendations=100_000,
        ingested_bytes=200 * 1024**2,
        state_transitions=1_200,
    )
    text = (DOCS / "costs.md").read_text()
    example_prices = json_object(_code_blocks(text, "json")[0])["prices"]
    default_block, priced_block = _code_blocks(_section(text, "## Worked example"), "text")
    assert default_block.strip() == estimate_run_cost(usage, PriceTable()).describe()
    assert priced_block.strip() == estimate_run_cost(usage, PriceTable.from_mapping(example_prices)).describe()


def json_object(fragment: str) -> dict[str, Any]:
    import json

    return dict(json.loads("{" + fragment + "}"))
