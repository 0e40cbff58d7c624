"""The new metadata source keys (issue 18) at synth: each bad value is refused naming key, value and what is allowed;
and Spark's hidden-name rule at every folder level. No Spark."""

from __future__ import annotations

from typing import Any

import pytest

from glue_src.inputs import skip_rule_of_path
from pipeline_contracts.metadata_datasets import (
    MAX_NULL_VALUES,
    DatasetSpecError,
    parse_dataset,
    spark_date_pattern,
)

FIELDS = [{"name": "YEAR", "type": "int"}, {"name": "GENRES", "type": "categorical"}]


def _items(**source: Any) -> Any:
    base = {"prefix": "items/", "id_column": "id", "columns": {"YEAR": "year", "GENRES": "genres"}}
    return parse_dataset("items", {"fields": FIELDS, "sources": [{**base, **source}]})


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "cp1252"])
def test_every_allowed_encoding_is_accepted(encoding: str) -> None:
    assert _items(encoding=encoding).sources[0].encoding == encoding


@pytest.mark.parametrize(
    ("settings", "key", "allowed"),
    [
        ({"encoding": "utf-16"}, "sources[0].encoding", "one of utf-8, utf-8-sig, latin-1, cp1252"),
        ({"null_values": "\\N"}, "sources[0].null_values", "distinct strings"),
        ({"null_values": ["x"] * 2}, "sources[0].null_values", "distinct strings"),
        ({"null_values": [str(n) for n in range(MAX_NULL_VALUES + 1)]}, "sources[0].null_values", "at most 20"),
        ({"dates": {"YEAR": "%d-%q-%Y"}}, "sources[0].dates.YEAR", "strptime format"),
        ({"dates": {"YEAR": "%d-%m"}}, "sources[0].dates.YEAR", "with %Y or %y"),
        ({"dates": {"GENRES": "%Y"}}, "sources[0].dates", "type int"),
        ({"shape": "one_hot", "columns": {"GENRES": {}}}, "sources[0].columns", "one categorical field"),
        ({"shape": "one_hot", "columns": {"YEAR": {"a": "A"}}}, "sources[0].columns", "one categorical field"),
        ({"shape": "one_hot", "columns": {"GENRES": {"a": "A|B"}}}, "sources[0].columns.GENRES.a", "no '|'"),
        ({"shape": "one_hot", "columns": {"GENRES": {"a": "A", "b": "A"}}}, "columns.GENRES.b", "no other column"),
        ({"shape": "one_hot", "columns": {"GENRES": {"a": "A"}}, "separator": ";"}, "separator", "categorical"),
    ],
)
def test_bad_source_settings_are_refused_naming_key_value_and_what_is_allowed(
    settings: dict[str, Any], key: str, allowed: str
) -> None:
    with pytest.raises(DatasetSpecError) as raised:
        _items(**settings)
    assert key in raised.value.key and allowed in raised.value.allowed


def test_at_the_null_values_limit_and_a_one_hot_source_are_accepted() -> None:
    assert len(_items(null_values=[str(n) for n in range(MAX_NULL_VALUES)]).sources[0].null_values) == MAX_NULL_VALUES
    spec = parse_dataset("items", {"fields": [FIELDS[1]], "sources": [
        {"prefix": "i/", "id_column": 0, "has_header": False, "shape": "one_hot",
         "columns": {"GENRES": {"5": "unknown", "6": "Action"}}}]})
    assert spec is not None and spec.sources[0].one_hot == {"5": "unknown", "6": "Action"}
    assert parse_dataset("items", spec.as_json()) == spec  # the job argument reads back the same spec


@pytest.mark.parametrize(
    ("date_format", "pattern"),
    [
        ("%d-%b-%Y", "d'-'MMM'-'yyyy"),  # one or two digits, as strptime reads them
        ("%Y%m%d", "yyyyMMdd"),  # adjacent numbers: fixed widths split them
        ("%Y-%m-%d %H:%M:%S", "yyyy'-'M'-'d' 'H':'m':'s"),
        ("%Y", "yyyy"),
        ("%YT%H", "yyyy'T'H"),
        ("%d%%", "d'%'"),
        ("it's %Y", "'it''s 'yyyy"),
    ],
)
def test_date_formats_become_spark_patterns_with_literals_quoted(date_format: str, pattern: str) -> None:
    assert spark_date_pattern(date_format) == pattern


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("file:/in/ok/a.csv", None),
        ("file:/in/_tmp/a.csv", "hidden_folder"),
        ("file:/in/.archive/2024/a.csv", "hidden_folder"),
        ("file:/in/ok/_temporary/0/a.csv", "hidden_folder"),
        ("file:/in/day=_1/a.csv", None),  # a partition folder (has '=') is read, as Spark reads it
        ("file:/in/ok/_a.csv", "hidden_name"),
        ("file:/in/ok/a.csv._COPYING_", "incomplete_copy"),
    ],
)
def test_one_hidden_name_rule_at_every_level_below_the_input(path: str, rule: str | None) -> None:
    assert skip_rule_of_path(path, "file:/in") == rule
    assert skip_rule_of_path("file:/_root/in/a.csv", "file:/_root/in") is None  # the given root itself is read
