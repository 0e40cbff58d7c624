"""The run's outputs, written from the cached aggregate: the interactions CSV, the batch inputs and the quarantine.

Batch inputs (`--batch_inputs`, `--item_attribute_queries`): only the inputs the configured solutions
read are written, each as JSON lines in its run folder (`pipeline_contracts.solutions.batch_input_entry`):

* users (`batch-input/`): one `{"userId"}` line per distinct user of the kept interactions;
* items (`batch-input-items/`): one `{"itemId"}` line per item, by this rule: with
  `--batch_items_top_n 0` (the default) every item that has at least one KEPT interaction (after the
  rating filter and the dedupe: exactly the items of the interactions CSV); with N > 0 the N items
  with the most kept (deduplicated) interactions, ties broken by the item id in ascending text
  (byte) order, so the same input always gives the same items. Files hold at most
  `--batch_items_per_file` lines (the stacks pass 500 when an item-affinity solution reads them:
  one batch segment job takes at most 500 items);
* item attributes (`batch-input-queries/<solution>/queries-NNNN.json`): one `{"itemAttributes"}` line per
  configured query of each item-attribute-affinity solution, written as given (JSON-escaped), 10 lines a file
  (one batch segment job takes at most 10 queries).

Every batch-input file holds at most 5 million lines (one post-processing invocation per output
file). Personalize's per-job limits (1 GB, 1000 files) are not checked here: batch planning
splits an input over several jobs. `_summary.json` lists every batch-input file (key relative to
the run folder) with its line count under `batch_inputs`, read back from what was written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, DataFrameWriter, Observation, SparkSession
from pyspark.sql import functions as F

from pipeline_contracts import solutions

from glue_src.arguments import ITEMS_ENTRY, USERS_ENTRY, EtlOptions
from glue_src.counts import assemble_counts, kept_by_event_type, status_counts, user_metrics
from glue_src.inputs import hadoop_path, path_key
from glue_src.limits import batch_input_records_per_file
from glue_src.rows import HEADER, KEPT, REASON_OF_STATUS, STATUS_CODES, STATUSES


@dataclass(frozen=True)
class Outputs:
    interactions: DataFrame  # USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE, EVENT_VALUE
    users: DataFrame  # user, interactions (one row per distinct user of the kept data)
    items: DataFrame  # item, interactions (one row per distinct item of the kept data)
    quarantine: DataFrame  # reason, line, source_file, occurrences


def batch_items(items: DataFrame, top_n: int) -> DataFrame:
    """The items batch input (column `itemId`): every item with a kept interaction (`top_n` 0), or
    the `top_n` items with the most kept interactions, ties by item id ascending (text order)."""
    if top_n:
        items = items.orderBy(F.desc("interactions"), F.asc("item")).limit(top_n)
    return items.select(F.col("item").alias("itemId"))


def build_outputs(grouped: DataFrame) -> Outputs:
    """The outputs as DataFrames over the (cached) aggregate."""
    status = F.col("status")
    kept = grouped.filter(status == STATUS_CODES[KEPT])
    interactions = kept.select(
        F.col("user").alias("USER_ID"),
        F.col("item").alias("ITEM_ID"),
        F.col("ts").alias("TIMESTAMP"),
        F.col("event_type").alias("EVENT_TYPE"),
        F.col("event_value").alias("EVENT_VALUE"),  # null (an empty field) without --event_value_column
    )
    is_header = status == STATUS_CODES[HEADER]
    reason = F.element_at(F.array(*[F.lit(REASON_OF_STATUS[name]) for name in STATUSES]), status.cast("int") + 1)
    quarantine = grouped.filter((status > STATUS_CODES[HEADER]) | (is_header & (F.col("n") > 1))).select(
        F.when(is_header, F.lit("repeated_header")).otherwise(reason).alias("reason"),
        F.col("line"),
        F.col("source_file"),
        F.when(is_header, F.col("n") - 1).otherwise(F.col("n")).alias("occurrences"),
    )
    users, items = per_user_and_item(interactions)
    return Outputs(interactions=interactions, users=users, items=items, quarantine=quarantine)


def per_user_and_item(interactions: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(user, interactions) and (item, interactions) of distinct interactions (USER_ID, ITEM_ID, TIMESTAMP)."""
    count = F.count(F.lit(1)).alias("interactions")
    return (
        interactions.groupBy(F.col("USER_ID").alias("user")).agg(count),
        interactions.groupBy(F.col("ITEM_ID").alias("item")).agg(count),
    )


def writer(df: DataFrame, partitions: int) -> DataFrameWriter:
    return (
        df.coalesce(max(1, partitions))
        .write.mode("overwrite")
        # No _SUCCESS marker in the folders Personalize reads (a writer option reaches the Hadoop conf).
        .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .option("compression", "none")
    )


def data_file_names(spark: SparkSession, folder_uri: str) -> list[str]:
    """The names of the files written in an output folder (Personalize reads every object under
    the prefix; names Spark and Personalize leave alone, `_`/`.`, are not data)."""
    folder, fs = hadoop_path(spark, folder_uri)
    names = (str(status.getPath().getName()) for status in fs.listStatus(folder) if status.isFile())
    return sorted(name for name in names if not name.startswith(("_", ".")))


