"""Raw item / user metadata -> Amazon Personalize Items and Users CSVs, as pure PySpark (no Python UDFs).

Runs after the interactions transform, in the same job and run folder. Each configured dataset
(`pipeline_contracts/metadata_datasets.py`) has one or more raw sources under its own prefix. A source is
listed, skipped and read file by file through `inputs`, as the interactions are (hidden names listed as
skipped, each file read by its own header), and its ids checked by the one id rule of `rows` (`ID_PATTERN`);
every line gets exactly one
outcome, so per source

    lines_read = header_lines + blank_lines + rejected + kept_rows

Rejected lines go to `quarantine-<kind>/` with their reason. Kept rows are aggregated per id (a `long`
source has one row per value; rows repeating an id are merged: categorical values united, a number's
largest value kept) and the sources are joined on the id (outer join: an id any source knows is written,
the fields other sources lack are empty).

Limits (Personalize's): an id longer than 256 characters is rejected (`id_too_long`); one categorical
value longer than 1000 characters is rejected (`categorical_value_too_long`), because no `|` boundary can
shorten it; an id's joined values longer than 1000 characters are truncated at the last `|` boundary that
fits (values sorted, so the result is stable) and counted in `truncated_values`. An Items id without a
CREATION_TIMESTAMP (a required long) is dropped and counted (`ids_without_creation_timestamp`).

A configured dataset whose sources have no files this run is `skipped` (no folder written: the state
machine imports only folders this run wrote); the summary says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from pipeline_contracts import run_layout
from pipeline_contracts.metadata_datasets import (
    CATEGORICAL_SEPARATOR,
    CREATION_TIMESTAMP,
    MAX_CATEGORICAL_LENGTH,
    KINDS,
    MAX_ID_LENGTH,
    NUMERIC_TYPES,
    DISABLED,
    DatasetSpec,
    DatasetSpecError,
    Source,
    parse_dataset,
)

from glue_src.arguments import EtlOptions
from glue_src.inputs import SKIP_RULES, inspect_file, list_input_files, read_text_lines, skip_rule, split_fields
from glue_src.messages import EtlArgumentError, EtlInputError, log
from glue_src.outputs import writer
from glue_src.rows import id_number, split_pattern, valid_id
from glue_src.summary import write_summary

# Job arguments: the raw bucket's root (each source's prefix is relative to it) and one JSON object per
# dataset ("{}" = not configured; every argument has a value, as getResolvedOptions wants each one present).
ARGUMENT_NAMES = ("metadata_root_uri", "items_dataset", "users_dataset")
_SQL_TYPES = {"int": "INT", "long": "BIGINT", "float": "FLOAT", "double": "DOUBLE", "creation_timestamp": "BIGINT"}


def parse_arguments(args: Mapping[str, Any]) -> tuple[str, dict[str, DatasetSpec | None]]:
    """(root URI, kind -> spec or None) from the job arguments; absent arguments mean not configured."""
    specs: dict[str, DatasetSpec | None] = {}
    for kind in KINDS:
        value = args.get(f"{kind}_dataset") or DISABLED
        try:
            specs[kind] = parse_dataset(kind, value)
        except DatasetSpecError as error:
            raise EtlArgumentError(f"job argument --{kind}_dataset: {error}") from None
    root = str(args.get("metadata_root_uri") or "")
    if any(specs.values()) and not root:
        raise EtlArgumentError("job argument --metadata_root_uri is empty; allowed: the raw bucket's URI")
    return (root.rstrip("/") + "/" if root else ""), specs


@dataclass
class SourcePlan:
    """The files of one source, grouped by the positions of their columns (from each file's first line)."""

    uri: str
    groups: dict[tuple[int, ...], list[str]] = field(default_factory=dict)  # positions (id first) -> files
    header_lines: set[str] = field(default_factory=set)
    skipped: list[dict[str, str]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    blank_files: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "files_read": sum(len(files) for files in self.groups.values()) + len(self.blank_files),
            "skipped": self.skipped,
            "problems": self.problems,
        }


def plan_source(spark: SparkSession, source: Source, uri: str) -> SourcePlan:
    """Lists a source's files and finds each file's column positions. A missing prefix is a source without
    files; a file that is not text or lacks a configured column is listed under `problems` and not read
    (the interactions of the run do not depend on it)."""
    plan = SourcePlan(uri=uri)
    try:
        paths = list_input_files(spark, uri)
    except EtlInputError:
        return plan
    wanted = [source.id_column, *source.columns.values()]
    for path in paths:
        rule = skip_rule(path.rstrip("/").rsplit("/", 1)[-1])
        if rule:
            plan.skipped.append({"file": path, "rule": rule, "why": SKIP_RULES[rule]})
            continue
        line, problem = inspect_file(spark, path)
        if problem:
            plan.problems.append({"file": path, "problem": problem})
            continue
        if line is None:
            plan.blank_files.append(path)
            continue
        fields = split_fields(line, source.delimiter)
        positions = []
        for column in wanted:
            if source.has_header and column in fields:
                positions.append(fields.index(column))
            elif not source.has_header and int(column) < len(fields):
                positions.append(int(column))
            else:
                what = "header" if source.has_header else "first line"
                plan.problems.append({"file": path, "problem": f"its {what} {line[:200]!r} has no column {column!r}"})
                break
        else:
            plan.groups.setdefault(tuple(positions), []).append(path)
            if source.has_header:
                plan.header_lines.add(line)
    return plan


def _values(text: Column, separator: str | None) -> Column:
    """The categorical values of a cell: split by the source's separator, trimmed, empties dropped."""
    parts = F.split(text, split_pattern(separator), -1) if separator else F.array(text)
    return F.filter(F.transform(parts, lambda value: F.trim(value)), lambda value: F.length(value) > 0)


def classify_source(spark: SparkSession, spec: DatasetSpec, source: Source, plan: SourcePlan) -> DataFrame:
    """One row per line of the source: `outcome` (kept, header, blank or a reject reason), `line`,
    `source_file`, the id and one column per field of the source (categorical: an array of values)."""
    types = {f.name: f.type for f in spec.fields}
    frames = []
    groups = list(plan.groups.items()) or ([((0,) * (1 + len(source.columns)), [])] if plan.blank_files else [])
    for index, (positions, files) in enumerate(groups):
        paths = files + (plan.blank_files if index == 0 else [])
        raw = read_text_lines(spark, paths)
        line = F.col("value")
        # from_csv (built in, no Python UDF) honours quotes: ml-latest titles hold commas ("Heat, The"). It
        # gives null for an empty field and for a missing one alike, so a short row is found by splitting
        # (quoted delimiters only add pieces: a row that splits into too few pieces is short either way).
        width = max(positions) + 1
        record = F.from_csv(
            line, ", ".join(f"c{index} STRING" for index in range(width)), {"sep": source.delimiter}
        )
        cells = {
            name: F.coalesce(F.trim(record[f"c{position}"]), F.lit(""))
            for name, position in zip(["id", *source.columns], positions, strict=True)
        }
        frames.append(
            raw.select(
                line.alias("line"),
                F.input_file_name().alias("source_file"),
                (F.size(F.split(line, split_pattern(source.delimiter), -1)) < width).alias("short"),
                *(cell.alias(f"cell_{name}") for name, cell in cells.items()),
            )
        )
    parsed = reduce(DataFrame.unionByName, frames).select("*", id_number("cell_id"))
    headers = sorted(plan.header_lines)
    checks: list[tuple[Column, Column]] = [
        (F.trim(F.col("line")) == "", F.lit("blank")),
        (F.col("line").isin(headers) if headers else F.lit(False), F.lit("header")),
        (F.col("short"), F.lit("short_row")),
        (F.length("cell_id") > MAX_ID_LENGTH, F.lit("id_too_long")),
        (~valid_id("cell_id"), F.lit("invalid_id")),
    ]
    outputs = [F.col("cell_id").alias("id")]
    for name in source.columns:
        cell, field_type = F.col(f"cell_{name}"), types[name]
        if field_type == "categorical":
            values = _values(cell, source.separator)
            too_long = F.exists(values, lambda value: F.length(value) > MAX_CATEGORICAL_LENGTH)
            checks.append((too_long, F.lit(f"categorical_value_too_long:{name}")))
            outputs.append(values.alias(name))
        elif field_type in NUMERIC_TYPES or field_type == "creation_timestamp":
            number = F.expr(f"try_cast(`cell_{name}` AS {_SQL_TYPES[field_type]})")
            checks.append(((cell != "") & number.isNull(), F.lit(f"not_{_SQL_TYPES[field_type].lower()}:{name}")))
            outputs.append(F.when(cell != "", number).alias(name))
        else:  # textual: kept as written
            outputs.append(F.when(cell != "", cell).alias(name))
    outcome = reduce(lambda chain, check: chain.when(*check), checks[1:], F.when(*checks[0]))
    return parsed.select(outcome.otherwise(F.lit("kept")).alias("outcome"), "line", "source_file", *outputs)


def aggregate_source(kept: DataFrame, spec: DatasetSpec, source: Source) -> DataFrame:
    """One row per id: categorical values united over the id's rows, a number's (or text's) largest value."""
    types = {f.name: f.type for f in spec.fields}
    merged = [
        (F.array_distinct(F.flatten(F.collect_list(name))) if types[name] == "categorical" else F.max(name)).alias(name)
        for name in source.columns
    ]
    return kept.groupBy("id").agg(*merged)


def _categorical_text(values: Column) -> tuple[Column, Column]:
    """(the values sorted and `|`-joined, cut after the last value that keeps it within the limit;
    whether anything was cut). The length of values[0..i] joined is the sum of their lengths plus i."""
    ordered = F.array_sort(values)
    prefix_lengths = F.transform(
        ordered,
        lambda _value, i: F.aggregate(F.slice(ordered, 1, i + 1), F.lit(0), lambda acc, v: acc + F.length(v)) + i,
    )
    fitting = F.size(F.filter(prefix_lengths, lambda length: length <= MAX_CATEGORICAL_LENGTH))
    kept = F.slice(ordered, 1, fitting)
    text = F.when(F.size(ordered) > 0, F.array_join(kept, CATEGORICAL_SEPARATOR))
    return text, F.coalesce(F.size(ordered) > fitting, F.lit(False))


@dataclass
class DatasetResult:
    summary: dict[str, Any]
    written: DataFrame | None  # the dataset's rows (id column `id`), None when skipped


def transform_dataset(spark: SparkSession, spec: DatasetSpec, root_uri: str, run_uri: str) -> DatasetResult:
    """Reads, checks, aggregates and joins a dataset's sources and writes its CSV and quarantine."""
    output_uri = run_uri + run_layout.metadata_entry(spec.kind)
    quarantine_uri = run_uri + run_layout.metadata_quarantine_entry(spec.kind)
    plans = [plan_source(spark, source, root_uri + source.prefix) for source in spec.sources]
    summary: dict[str, Any] = {"status": "SKIPPED", "reason": None, "sources": [p.describe() for p in plans]}
    if not any(plan.groups for plan in plans):
        summary["reason"] = "no raw rows this run under " + ", ".join(plan.uri for plan in plans)
        log(f"{spec.kind}: skipped ({summary['reason']})")
        return DatasetResult(summary, None)
    aggregates, rejects = [], []
    for source, plan, described in zip(spec.sources, plans, summary["sources"], strict=True):
        if not plan.groups:
            continue
        classified = classify_source(spark, spec, source, plan).cache()
        counted = classified.groupBy("outcome").agg(F.count("*").alias("n")).collect()
        outcomes = {row["outcome"]: row["n"] for row in counted}
        kept_rows = outcomes.pop("kept", 0)
        header_lines, blank_lines = outcomes.pop("header", 0), outcomes.pop("blank", 0)
        described["counts"] = {
            "lines_read": kept_rows + header_lines + blank_lines + sum(outcomes.values()),
            "header_lines": header_lines,
            "blank_lines": blank_lines,
            "rejected": sum(outcomes.values()),
            "rejected_by_reason": dict(sorted(outcomes.items())),
            "kept_rows": kept_rows,
        }
        rejects.append(
            classified.filter(~F.col("outcome").isin("kept", "header", "blank")).select(
                F.col("outcome").alias("reason"), "line", "source_file"
            )
        )
        aggregates.append(aggregate_source(classified.filter(F.col("outcome") == "kept"), spec, source))
    joined = reduce(lambda left, right: left.join(right, "id", "full_outer"), aggregates)
    columns, truncated = [F.col("id").alias(spec.id_field)], []
    for f in spec.fields:
        if f.name not in joined.columns:
            columns.append(F.lit(None).cast("string").alias(f.name))
        elif f.categorical:
            # Through a copy of the array: in the same select, GENRES would name the text (a lateral alias).
            joined = joined.withColumn(f"values_{f.name}", F.col(f.name))
            text, cut = _categorical_text(F.col(f"values_{f.name}"))
            columns.append(text.alias(f.name))
            truncated.append(cut.cast("int"))
        else:
            columns.append(F.col(f.name))
    total_cut = reduce(lambda a, b: a + b, truncated) if truncated else F.lit(0)
    rows = joined.select(*columns, total_cut.alias("_truncated")).cache()
    missing_created = (
        F.col(CREATION_TIMESTAMP).isNull() if CREATION_TIMESTAMP in spec.header[1:] else F.lit(False)
    )
    totals = _one_row(
        rows.agg(
            F.count("*").alias("ids"),
            F.sum(missing_created.cast("int")).alias("without_created"),
            F.sum("_truncated").alias("truncated"),
        )
    )
    written = rows.filter(~missing_created).drop("_truncated")
    counts = {
        "ids": totals["ids"],
        "ids_written": totals["ids"] - (totals["without_created"] or 0),
        "ids_without_creation_timestamp": totals["without_created"] or 0,
        "truncated_values": totals["truncated"] or 0,
    }
    writer(reduce(DataFrame.unionByName, rejects), 1).json(quarantine_uri)
    summary.update(counts=counts, outputs={"quarantine": quarantine_uri}, header=list(spec.header))
    if not counts["ids_written"]:
        # A header-only file would fail the import: no folder, so the state machine skips the dataset.
        summary["reason"] = f"no row kept: every raw row was rejected (see {quarantine_uri})"
        log(f"{spec.kind}: skipped ({summary['reason']})")
        return DatasetResult(summary, None)
    # Few rows per id: one CSV file is what Personalize imports fastest and what an operator can open.
    writer(written, 1).option("header", "true").csv(output_uri)
    summary.update(status="WRITTEN", outputs={"data": output_uri, "quarantine": quarantine_uri})
    log(f"{spec.kind}: {counts['ids_written']} id(s) written to {output_uri}")
    return DatasetResult(summary, written.select(F.col(spec.id_field).alias("id")))


def _one_row(aggregated: DataFrame) -> Row:
    """The row of a global aggregation (there is always exactly one)."""
    row = aggregated.first()
    assert row is not None
    return row


def coverage(spark: SparkSession, kind: str, ids: DataFrame, options: EtlOptions) -> dict[str, Any]:
    """How well the metadata covers the run: interacted items (from the interactions CSV) or batch users
    (from the users batch input, or the interactions when there is none) that have metadata, and ids with
    metadata but no interactions."""
    if kind == "items":
        used = spark.read.option("header", "true").csv(options.interactions_uri).select(F.col("ITEM_ID").alias("id"))
        label = "interacted_items"
    elif options.writes_users:
        used = spark.read.json(options.batch_input_uri).select(F.col("userId").cast("string").alias("id"))
        label = "batch_users"
    else:  # no users batch input this run: the users of the interactions (the same set)
        used = spark.read.option("header", "true").csv(options.interactions_uri).select(F.col("USER_ID").alias("id"))
        label = "interacted_users"
    used = used.distinct()
    known = ids.distinct().withColumn("known", F.lit(True))
    row = _one_row(
        used.withColumn("used", F.lit(True))
        .join(known, "id", "full_outer")
        .agg(
            F.sum((F.col("used") & F.col("known")).cast("int")).alias("covered"),
            F.sum(F.col("used").cast("int")).alias("used"),
            F.sum((F.col("known") & F.col("used").isNull()).cast("int")).alias("unused"),
        )
    )
    used_count, covered = row["used"] or 0, row["covered"] or 0
    return {
        label: used_count,
        f"{label}_with_metadata": covered,
        f"share_of_{label}_with_metadata": round(covered / used_count, 4) if used_count else None,
        f"{kind}_with_metadata_without_interactions": row["unused"] or 0,
    }


def run(
    spark: SparkSession,
    options: EtlOptions,
    specs: Mapping[str, DatasetSpec | None],
    root_uri: str,
    summary: dict[str, Any],
) -> dict[str, Any]:
    """Transforms every configured dataset after the interactions and adds `datasets` to the run's summary
    (rewriting `_summary.json`). `specs`: kind -> spec (None = not configured)."""
    datasets: dict[str, Any] = {}
    for kind, spec in specs.items():
        if spec is None:
            continue
        result = transform_dataset(spark, spec, root_uri, options.run_uri)
        if result.written is not None:
            result.summary["coverage"] = coverage(spark, kind, result.written, options)
        datasets[kind] = result.summary
    summary["datasets"] = datasets
    summary["outputs"].update(
        {kind: entry["outputs"]["data"] for kind, entry in datasets.items() if entry["status"] == "WRITTEN"}
    )
    write_summary(summary, options.summary_uri)
    return summary
