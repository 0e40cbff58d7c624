"""Raw ratings -> Amazon Personalize inputs, as pure PySpark (no Python UDFs on the row path): the run.

The package's modules run on AWS Glue 5.0 (shipped as the `glue_src` package in the zip passed in
`--extra-py-files`, imported by `job.py`) and locally (`local_run.py`); none imports anything Glue-specific.
One concern each: `arguments` (job arguments), `inputs` (listing and reading the raw files), `layouts` (the
input plan), `rows` (row rules and the aggregation), `outputs` (interactions, batch inputs, quarantine),
`counts` (counts and minimums), `summary` (`_summary.json`); `metadata` does the Items / Users datasets.

Before Spark reads anything, the driver lists the input itself (Hadoop FileSystem API) and reads
the first bytes of every file: files Spark would skip are listed as skipped with their rule,
files that are not text (a ZIP, UTF-16, binary) or cannot be opened fail the run by name, and
each file's own header gives its column positions. Files with the same positions are read
together; each group is classified with its positions.

One pass over the input: the text is read once, every line is classified with built-in column
expressions into exactly one status, and a single aggregation groups the lines:

* kept lines by (user, item, timestamp in seconds): one group per distinct interaction, its
  count minus one being the duplicates;
* rejected lines (and header lines) by (status, line, file), so identical bad lines become one
  quarantine record with an `occurrences` count;
* lines below the rating threshold into one group.

That aggregate is cached; the interactions CSV, the batch-input JSON lines, the quarantine and
every count come from it (`counts` says how they add up, `outputs` which batch inputs are written).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from glue_src.arguments import ENCODING_OPTION, EtlOptions
from glue_src.counts import check_minimums, main_rejections, rejections_line, timestamp_hint
from glue_src.inputs import check_encoding, path_key, unreadable_files
from glue_src.layouts import InputPlan, plan_input
from glue_src.messages import EtlInputError, TrainingMinimumsError, files_message, log
from glue_src.incremental import IncrementalRun
from glue_src.ledger_store import IncrementalOptions
from glue_src.outputs import write_outputs
from glue_src.rows import NOT_TEXT, STATUS_CODES, aggregate, classify_input
from pipeline_contracts import etl_ledger
from pipeline_contracts.metadata_datasets import ENCODINGS
from glue_src.summary import finish_summary, minimums_message, new_summary


def transform_input(
    spark: SparkSession,
    options: EtlOptions,
    plan: InputPlan,
    max_epoch: int,
    write: Callable[[DataFrame], tuple[dict[str, Any], dict[str, int], dict[str, Any]]] | None = None,
) -> tuple[dict[str, Any], dict[str, int], dict[str, Any]]:
    """Classifies, aggregates and writes (`write`, given the aggregate: the incremental run's outputs; by default
    `write_outputs`); a file that fails mid-read becomes an EtlInputError naming it."""
    grouped = aggregate(classify_input(spark, options, plan, max_epoch_seconds=max_epoch)).cache()
    try:
        check_text(spark, grouped, options, plan)
        return write(grouped) if write else write_outputs(spark, grouped, options)
    except Exception:
        broken = unreadable_files(spark, plan.files_read)
        if not broken:
            raise
        plan.problems.extend(broken)
        raise EtlInputError(files_message(f"{len(broken)} input file(s) cannot be read", broken, "problem")) from None
    finally:
        grouped.unpersist()


def check_text(spark: SparkSession, grouped: DataFrame, options: EtlOptions, plan: InputPlan) -> None:
    """Fails the run when a line holds bytes that are not text in --encoding (nothing replaced reaches an
    output), naming each such file with its first bad line and the option to set. The first action over
    the aggregate (it fills the cache the outputs are written from); the lines are numbered only then."""
    bad = grouped.filter(F.col("status") == STATUS_CODES[NOT_TEXT]).select("source_file").distinct().collect()
    if not bad:
        return
    read = {path_key(path, url_encoded=False): path for path in plan.files_read}
    files = sorted(read.get(path_key(row["source_file"], url_encoded=True), row["source_file"]) for row in bad)
    problems, _ = check_encoding(spark, files, ENCODINGS[options.encoding], f"{ENCODING_OPTION} ({options.encoding})")
    plan.problems.extend(problems)
    what = f"{len(problems)} input file(s) are not {options.encoding} text"
    raise EtlInputError(files_message(what, problems, "problem"))


def _log_plan(plan: InputPlan) -> None:
    log(f"{len(plan.files_read)} file(s) to read in {len(plan.groups)} layout(s), {len(plan.skipped)} skipped")
    for entry in plan.skipped:
        log(f"skipped {entry['file']} ({entry['rule']}: {entry['why']})")


def run(
    spark: SparkSession,
    options: EtlOptions,
    *,
    write_summary_file: bool = True,
    incremental: IncrementalOptions | None = None,
) -> dict[str, Any]:
    """The whole job: plan the input, read, classify, aggregate, write outputs and `_summary.json`.

    With `incremental`, only the raw objects the ledger does not list as processed are read (`glue_src.incremental`);
    the minimums are checked on the whole cleaned set, the summary's `incremental` section says what was read and
    why, and the ledger the run proposes is written once it succeeded.

    Raises, after the summary is written: EtlInputError (failure "input") when a file cannot be
    used or nothing can be read, TrainingMinimumsError (failure "minimums") when the kept data
    cannot train a model or exceeds the batch-input limits. EtlArgumentError (before any output)
    when the arguments do not fit the input.
    """
    started = time.time()
    max_epoch = options.max_epoch_seconds or int(started) + 86_400
    summary = new_summary(options, started, max_epoch)
    plan = InputPlan()
    delta: IncrementalRun | None = None
    try:
        now = datetime.fromtimestamp(started, UTC)
        delta = IncrementalRun(spark, options, incremental, now) if incremental else None
        plan = plan_input(spark, options, listing=delta.listing if delta else None)
        _log_plan(plan)
        plan.raise_problems(options.input_uri, allow_empty=delta is not None and delta.has_history)
        if delta:
            counts, files, batch_inputs = delta.transform(plan, max_epoch, transform_input)
        else:
            counts, files, batch_inputs = transform_input(spark, options, plan, max_epoch)
    except EtlInputError as error:
        summary["input"].update(plan.describe())
        failure = f"{error}. Nothing should be imported from this run."
        finish_summary(summary, started, "input", failure, write_summary_file)
        log(f"FAILED: {error}")
        raise
    summary["input"].update(plan.describe())
    hint = timestamp_hint(counts, options.timestamp_unit)
    summary["hints"] = [hint] if hint else []
    for line in summary["hints"]:
        log(f"hint: {line}")
    if delta:
        summary[etl_ledger.SUMMARY_SECTION] = delta.section
    problems = check_minimums(delta.whole_counts if delta else counts, options.trained_event_types)
    # A failure names where most rows went: a wrong delimiter or column shows as one reason taking nearly all.
    rejections = rejections_line(counts)
    explained = problems + ([rejections] if rejections else []) + summary["hints"]
    message = minimums_message(explained, options) if problems else None
    summary["counts"], summary["outputs"]["max_files"] = counts, files
    summary["main_rejections"] = main_rejections(counts)
    summary["batch_inputs"] = batch_inputs
    summary["minimums"]["met"] = not problems
    finish_summary(summary, started, "minimums" if problems else None, message, write_summary_file)
    if problems:
        raise TrainingMinimumsError(message)
    if delta:
        delta.propose_ledger()
    return summary