def lines_per_file(spark: SparkSession, folder_uri: str, entry: str) -> dict[str, int]:
    """{key relative to the run folder: lines} of every file written in a JSON-lines output folder,
    read back (Spark decides how rows fall into files; an empty file counts 0)."""
    names = data_file_names(spark, folder_uri)
    counts = dict.fromkeys(names, 0)
    if names:
        rows = (
            spark.read.text(folder_uri)
            .groupBy(F.input_file_name().alias("file"))
            .agg(F.count(F.lit(1)).alias("lines"))
            .collect()
        )
        for row in rows:
            counts[path_key(row["file"], url_encoded=True).rsplit("/", 1)[-1]] = row["lines"]
    return {entry + name: counts[name] for name in names}


def batch_input_section(files: Mapping[str, int], **details: Any) -> dict[str, Any]:
    """One input of the summary's `batch_inputs`: total lines and lines per file (and details)."""
    return {"records": sum(files.values()), "files": dict(files), **details}


def items_rule(options: EtlOptions) -> str:
    if options.batch_items_top_n:
        return f"the {options.batch_items_top_n} items with the most kept interactions (ties: item id ascending)"
    return "every item with at least one kept interaction"


def items_records_per_file(options: EtlOptions) -> int:
    return min(batch_input_records_per_file(), options.batch_items_per_file or batch_input_records_per_file())


def write_queries(options: EtlOptions) -> dict[str, dict[str, Any]]:
    """Each item-attribute-affinity solution's queries files (`solutions.query_files`: at most 10 queries a
    file, the most one batch segment job reads): one {"itemAttributes"} JSON line per query (json.dumps
    escapes quotes, backslashes and control characters)."""
    sections = {}
    for solution, queries in options.item_attribute_queries.items():
        entry = solutions.batch_input_entry("item_attributes", solution)
        counts = {}
        for name, file_queries in solutions.query_files(queries).items():
            body = "".join(json.dumps({"itemAttributes": query}) + "\n" for query in file_queries)
            write_text(options.run_uri + entry + name, body, "application/json")
            counts[entry + name] = len(file_queries)
        sections[solution] = batch_input_section(counts)
    return sections


def write_outputs(
    spark: SparkSession, grouped: DataFrame, options: EtlOptions
) -> tuple[dict[str, Any], dict[str, int], dict[str, Any]]:
    """Writes interactions (CSV with header), the requested batch inputs and quarantine (JSON
    lines) from the cached aggregate, and counts: the user metrics are observed while the users
    batch input is written (one aggregation otherwise), the rest is one small aggregation.
    Returns (counts, files asked for per output, the summary's `batch_inputs`)."""
    outputs = build_outputs(grouped)
    user_counts, files, inputs = write_import_and_batch_inputs(spark, outputs, options)
    writer(outputs.quarantine, files["quarantine"]).json(options.quarantine_uri)
    counts = assemble_counts(status_counts(grouped), user_counts)
    counts["kept_by_event_type"] = kept_by_event_type(grouped)
    counts["batch_input_files"] = len(inputs["users"]["files"]) if "users" in inputs else 0
    return counts, files, inputs


def write_import_and_batch_inputs(
    spark: SparkSession, outputs: Outputs, options: EtlOptions
) -> tuple[dict[str, Any], dict[str, int], dict[str, Any]]:
    """Writes the interactions CSV and the requested batch inputs of `outputs` (its quarantine is the caller's).
    Returns (the users' metrics, files asked for per output, the summary's `batch_inputs`)."""
    # Few files: at most one per core (adaptive execution already merges small shuffle partitions,
    # so small data gives one file); quarantine in one.
    parallel = max(1, min(spark.sparkContext.defaultParallelism, 100))
    files = {"interactions": parallel, "quarantine": 1}
    writer(outputs.interactions, files["interactions"]).option("header", "true").csv(options.interactions_uri)
    inputs: dict[str, Any] = {}
    if options.writes_users:
        files["batch_input"] = parallel
        observed_users = Observation()
        users = outputs.users.observe(observed_users, *user_metrics()).select(F.col("user").alias("userId"))
        writer(users, files["batch_input"]).option("maxRecordsPerFile", batch_input_records_per_file()).json(
            options.batch_input_uri
        )
        user_counts = observed_users.get
        inputs["users"] = batch_input_section(
            lines_per_file(spark, options.batch_input_uri, USERS_ENTRY), folder=USERS_ENTRY
        )
    else:
        user_counts = outputs.users.agg(*user_metrics()).collect()[0].asDict()
    if options.writes_items:
        files["batch_input_items"] = parallel
        writer(batch_items(outputs.items, options.batch_items_top_n), parallel).option(
            "maxRecordsPerFile", items_records_per_file(options)
        ).json(options.batch_input_items_uri)
        inputs["items"] = batch_input_section(
            lines_per_file(spark, options.batch_input_items_uri, ITEMS_ENTRY),
            folder=ITEMS_ENTRY,
            rule=items_rule(options),
            records_per_file_max=items_records_per_file(options),
        )
    if options.item_attribute_queries:
        inputs["item_attributes"] = write_queries(options)
    return user_counts, files, inputs


def write_text(uri: str, text: str, content_type: str) -> None:
    """Writes one small object: to `s3://bucket/key` with boto3 (on Glue), or to a local path."""
    body = text.encode("utf-8")
    if uri.startswith(("s3://", "s3a://", "s3n://")):
        import boto3  # only where the object goes to S3 (on Glue, boto3 is installed)

        bucket, _, key = uri.split("://", 1)[1].partition("/")
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        return
    path = uri[len("file://") :] if uri.startswith("file://") else uri
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(body)
