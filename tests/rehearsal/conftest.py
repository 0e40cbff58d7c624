"""The rehearsal's tests: `python -m pipeline_cli rehearse` on the session's synthesized apps and one local Spark.

They run in the "executed-pipeline" work group (tests/conftest.py), which synthesizes every configuration anyway;
the command's own synth and Spark start are replaced by the session's (`rehearse` fixture).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import pipeline_cli.rehearse as rehearse_command
from pipeline_cli.__main__ import main
from tests.support.cdk_app import Synthesized


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from glue_src.local_spark import local_spark_session

    session = local_spark_session(app_name="rehearsal-tests", shuffle_partitions=2, driver_memory="1g", for_tests=True)
    yield session
    session.stop()


Rehearse = Callable[..., tuple[int, str]]


@pytest.fixture
def rehearse(
    spark: Any, synthesized_apps: Callable[[str], Synthesized], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Rehearse:
    """`rehearse(*arguments)`: the command's exit code and what it printed, its --output `tmp_path / "out"`."""

    def synthesized(configuration: str) -> tuple[Any, dict[str, Any]]:
        app = synthesized_apps(configuration)
        return app.app, {name: template.to_json() for name, template in app.templates.items()}

    monkeypatch.setattr(rehearse_command, "_synthesize", synthesized)
    monkeypatch.setattr(rehearse_command, "_spark_in_background", lambda: lambda: spark)

    def run(*arguments: str) -> tuple[int, str]:
        printed = io.StringIO()
        console = Console(file=printed, width=400, highlight=False)
        code = main(["rehearse", "--output", str(tmp_path / "out"), *arguments], console=console)
        return code, printed.getvalue()

    return run
