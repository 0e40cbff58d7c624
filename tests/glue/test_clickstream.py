"""Implicit feedback end to end: the clickstream example of docs/configuration.md ("Filters and event types"), a
`user_id,item_id,event_type,ts` file without a rating, through the configuration and the local ETL to an
interactions CSV with EVENT_TYPE.

The example is read from the docs (not shipped in config/: every named configuration costs the suite its synths and
checks), saved as a named configuration in a temporary config folder, and run with `python -m glue_src.local_run
--config clickstream` as a user would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from glue_src import local_run
from stacks import app_factory
from stacks.config import PipelineConfig
from tests.glue.conftest import read_csv_rows

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
USERS, ITEMS = 30, 45


def clickstream_example() -> dict[str, Any]:
    """The JSON example of the "Filters and event types" section."""
    section = DOCS.read_text(encoding="utf-8").split("## Filters and event types", 1)[1]
    match = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert match, "docs/configuration.md lost its clickstream example"
    example: dict[str, Any] = json.loads(match.group(1))
    return example


def event_type_of(item: int) -> str:
    return "purchase" if item % 9 == 0 else "view" if item % 9 == 1 else "click"


def write_clicks(path: Path) -> list[tuple[str, str, str, str, str]]:
    """The raw clickstream; returns the interactions the ETL must write (views are not kept)."""
    lines, kept = ["user_id,item_id,event_type,ts"], []
    for user in range(1, USERS + 1):
        for item in range(1, ITEMS + 1):
            event, stamp = event_type_of(item), str(1_700_000_000 + user * 100 + item)
            lines.append(f"u{user},i{item},{event},{stamp}")
            if event != "view":
                kept.append((f"u{user}", f"i{item}", stamp, event, ""))
    path.write_text("\n".join(lines) + "\n")
    return kept


@pytest.fixture
def clickstream_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    example = clickstream_example()
    (config_dir / "clickstream.json").write_text(json.dumps(example))
    monkeypatch.setattr(app_factory, "CONFIG_DIR", config_dir)
    return example


def test_the_clickstream_example_configures_implicit_feedback(clickstream_config: dict[str, Any]) -> None:
    config = PipelineConfig.from_context({**app_factory.cdk_json_context(), **clickstream_config}.get)
    assert config.raw_rating_column is None and config.raw_event_type_column == "event_type"
    (solution,) = config.solutions
    assert (solution.event_type, solution.filter) == ("click", "unbought")
    assert config.filter_named("unbought").parsed.uses_interactions


def test_a_clickstream_file_goes_through_the_local_etl_to_interactions_with_event_types(
    spark: Any, tmp_path: Path, clickstream_config: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    expected = write_clicks(tmp_path / "clicks.csv")
    argv = ["--config", "clickstream", "--input", str(tmp_path / "clicks.csv"), "--output", str(tmp_path / "out")]
    assert local_run.main([*argv, "--run-id", "clicks-1", "--quiet"]) == local_run.EXIT_OK
    counts = json.loads(capsys.readouterr().out)
    headers, rows = read_csv_rows(tmp_path / "out" / "clicks-1" / "interactions")
    assert set(headers) == {"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"}
    assert sorted(rows) == sorted(expected)
    views = USERS * sum(event_type_of(item) == "view" for item in range(1, ITEMS + 1))
    assert (counts["kept"], counts["filtered_by_event_type"], counts["filtered_by_rating"]) == (len(expected), views, 0)


@pytest.mark.parametrize("clicks", [999, 1000])
def test_the_training_minimum_is_counted_after_the_solutions_event_type(
    spark: Any, tmp_path: Path, clickstream_config: dict[str, Any], capsys: pytest.CaptureFixture[str], clicks: int
) -> None:
    """The example's solution trains on `click` alone: 1,000 kept interactions in all are not enough, 1,000 clicks
    are (999 is one short), whatever the purchases."""
    lines = ["user_id,item_id,event_type,ts"]
    for n in range(clicks + 300):  # 300 purchases; 30 users, each with many interactions
        event = "click" if n < clicks else "purchase"
        lines.append(f"u{n % 30},i{n},{event},{1_700_000_000 + n}")
    (tmp_path / "clicks.csv").write_text("\n".join(lines) + "\n")
    argv = ["--config", "clickstream", "--input", str(tmp_path / "clicks.csv"), "--output", str(tmp_path / "out")]
    code = local_run.main([*argv, "--run-id", f"clicks-{clicks}", "--quiet"])
    printed = json.loads(capsys.readouterr().out)
    if clicks == 1000:
        assert code == local_run.EXIT_OK and printed["kept_by_event_type"] == {"click": 1000, "purchase": 300}
    else:
        assert code == local_run.EXIT_MINIMUMS
        assert "999 interactions of event type 'click' kept, which a solution trains on alone" in printed["message"]
        assert printed["counts"]["kept"] == 1299  # far above the minimum in all
