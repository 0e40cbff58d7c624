"""One local SparkSession for every Glue test (session scope), built by the shared helper.

The JVM takes seconds to start, so it starts in a background thread and the construct tests (CDK, in a
node process) run first: the two overlap instead of queueing. In a serial run it starts as soon as
collection ends (when Spark tests are selected). Under xdist every worker collects every test, but only
one runs the Glue tests (one work group, `WORK_GROUPS` in `tests/conftest.py`): there it starts when the
first Glue test is set up, and the other worker never starts a JVM.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest

from glue_src.arguments import EtlOptions, parse_options

# Fixed "now" for the timestamp plausibility check, so results do not depend on the clock.
MAX_EPOCH = 1_800_000_000  # 2027-01-15

_spark_future: Future | None = None
_spark_selected = False  # some selected test needs the session (after `-m` has deselected)


def _start_spark() -> Any:
    from glue_src.local_spark import local_spark_session

    return local_spark_session(app_name="glue-tests", shuffle_partitions=2, driver_memory="1g", for_tests=True)


@pytest.hookimpl(trylast=True)  # after `-m "not spark"` has deselected: no JVM for a run without Spark tests
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    glue = [index for index, item in enumerate(items) if "/tests/glue/" in str(item.path)]
    if not glue:
        return
    construct_first = sorted(glue, key=lambda index: "test_etl_construct" not in str(items[index].path))
    reordered = [items[index] for index in construct_first]
    for slot, item in zip(glue, reordered):
        items[slot] = item
    global _spark_selected
    _spark_selected = any("spark" in getattr(items[index], "fixturenames", ()) for index in glue)
    if _spark_selected and "PYTEST_XDIST_WORKER" not in os.environ:
        _start_spark_in_background()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under xdist: the first Glue test this worker runs starts the JVM (the construct tests run first)."""
    if _spark_selected and _spark_future is None and "PYTEST_XDIST_WORKER" in os.environ:
        _start_spark_in_background()


def _start_spark_in_background() -> None:
    global _spark_future
    _spark_future = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spark-start").submit(_start_spark)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    session = _spark_future.result() if _spark_future is not None else _start_spark()
    yield session
    session.stop()


def options(input_path: Path | str, output_path: Path | str, run_id: str = "run-1", **arguments: Any) -> EtlOptions:
    parsed = parse_options({"input_uri": str(input_path), "output_uri": str(output_path) + "/", "run_id": run_id, **arguments})
    return EtlOptions(**{**parsed.__dict__, "max_epoch_seconds": MAX_EPOCH})


def data_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir())


def read_lines(folder: Path) -> list[str]:
    """All lines of all files in an output folder (ordering-independent comparisons sort them)."""
    return [line for path in data_files(folder) for line in path.read_text(encoding="utf-8").splitlines()]


INTERACTIONS_HEADER = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"


def read_interaction_keys(folder: Path, event_type: str = "rating") -> set[tuple[str, str, str]]:
    """The (user, item, timestamp) of every interaction of an interactions folder whose files all have the five-column
    header and whose rows all carry `event_type` and no EVENT_VALUE (a run without event settings)."""
    headers, rows = read_csv_rows(folder)
    assert set(headers) == {INTERACTIONS_HEADER}, headers
    assert {(row[3], row[4]) for row in rows} <= {(event_type, "")}
    return {(row[0], row[1], row[2]) for row in rows}


def read_csv_rows(folder: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    """(header of every file, data rows of all files); every file must start with the header."""
    headers, rows = [], []
    for path in data_files(folder):
        lines = path.read_text(encoding="utf-8").splitlines()
        headers.append(lines[0])
        rows.extend(tuple(line.split(",")) for line in lines[1:])
    return headers, rows


def read_json_lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(folder)]


def assert_only_data_files(folder: Path, suffix: str) -> None:
    names = [path.name for path in data_files(folder)]
    assert names, f"{folder} is empty"
    assert all(name.startswith("part-") and name.endswith(suffix) for name in names), names
