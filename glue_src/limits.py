"""Amazon Personalize's limits and the value ranges every row is checked against (no Spark here)."""

from __future__ import annotations


# Amazon Personalize training minimums and the input limits of one batch job. Bytes and files per job
# are reported in the summary, not checked: batch planning splits an input over several jobs.
MIN_INTERACTIONS = 1000
MIN_USERS_WITH_2_INTERACTIONS = 25
BATCH_INPUT_MAX_BYTES = 1024**3
BATCH_INPUT_MAX_FILES = 1000
BATCH_INPUT_MAX_RECORDS_PER_FILE = 50_000_000
# About 1 minute of post-processing per file on the fast path, 6.5 at worst (benchmarks/postprocess.py):
# the cap of every batch-input file (users and items).
BATCH_INPUT_MAX_USERS_PER_FILE = 5_000_000


RATING_MIN, RATING_MAX = 0.5, 5.0
# 1995-01-01T00:00:00Z: MovieLens starts in 1995; anything earlier is a unit or data error.
MIN_EPOCH_SECONDS = 788_918_400
# Quarantine keeps the first characters of a bad line (a binary file read as text can have huge ones).
MAX_QUARANTINE_LINE = 4096
# IDs are written unquoted to CSV and JSON: letters, digits and a few safe punctuation marks.
ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,256}$"


def batch_input_records_per_file() -> int:
    """Lines per batch-input file: Personalize's limit, or less so one post-processing invocation
    finishes each file within Lambda's 15 minutes."""
    return min(BATCH_INPUT_MAX_USERS_PER_FILE, BATCH_INPUT_MAX_RECORDS_PER_FILE)
