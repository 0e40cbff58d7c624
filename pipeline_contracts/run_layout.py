"""Where one run's files live: the folders and marker files every side writes or reads.

    <transformed bucket>/runs/<run id>/interactions/     the Glue job: Personalize import (CSV)
                                      /batch-input/      the Glue job: users batch input (JSON lines)
                                      /batch-input-items/    the Glue job: items batch input, when a solution reads it
                                      /batch-input-queries/<solution>/   the Glue job: item-attribute queries
                                      /batch-jobs/<solution>/   batch planning: _plan.json, _jobs.json, split inputs
                                      /quarantine/       the Glue job: rejected raw rows
                                      /items/, /users/   the Glue job: Personalize Items / Users import (CSV),
                                                         only when the dataset is configured and had raw rows
                                      /quarantine-items/, /quarantine-users/   their rejected raw rows
                                      /_summary.json     the Glue job: its counts
                                      /interactions-delta/   the Glue job, with etl_incremental: the interactions
                                                         no earlier successful run imported (INCREMENTAL import)
                                      /history/          the Glue job, with etl_incremental: every cleaned
                                                         interaction with the raw object it came from (Parquet)
                                      /_ledger.json      the Glue job, with etl_incremental: the ledger this run
                                                         proposes; promoted to state/ledger.json on success
    <transformed bucket>/state/ledger.json               the last successful run's ledger (etl_ledger.py)
    <curated bucket>/runs/<run id>/batch-output/         Personalize: <input file>.out per input file
                                                         (<solution>/part-NNNN/ per job with several solutions)
                                  /recommendations/      post-processing: user_id,rank,item_id,score
                                  /related-items/        post-processing: item_id,rank,related_item_id,score
                                  /segments/             post-processing: item_id (or item_attributes),rank,user_id
                                  /errors/               post-processing: lines Personalize could not answer
                                  /_manifest.json        post-processing: the run's manifest
                                  /_SUCCESS              post-processing: written last, downstream triggers on it

Folder names end with "/", file names do not. `run_prefix("{}")` is the prefix with a placeholder, for
Step Functions' States.Format; `run_prefix("*")` the IAM pattern of every run. Standard library only: the
same file ships in the Glue job's zip and the Lambda assets (see the package docstring).
"""

from __future__ import annotations

RUNS_PREFIX = "runs/"

# Transformed bucket (written by the Glue job, read by Personalize and post-processing).
INTERACTIONS = "interactions/"
BATCH_INPUT = "batch-input/"
BATCH_INPUT_ITEMS = "batch-input-items/"  # {"itemId"} lines: related items and item-affinity solutions
BATCH_INPUT_QUERIES = "batch-input-queries/"  # <solution>/: {"itemAttributes"} lines of one solution
BATCH_JOBS = "batch-jobs/"  # <solution>/: the batch-job plan (_plan.json, _jobs.json) and split inputs
BATCH_JOB_PLAN = "_plan.json"  # in batch-jobs/<solution>/: every file, copy and expected output of the plan
BATCH_JOB_LIST = "_jobs.json"  # in batch-jobs/<solution>/: the jobs alone, a JSON array the Distributed Map reads
QUARANTINE = "quarantine/"
SUMMARY = "_summary.json"
ITEMS = "items/"
USERS = "users/"
# The incremental ETL (etl_incremental, `pipeline_contracts/etl_ledger.py`).
INTERACTIONS_DELTA = "interactions-delta/"
HISTORY = "history/"
PROPOSED_LEDGER = "_ledger.json"
STATE_PREFIX = "state/"
LEDGER_KEY = STATE_PREFIX + "ledger.json"

# Curated bucket (written by Personalize and post-processing).
BATCH_OUTPUT = "batch-output/"
BATCH_OUTPUT_SUFFIX = ".out"  # Personalize names each output file <input file name>.out
RECOMMENDATIONS = "recommendations/"
RELATED_ITEMS = "related-items/"
SEGMENTS = "segments/"
ERRORS = "errors/"
MANIFEST = "_manifest.json"
SUCCESS = "_SUCCESS"

TRANSFORMED_ENTRIES = (INTERACTIONS, BATCH_INPUT, QUARANTINE, SUMMARY)
CURATED_ENTRIES = (BATCH_OUTPUT, RECOMMENDATIONS, ERRORS, MANIFEST, SUCCESS)


def metadata_entry(kind: str) -> str:
    """The folder of an Items / Users dataset's import CSV ("items" -> items/)."""
    return {"items": ITEMS, "users": USERS}[kind]


def metadata_quarantine_entry(kind: str) -> str:
    """The folder of an Items / Users dataset's rejected rows ("items" -> quarantine-items/)."""
    return "quarantine-" + metadata_entry(kind)


def run_prefix(run_id: str) -> str:
    """`runs/<run id>/`, the key prefix of one run in either bucket."""
    return f"{RUNS_PREFIX}{run_id}/"


def run_key(run_id: str, entry: str) -> str:
    """The key (or key prefix, for a folder) of one entry of a run, e.g. runs/r1/batch-output/."""
    return run_prefix(run_id) + entry


def run_uri(bucket: str, run_id: str, entry: str) -> str:
    """The S3 URI of one entry of a run, e.g. s3://curated/runs/r1/batch-output/."""
    return f"s3://{bucket}/{run_key(run_id, entry)}"
