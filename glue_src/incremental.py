"""The incremental ETL (`--incremental true`): read only the raw objects no earlier successful run processed.

The plan (`pipeline_contracts/etl_ledger.py`): the ledger of the last successful run names every raw object it
had processed with its ETag; this run reads the new and changed objects only (or all of them in a full rebuild).

What the run writes under runs/<run>/:

* `history/` (Parquet: the interactions' columns and SOURCE = the raw object's ledger key): the previous run's
  history without the rows of changed and deleted objects, plus the kept rows of the objects read now, distinct
  per object (so an interaction two objects hold survives the change of one of them);
* `interactions/` and the batch inputs from the whole cleaned set (the distinct interactions of the history):
  a FULL import and the batch jobs see every user and item, not only the delta's;
* `interactions-delta/` (not in a rebuild): the interactions of the objects read now that the retained history
  does not hold, for an INCREMENTAL import; the modes function decides whether it is used (1,000 records at
  least, 1 GB at most);
* `quarantine/` and `counts` of the lines read in this run (the delta); the minimums are checked on the whole set;
* `_ledger.json` once the run succeeded: the ledger it proposes, which the state machine promotes to
  `state/ledger.json` on the run's success path (locally: `local_run` promotes it when the local run succeeded).

Deleted raw objects: their rows leave the history at the next run, and since an INCREMENTAL import only adds,
that run's import is FULL (`import_full_reason`). The delta files are read twice (once for the counts and the
quarantine, as in a full run, once with each row's object): a delta is small by design.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from pipeline_contracts import etl_ledger, run_layout

from glue_src.arguments import EtlOptions
from glue_src.counts import assemble_counts, kept_by_event_type, status_counts, user_metrics
from glue_src.inputs import hadoop_path, list_files_with_skip_rules, path_key
from glue_src.layouts import InputPlan
from glue_src.ledger_store import IncrementalOptions, object_versions, read_ledger
from glue_src.messages import log
from glue_src.outputs import (
    Outputs,
    build_outputs,
    data_file_names,
    per_user_and_item,
    write_import_and_batch_inputs,
    write_text,
    writer,
)
from glue_src.rows import KEPT, STATUS_CODES, classify_input

# The interactions CSV's columns (glue_src/outputs.py); a history of another shape (an older release's) is not
# reused: the run rebuilds in full, with the reason.
INTERACTION_COLUMNS = ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"]
HISTORY_SCHEMA = "USER_ID string, ITEM_ID string, TIMESTAMP bigint, EVENT_TYPE string, EVENT_VALUE float, SOURCE string"
QUARANTINE_SCHEMA = "reason string, line string, source_file string, occurrences bigint"
Written = tuple[dict[str, Any], dict[str, int], dict[str, Any]]
TransformInput = Callable[..., Written]



def interactions_not_in(rows: DataFrame, known: DataFrame) -> DataFrame:
    """The interactions of `rows` that `known` does not hold. Null-safe on every column: EVENT_VALUE is null without
    an event value column, and a plain equi-join never matches null to null (every row would count as new)."""
    left, right = rows.alias("rows"), known.alias("known")
    matches = [F.col(f"rows.{column}").eqNullSafe(F.col(f"known.{column}")) for column in INTERACTION_COLUMNS]
    return left.join(right, matches, "left_anti").select(*(F.col(f"rows.{column}") for column in INTERACTION_COLUMNS))

class IncrementalRun:
    """One incremental run: its plan (made when built, before anything is read), its outputs and summary section."""

    def __init__(self, spark: SparkSession, options: EtlOptions, incremental: IncrementalOptions, now: datetime):
        self.spark, self.options, self.incremental, self.now = spark, options, incremental, now
        listing = list_files_with_skip_rules(spark, options.input_uri)
        versions = object_versions(options.input_uri, [path for path, rule in listing if not rule])
        self.previous, problem = read_ledger(incremental.ledger_uri)
        reason = etl_ledger.rebuild_reason(
            self.previous,
            problem=problem,
            input_uri=options.input_uri,
            now=now,
            every_days=incremental.full_rebuild_every_days,
            requested=incremental.full_rebuild,
        )
        self.previous_history: DataFrame | None = None
        if reason is None and self.previous is not None:
            self.previous_history, reason = self._previous_history(self.previous.run)
        self.plan = etl_ledger.plan_delta(self.previous, versions, reason=reason)
        processed = self.plan.processed
        # The files the input plan reads: the new and changed ones (and the skipped ones, to be listed as such).
        self.listing = [
            (path, rule) for path, rule in listing if rule or path_key(path, url_encoded=False) in processed
        ]
        self.section: dict[str, Any] = {
            "ledger": incremental.ledger_uri,
            "previous_run": self.plan.previous_run,
            "full_rebuild_every_days": incremental.full_rebuild_every_days,
            "rebuild_reason": self.plan.rebuild_reason,
            "objects": self.plan.describe(),
            "history": options.run_uri + run_layout.HISTORY,
            "proposed_ledger": options.run_uri + run_layout.PROPOSED_LEDGER,
        }
        objects = self.section["objects"]
        log(
            f"incremental: {objects['processed']} object(s) to read ({objects['new']} new, {objects['changed']} "
            f"changed), {objects['skipped_as_processed']} skipped as processed, {objects['deleted']} deleted"
            + (f"; full rebuild: {reason}" if reason else f"; history of run {self.plan.previous_run}")
        )

    @property
    def has_history(self) -> bool:
        return self.previous_history is not None

    def _previous_history(self, run_id: str) -> tuple[DataFrame | None, str | None]:
        """(the history of the ledger's run, None) or (None, why it cannot be used: a rebuild's reason)."""
        uri = f"{self.options.output_uri.rstrip('/')}/{run_id}/{run_layout.HISTORY}"
        try:
            folder, fs = hadoop_path(self.spark, uri)
            if not fs.exists(folder) or not data_file_names(self.spark, uri):
                return None, f"the history of run {run_id} ({uri}) is gone"
            history = self.spark.read.parquet(uri)
            expected = self.spark.createDataFrame([], HISTORY_SCHEMA).schema
            if [(f.name, f.dataType) for f in history.schema] != [(f.name, f.dataType) for f in expected]:
                return None, f"the history of run {run_id} ({uri}) has columns {history.schema.simpleString()}"
        except Exception as error:  # noqa: BLE001  (a missing folder or unreadable footer: rebuild, saying why)
            return None, f"the history of run {run_id} ({uri}) cannot be read: {str(error).splitlines()[0]}"
        return history, None

    def transform(self, plan: InputPlan, max_epoch: int, transform_input: TransformInput) -> Written:
        """Reads the plan's files (through `transform_input`, which names a file Spark cannot read) and writes."""
        if plan.files_read:
            return transform_input(
                self.spark, self.options, plan, max_epoch, write=lambda grouped: self._write(grouped, plan, max_epoch)
            )
        return self._write(None, plan, max_epoch)

    def _delta_rows(self, plan: InputPlan, max_epoch: int) -> DataFrame:
        """The kept rows of the files read, distinct per raw object, each with its object's ledger key."""
        if not plan.groups:
            return self.spark.createDataFrame([], HISTORY_SCHEMA)
        classified = classify_input(self.spark, self.options, plan, max_epoch_seconds=max_epoch)
        tagged = (
            classified.filter(F.col("status") == STATUS_CODES[KEPT])
            .select(
                F.col("user").alias("USER_ID"),
                F.col("item").alias("ITEM_ID"),
                F.col("ts").alias("TIMESTAMP"),
                F.col("event_type").alias("EVENT_TYPE"),
                F.col("event_value").cast("float").alias("EVENT_VALUE"),
                F.input_file_name().alias("file"),
            )
            .distinct()
            .cache()
        )
        # Spark names a file as a URL-encoded URI; the ledger by its listed path: path_key makes them one.
        files = [row["file"] for row in tagged.select("file").distinct().collect()]
        keys = self.spark.createDataFrame(
            [(name, path_key(name, url_encoded=True)) for name in files], "file string, SOURCE string"
        )
        return tagged.join(F.broadcast(keys), "file").select(*INTERACTION_COLUMNS, "SOURCE")

    def _retained(self) -> DataFrame:
        """The previous history without the rows of changed and deleted objects (empty in a rebuild)."""
        if self.previous_history is None:
            return self.spark.createDataFrame([], HISTORY_SCHEMA)
        dropped = sorted(self.plan.dropped)
        return self.previous_history.filter(~F.col("SOURCE").isin(dropped)) if dropped else self.previous_history

    def _write(self, grouped: DataFrame | None, plan: InputPlan, max_epoch: int) -> Written:
        spark, options = self.spark, self.options
        parallel = max(1, min(spark.sparkContext.defaultParallelism, 100))
        retained, delta = self._retained(), self._delta_rows(plan, max_epoch)
        history_uri = options.run_uri + run_layout.HISTORY
        retained.unionByName(delta).coalesce(parallel).write.mode("overwrite").parquet(history_uri)
        whole = spark.read.parquet(history_uri).select(*INTERACTION_COLUMNS).distinct().cache()
        if grouped is not None:
            delta_outputs = build_outputs(grouped)
            quarantine = delta_outputs.quarantine
            delta_users = delta_outputs.users.agg(*user_metrics()).collect()[0].asDict()
            counts = assemble_counts(status_counts(grouped), delta_users)
            counts["kept_by_event_type"] = kept_by_event_type(grouped)
        else:
            quarantine, counts = spark.createDataFrame([], QUARANTINE_SCHEMA), assemble_counts({}, {})
        users, items = per_user_and_item(whole)
        outputs = Outputs(interactions=whole, users=users, items=items, quarantine=quarantine)
        whole_users, files, inputs = write_import_and_batch_inputs(spark, outputs, options)
        writer(quarantine, files["quarantine"]).json(options.quarantine_uri)
        counts["batch_input_files"] = len(inputs["users"]["files"]) if "users" in inputs else 0
        self.whole_counts = {
            "kept": int(whole_users.get("kept") or 0),
            "distinct_users": int(whole_users.get("distinct_users") or 0),
            "distinct_items": whole.select("ITEM_ID").distinct().count(),
            "users_with_2plus_interactions": int(whole_users.get("users_2plus") or 0),
            "kept_by_event_type": {
                str(row["EVENT_TYPE"]): int(row["count"])
                for row in whole.groupBy("EVENT_TYPE").count().orderBy("EVENT_TYPE").collect()
            },
        }
        self.section["whole_set"] = {
            "interactions": self.whole_counts["kept"],
            "users": self.whole_counts["distinct_users"],
            "items": self.whole_counts["distinct_items"],
            "users_with_2plus_interactions": self.whole_counts["users_with_2plus_interactions"],
        }
        self.section["delta"] = None if self.plan.rebuild_reason else self._write_delta(retained, delta, parallel)
        removed = self._removed(whole)
        self.section["removed_interactions"] = removed
        self.section["import_full_reason"] = etl_ledger.import_full_reason(self.plan, removed)
        return counts, files, inputs

    def _write_delta(self, retained: DataFrame, delta: DataFrame, parallel: int) -> dict[str, Any]:
        """interactions-delta/: the interactions read now that the retained history does not hold."""
        uri = self.options.run_uri + run_layout.INTERACTIONS_DELTA
        known = retained.select(*INTERACTION_COLUMNS).distinct()
        new = interactions_not_in(delta.select(*INTERACTION_COLUMNS).distinct(), known)
        observed = Observation()
        counted = new.observe(observed, F.count(F.lit(1)).alias("records"))
        writer(counted, parallel).option("header", "true").csv(uri)
        return {"interactions": int(observed.get["records"] or 0), "uri": uri}

    def _removed(self, whole: DataFrame) -> int:
        """Interactions of the previous history no longer in the whole set (only changed or deleted objects)."""
        if self.previous_history is None or not self.plan.dropped:
            return 0
        before = self.previous_history.select(*INTERACTION_COLUMNS).distinct()
        return interactions_not_in(before, whole).count()

    def propose_ledger(self) -> dict[str, Any]:
        """Writes runs/<run>/_ledger.json (after the run succeeded) and returns it."""
        ledger = etl_ledger.proposed_ledger(
            self.plan, self.previous, run_id=self.options.run_id, input_uri=self.options.input_uri, now=self.now
        ).as_json()
        write_text(self.section["proposed_ledger"], json.dumps(ledger, indent=1), "application/json")
        return ledger
