"""One raw metadata source, planned and read: its files listed (Spark's hidden-name rule at every level), each
file's head checked and its header found, its bytes checked against the source's `encoding`, then its records
read as RFC 4180 CSV and classified, every record getting exactly one outcome.

The dialect read: fields split by the source's `delimiter`; a field may be quoted with `"`, and a quoted field
may hold the delimiter, line breaks and doubled quotes (`""` is one `"`); a quote inside an unquoted field is
literal (`11'09"01`). Spark's CSV reader (`multiLine`, quote and escape `"`) reads it, in the source's
encoding, as RFC 4180 and Python's `csv` module do. Blank lines hold no record. Cells are trimmed of spaces,
tabs and line breaks; a trimmed cell listed in `null_values` is null.

A file that cannot be read as configured (not text, a ZIP, bytes invalid in the encoding, a header without a
configured column, a first line too short for a configured position) is a `problem`: the caller fails the run
naming each one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from pipeline_contracts.metadata_datasets import (
    DATE_TARGETS,
    ENCODINGS,
    MAX_CATEGORICAL_LENGTH,
    MAX_ID_LENGTH,
    NUMERIC_TYPES,
    DatasetSpec,
    Source,
    spark_date_pattern,
)

from glue_src.inputs import (
    SKIP_RULES,
    check_encoding,
    glob_escaped,
    inspect_file,
    list_files_with_skip_rules,
)
from glue_src.messages import EtlInputError
from glue_src.rows import id_number, split_pattern, valid_id

_SQL_TYPES = {"int": "INT", "long": "BIGINT", "float": "FLOAT", "double": "DOUBLE", "creation_timestamp": "BIGINT"}
_CORRUPT = "_corrupt_record"
_OUTER_SPACE = r"^[ \t\r\n\x{FEFF}]+|[ \t\r\n]+$"
_LINE_BREAKS = r"\r\n|\n|\r(?!$)"


@dataclass
class SourcePlan:
    """The files of one source, grouped by their field count and the positions of the columns read."""

    uri: str
    groups: dict[tuple[int, tuple[int, ...]], list[str]] = field(default_factory=dict)  # (width, positions) -> files
    headers: set[tuple[str, ...]] = field(default_factory=set)
    skipped: list[dict[str, str]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    blank_files: list[str] = field(default_factory=list)
    lines_read: int = 0

    @property
    def files(self) -> list[str]:
        return [path for files in self.groups.values() for path in files]

    def describe(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "files_read": len(self.files) + len(self.blank_files),
            "skipped": self.skipped,
            "problems": self.problems,
        }


def header_fields(line: str, delimiter: str) -> list[str]:
    """A file's first line split as the CSV reader splits it (quotes honoured), trimmed, without a BOM."""
    fields = [part.strip() for part in next(csv.reader([line], delimiter=delimiter, strict=False), [])]
    return [fields[0].lstrip("\ufeff")] + fields[1:] if fields else [""]


def _positions(source: Source, fields: list[str], line: str) -> tuple[int, ...] | str:
    """The positions of the id and the columns read in a file with this first line, or the problem."""
    positions = []
    for column in (source.id_column, *source.read_columns):
        if source.has_header and column in fields:
            positions.append(fields.index(column))
        elif not source.has_header and int(column) < len(fields):
            positions.append(int(column))
        else:
            what = "header" if source.has_header else "first line"
            return (
                f"its {what} {line[:200]!r} has no column {column!r} ({len(fields)} field(s) split by "
                f"{source.delimiter!r}); check the source's columns, delimiter and has_header"
            )
    return tuple(positions)


def plan_source(spark: SparkSession, source: Source, uri: str, where: str) -> SourcePlan:
    """Lists a source's files, checks each one's head and bytes and groups them by layout. A missing
    prefix is a source without files; every file that cannot be read as configured is a `problem`."""
    plan = SourcePlan(uri=uri)
    try:
        listed = list_files_with_skip_rules(spark, uri)
    except EtlInputError:
        return plan
    for path, rule in listed:
        if rule:
            plan.skipped.append({"file": path, "rule": rule, "why": SKIP_RULES[rule]})
            continue
        line, problem = inspect_file(spark, path, source.encoding.replace("utf-8-sig", "utf-8"))
        if line is None and not problem:
            plan.blank_files.append(path)
            continue
        fields = header_fields(line, source.delimiter) if line is not None else []
        found = problem or _positions(source, fields, line or "")
        if isinstance(found, str):
            plan.problems.append({"file": path, "problem": found})
            continue
        plan.groups.setdefault((len(fields), found), []).append(path)
        if source.has_header:
            plan.headers.add(tuple(fields))
    problems, plan.lines_read = check_encoding(
        spark, plan.files + plan.blank_files, ENCODINGS[source.encoding], f"{where}.encoding ({source.encoding})"
    )
    plan.problems.extend(problems)
    bad = {problem["file"] for problem in problems}
    plan.groups = {key: kept for key, files in plan.groups.items() if (kept := [f for f in files if f not in bad])}
    return plan


def read_records(spark: SparkSession, source: Source, files: list[str], width: int) -> DataFrame:
    """The CSV records of files with `width` fields: columns c0.. and the raw text of a record whose field
    count differs (`_corrupt_record`)."""
    schema = StructType(
        [StructField(f"c{index}", StringType()) for index in range(width)] + [StructField(_CORRUPT, StringType())]
    )
    return (
        spark.read.schema(schema)
        .option("sep", source.delimiter)
        .option("quote", '"')
        .option("escape", '"')
        .option("multiLine", "true")
        .option("encoding", ENCODINGS[source.encoding])
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", _CORRUPT)
        .option("ignoreLeadingWhiteSpace", "false")
        .option("ignoreTrailingWhiteSpace", "false")
        .csv([glob_escaped(path) for path in files])
    )


