"""How the job fails and what it says: its three errors, the one-line message naming problem files, the log."""

from __future__ import annotations

import sys

from pipeline_contracts import run_layout


# At most this many problem files are named in the one-line error (all are in the summary).
MAX_FILES_IN_MESSAGE = 5


class EtlArgumentError(ValueError):
    """A job argument that cannot work; the message names the argument, the value and what is allowed."""


class EtlInputError(ValueError):
    """The input cannot be read as configured (missing, empty, unreadable, or not the expected layout)."""


class TrainingMinimumsError(RuntimeError):
    """The kept data is below Personalize's training minimums (or the batch-input limits)."""


def files_message(lead: str, entries: list[dict[str, str]], key: str) -> str:
    """One line naming the first files and what is wrong with each."""
    named = "; ".join(f"{entry['file']}: {entry[key]}" for entry in entries[:MAX_FILES_IN_MESSAGE])
    more = f"; and {len(entries) - MAX_FILES_IN_MESSAGE} more" if len(entries) > MAX_FILES_IN_MESSAGE else ""
    return f"{lead}: {named}{more} (every file is listed in the run's {run_layout.SUMMARY})"


def log(message: str) -> None:
    """A line in the job's log (stderr: the Glue job's error log in CloudWatch, the terminal locally)."""
    print(f"[transform] {message}", file=sys.stderr, flush=True)
