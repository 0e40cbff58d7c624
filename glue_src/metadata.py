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
from dataclasses import dataclass
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from pipeline_contracts import run_layout
from pipeline_contracts.metadata_datasets import (
    CATEGORICAL_SEPARATOR,
    CONFIG_KEY,
    CREATION_TIMESTAMP,
    MAX_CATEGORICAL_LENGTH,
    KINDS,
    DISABLED,
    DatasetSpec,
    DatasetSpecError,
    Source,
    parse_dataset,
)

from glue_src.arguments import EtlOptions
from glue_src.messages import EtlArgumentError, EtlInputError, files_message, log
from glue_src.metadata_sources import SourcePlan, classify_source, plan_source
from glue_src.outputs import writer
from glue_src.summary import write_summary

# Job arguments: the raw bucket's root (each source's prefix is relative to it) and one JSON object per
# dataset ("{}" = not configured; every argument has a value, as getResolvedOptions wants each one present).
ARGUMENT_NAMES = ("metadata_root_uri", "items_dataset", "users_dataset")
# Personalize's importer reads one record per line: a line break inside a value is written as a space.
_LINE_BREAK = r"\r\n|\r|\n"


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


def aggregate_source(kept: DataFrame, spec: DatasetSpec, source: Source) -> DataFrame:
    """One row per id: categorical values united over the id's rows, a number's (or text's) largest value."""
    types = {f.name: f.type for f in spec.fields}
    merged = [
        (F.array_distinct(F.flatten(F.collect_list(name))) if types[name] == "categorical" else F.max(name)).alias(name)
        for name in source.fields
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


def output_rows(joined: DataFrame, spec: DatasetSpec) -> DataFrame:
    """The dataset's columns as written (id, then the fields in order), with `_truncated` (categorical
    texts cut at the limit) and `_line_breaks` (text values whose line breaks are written as spaces,
    one record per line: counted, not changed silently) per row."""
    columns, truncated, broken = [F.col("id").alias(spec.id_field)], [], []
    for f in spec.fields:
        if f.name not in joined.columns:
            columns.append(F.lit(None).cast("string").alias(f.name))
            continue
        if f.categorical:
            # Through a copy of the array: in the same select, GENRES would name the text (a lateral alias).
            joined = joined.withColumn(f"values_{f.name}", F.col(f.name))
            text, cut = _categorical_text(F.col(f"values_{f.name}"))
            truncated.append(cut.cast("int"))
        elif f.type == "textual":
            text = F.col(f.name)
        else:
            columns.append(F.col(f.name))
            continue
        broken.append(F.coalesce(text.rlike(_LINE_BREAK).cast("int"), F.lit(0)))
        columns.append(F.regexp_replace(text, _LINE_BREAK, " ").alias(f.name))
    total = lambda flags: reduce(lambda a, b: a + b, flags) if flags else F.lit(0)  # noqa: E731
    return joined.select(*columns, total(truncated).alias("_truncated"), total(broken).alias("_line_breaks"))


@dataclass
class DatasetResult:
    summary: dict[str, Any]
    written: DataFrame | None  # the dataset's rows (id column `id`), None when skipped


def plan_dataset(spark: SparkSession, spec: DatasetSpec, root_uri: str) -> tuple[list[SourcePlan], dict[str, Any]]:
    """Each source's plan, and the dataset's summary so far: FAILED naming every file of a configured
    source that cannot be read as configured, SKIPPED when no source holds a row to read."""
    key = CONFIG_KEY[spec.kind]
    plans = [
        plan_source(spark, source, root_uri + source.prefix, f"{key}.sources[{index}]")
        for index, source in enumerate(spec.sources)
    ]
    summary: dict[str, Any] = {"status": "SKIPPED", "reason": None, "sources": [p.describe() for p in plans]}
    for plan in plans:
        for entry in plan.skipped:
            log(f"{spec.kind}: skipped {entry['file']} ({entry['rule']}: {entry['why']})")
        for entry in plan.problems:
            log(f"{spec.kind}: cannot read {entry['file']}: {entry['problem']}")
    problems = [problem for plan in plans for problem in plan.problems]
    if problems:
        lead = f"{key}: {len(problems)} file(s) of its sources cannot be read as configured"
        summary.update(status="FAILED", reason=files_message(lead, problems, "problem"))
    elif not any(plan.groups for plan in plans):
        summary["reason"] = "no raw rows this run under " + ", ".join(plan.uri for plan in plans)
        log(f"{spec.kind}: skipped ({summary['reason']})")
    return plans, summary


def source_counts(classified: DataFrame, plan: SourcePlan) -> dict[str, Any]:
    """A source's counts from its classified records: every record has one outcome, every line read is
    blank or part of a record (a quoted value may span lines)."""
    counted = classified.groupBy("outcome").agg(F.count("*").alias("n"), F.sum("lines").alias("lines")).collect()
    outcomes = {row["outcome"]: row["n"] for row in counted}
    record_lines = sum(row["lines"] for row in counted)
    kept_rows, header_records = outcomes.pop("kept", 0), outcomes.pop("header", 0)
    return {
        "lines_read": plan.lines_read,
        "blank_lines": plan.lines_read - record_lines,
        "records_read": kept_rows + header_records + sum(outcomes.values()),
        "header_records": header_records,
        "rejected": sum(outcomes.values()),
        "rejected_by_reason": dict(sorted(outcomes.items())),
        "kept_rows": kept_rows,
    }


def transform_dataset(spark: SparkSession, spec: DatasetSpec, root_uri: str, run_uri: str) -> DatasetResult:
    """Reads, checks, aggregates and joins a dataset's sources and writes its CSV and quarantine."""
    output_uri = run_uri + run_layout.metadata_entry(spec.kind)
    quarantine_uri = run_uri + run_layout.metadata_quarantine_entry(spec.kind)
    plans, summary = plan_dataset(spark, spec, root_uri)
    if summary["status"] == "FAILED" or summary["reason"]:
        return DatasetResult(summary, None)
    aggregates, rejects = [], []
    for source, plan, described in zip(spec.sources, plans, summary["sources"], strict=True):
        if not plan.groups:
            described["counts"] = {"lines_read": plan.lines_read, "blank_lines": plan.lines_read}
            continue
        classified = classify_source(spark, spec, source, plan).cache()
        described["counts"] = source_counts(classified, plan)
        rejects.append(
            classified.filter(~F.col("outcome").isin("kept", "header")).select(
                F.col("outcome").alias("reason"), "line", "source_file"
            )
        )
        aggregates.append(aggregate_source(classified.filter(F.col("outcome") == "kept"), spec, source))
    joined = reduce(lambda left, right: left.join(right, "id", "full_outer"), aggregates)
    rows = output_rows(joined, spec).cache()
    missing_created = (
        F.col(CREATION_TIMESTAMP).isNull() if CREATION_TIMESTAMP in spec.header[1:] else F.lit(False)
    )
    totals = _one_row(
        rows.agg(
            F.count("*").alias("ids"),
            F.sum(missing_created.cast("int")).alias("without_created"),
            F.sum("_truncated").alias("truncated"),
            F.sum("_line_breaks").alias("line_breaks"),
        )
    )
    written = rows.filter(~missing_created).drop("_truncated", "_line_breaks")
    counts = {
        "ids": totals["ids"],
        "ids_written": totals["ids"] - (totals["without_created"] or 0),
        "ids_without_creation_timestamp": totals["without_created"] or 0,
        "truncated_values": totals["truncated"] or 0,
        "line_breaks_written_as_spaces": totals["line_breaks"] or 0,
    }
    writer(reduce(DataFrame.unionByName, rejects), 1).json(quarantine_uri)
    summary.update(counts=counts, outputs={"quarantine": quarantine_uri}, header=list(spec.header))
    if not counts["ids_written"]:
        # A header-only file would fail the import: no folder, so the state machine skips the dataset.
        summary["reason"] = f"no row kept: every raw row was rejected (see {quarantine_uri})"
        log(f"{spec.kind}: skipped ({summary['reason']})")
        return DatasetResult(summary, None)
    # Few rows per id: one CSV file is what Personalize imports fastest and what an operator can open.
    # RFC 4180 quoting (a quote inside a value is doubled), one record per line, UTF-8: see personalize_csv.
    writer(written, 1).option("header", "true").option("quote", '"').option("escape", '"').csv(output_uri)
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
    # A date the java.time parser refuses is null (`not_date`), as `try_to_timestamp` promises; under the
    # default policy, one the pre-3.0 lenient parser would accept (31-Feb-1995) fails the whole job instead.
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    datasets: dict[str, Any] = {}
    for kind, spec in specs.items():
        if spec is None:
            continue
        result = transform_dataset(spark, spec, root_uri, options.run_uri)
        if result.summary["status"] == "FAILED":
            datasets[kind] = result.summary
            summary.update(datasets=datasets, status="FAILED", failure="input", message=result.summary["reason"])
            write_summary(summary, options.summary_uri)
            log(f"FAILED: {result.summary['reason']}")
            raise EtlInputError(result.summary["reason"])
        if result.written is not None:
            result.summary["coverage"] = coverage(spark, kind, result.written, options)
        datasets[kind] = result.summary
    summary["datasets"] = datasets
    summary["outputs"].update(
        {kind: entry["outputs"]["data"] for kind, entry in datasets.items() if entry["status"] == "WRITTEN"}
    )
    write_summary(summary, options.summary_uri)
    return summary
