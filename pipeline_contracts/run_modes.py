"""The import and training modes a run chose ("Choose modes" stage), as the state data, the manifest, the notice
and the CLI spell them.

`$.modes` (written once per run by `lambda_src/run_modes`, read by the import and training stages):

    {"imports":  {"interactions": {"mode": "FULL", "reason": "..."}, "items": {...}, "users": {...}},
     "training": {"<solution>": {"mode": "UPDATE", "reason": "..."},
                  "<solution>": {"mode": "REUSE", "reason": "...", "solutionVersionArn": "arn:..."}, ...}}

The manifest copies `imports` to its top-level `import_modes` and each solution's entry to its section's
`training` (`mode`, `reason`). Standard library only (shipped in the Lambda assets, read by the CLI).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_contracts import run_layout

IMPORTS = "imports"
# A solution's training mode when its cadence says the last accepted version is recent enough: no training, the
# batch jobs use that version (named in the decision's REUSED_VERSION key).
REUSE = "REUSE"
REUSED_VERSION = "solutionVersionArn"
# The quality-gate record of a REUSE (`$.gate`, written by the state machine instead of the gate's evaluate): its
# `action`, so that the acceptance records nothing new and the accounting counts no training hours.
REUSE_ACTION = "reuse_last_accepted"
REUSE_DECISION = "REUSED"
# The execution-input key that trains every solution whatever its cadence (`pipeline_cli start --retrain-now`).
RETRAIN_NOW = "retrain_now"
TRAINING = "training"
INTERACTIONS = "interactions"


def dataset_folder(dataset: str) -> str:
    """The run entry of a dataset's import files (interactions/, items/, users/)."""
    return run_layout.INTERACTIONS if dataset == INTERACTIONS else run_layout.metadata_entry(dataset)


def modes_line(modes: Mapping[str, Any] | None) -> str | None:
    """One line for the notice and the CLI, e.g. "Modes: imports interactions FULL, items FULL; training users
    FULL." (None without modes: a run from before the stage existed)."""
    if not modes:
        return None
    parts = []
    for group in (IMPORTS, TRAINING):
        chosen = {name: entry for name, entry in (modes.get(group) or {}).items() if entry}
        if chosen:
            parts.append(f"{group} " + ", ".join(f"{name} {entry.get('mode')}" for name, entry in chosen.items()))
    return ("Modes: " + "; ".join(parts) + ".") if parts else None
