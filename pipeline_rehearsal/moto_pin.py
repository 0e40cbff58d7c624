"""Refuses, on import, any moto but the release whose internals `pipeline_rehearsal` patches.

`pipeline_rehearsal/` patches private parts of moto's Step Functions interpreter (every
`mock.patch.object` in `OfflineStepFunctions.__enter__`). On another release a moved or changed name would fail,
or silently misbehave, deep inside an execution; this fails first, with what to do. Imported by every harness
module before any moto module.
"""

from __future__ import annotations

import importlib.metadata

PATCHED_MOTO_VERSION = "5.2.5"
"""requirements-dev.txt pins the same release (tests/test_contracts.py checks)."""


class UnsupportedMotoVersion(ImportError):
    """The installed moto is not the one the patches were written against."""


def require_patched_moto(installed: str) -> None:
    if installed != PATCHED_MOTO_VERSION:
        raise UnsupportedMotoVersion(
            f"pipeline_rehearsal/ patches internals of moto {PATCHED_MOTO_VERSION}'s Step Functions "
            f"interpreter, but moto {installed} is installed. Install the pinned version "
            "(.venv/bin/python -m pip install -r requirements-dev.txt); to move to another moto, check every "
            "patch in OfflineStepFunctions.__enter__ against its source, then change PATCHED_MOTO_VERSION here "
            "and the pin in requirements-dev.txt together."
        )


require_patched_moto(importlib.metadata.version("moto"))