def _clean(cell: Column, null_values: tuple[str, ...]) -> Column:
    """A cell trimmed (spaces, tabs, line breaks, a BOM), "" for null and for the source's null values."""
    trimmed = F.coalesce(F.regexp_replace(cell, _OUTER_SPACE, ""), F.lit(""))
    return F.when(trimmed.isin(list(null_values)), F.lit("")).otherwise(trimmed) if null_values else trimmed


def _values(text: Column, source: Source) -> Column:
    """The categorical values of a cell: split by the source's separator, trimmed, empties and null values
    dropped."""
    parts = F.split(text, split_pattern(source.separator), -1) if source.separator else F.array(text)
    values = F.transform(parts, lambda value: F.trim(value))
    nulls = list(source.null_values)
    return F.filter(values, lambda value: (F.length(value) > 0) & (~value.isin(nulls) if nulls else F.lit(True)))


def _field(name: str, cells: dict[str, str], spec: DatasetSpec, source: Source) -> tuple[Column, list[Any]]:
    """(the field's value, its reject checks); `cells`: each column read -> the name of its cleaned cell."""
    field_type = {f.name: f.type for f in spec.fields}[name]
    if source.shape == "one_hot":
        flags = {column: F.col(cells[column]) for column in source.one_hot}
        not_flag = reduce(lambda a, b: a | b, [~cell.isin("0", "1", "") for cell in flags.values()])
        names = [F.when(flags[column] == "1", F.lit(value)) for column, value in source.one_hot.items()]
        return F.filter(F.array(*names), lambda value: value.isNotNull()), [(not_flag, f"not_one_hot:{name}")]
    cell_name = cells[source.columns[name]]
    cell = F.col(cell_name)
    if field_type == "categorical":
        values = _values(cell, source)
        too_long = F.exists(values, lambda value: F.length(value) > MAX_CATEGORICAL_LENGTH)
        return values, [(too_long, f"categorical_value_too_long:{name}")]
    if name in source.dates:
        parsed = F.try_to_timestamp(cell, F.lit(spark_date_pattern(source.dates[name])))
        value = F.year(parsed) if DATE_TARGETS[field_type] == "year" else F.unix_seconds(parsed)
        return F.when(cell != "", value), [((cell != "") & parsed.isNull(), f"not_date:{name}")]
    if field_type in NUMERIC_TYPES or field_type == "creation_timestamp":
        sql_type = _SQL_TYPES[field_type]
        number = F.expr(f"try_cast(`{cell_name}` AS {sql_type})")
        return F.when(cell != "", number), [((cell != "") & number.isNull(), f"not_{sql_type.lower()}:{name}")]
    return F.when(cell != "", cell), []  # textual: kept as written


def classify_source(spark: SparkSession, spec: DatasetSpec, source: Source, plan: SourcePlan) -> DataFrame:
    """One row per record of the source: `outcome` (kept, header or a reject reason), `line` (the record's
    fields joined by the delimiter, or its text when its field count is wrong), `source_file`, `record_lines`,
    the id and one column per field of the source (categorical: an array of values)."""
    frames = []
    headers = sorted("\u0001".join(header) for header in plan.headers)
    for (width, positions), files in plan.groups.items():
        raw = read_records(spark, source, files, width)
        cleaned = {f"c{index}": _clean(F.col(f"c{index}"), ()) for index in range(width)}
        joined = F.concat_ws(source.delimiter, *(F.coalesce(F.col(f"c{i}"), F.lit("")) for i in range(width)))
        line = F.coalesce(F.col(_CORRUPT), joined)
        names = ["col_id"] + [f"col_{index}" for index in range(len(source.read_columns))]
        frames.append(
            raw.select(
                line.alias("line"),
                F.input_file_name().alias("source_file"),
                (1 + F.expr(f"regexp_count(`{_CORRUPT}`, '{_LINE_BREAKS}')")).alias("corrupt_lines"),
                (1 + F.regexp_count(joined, F.lit(_LINE_BREAKS))).alias("record_lines"),
                F.col(_CORRUPT).isNotNull().alias("wrong_count"),
                F.concat_ws("\u0001", *cleaned.values()).isin(headers).alias("is_header"),
                *(
                    _clean(F.col(f"c{position}"), source.null_values if name != "col_id" else ()).alias(name)
                    for name, position in zip(names, positions, strict=True)
                ),
            )
        )
    parsed = reduce(DataFrame.unionByName, frames).select(
        "*", F.when(F.col("wrong_count"), F.col("corrupt_lines")).otherwise(F.col("record_lines")).alias("lines"),
        id_number("col_id"),
    )
    checks: list[tuple[Column, Any]] = [
        (F.col("is_header"), "header"),
        (F.col("wrong_count"), "wrong_field_count"),
        (F.length("col_id") > MAX_ID_LENGTH, "id_too_long"),
        (~valid_id("col_id"), "invalid_id"),
    ]
    cells = {column: f"col_{index}" for index, column in enumerate(source.read_columns)}
    outputs = [F.col("col_id").alias("id")]
    for name in source.fields:
        value, field_checks = _field(name, cells, spec, source)
        checks.extend(field_checks)
        outputs.append(value.alias(name))
    outcome = reduce(lambda chain, check: chain.when(check[0], F.lit(check[1])), checks[1:], F.when(
        checks[0][0], F.lit(checks[0][1])
    ))
    return parsed.select(
        outcome.otherwise(F.lit("kept")).alias("outcome"), "line", "source_file", "lines", *outputs
    )
