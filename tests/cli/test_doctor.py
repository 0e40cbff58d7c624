"""`doctor` end to end: a healthy deployment passes every check; each check broken on its own
fails its line with the fix and exits 1; refused calls and output formats."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Callable

from .conftest import DoctorWorld, Result

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)  # a Wednesday


def doctor(run: Callable[..., Result], world: DoctorWorld, *extra: str) -> Result:
    return run(["doctor", *extra], world.session, clock=lambda: NOW)


def test_healthy(healthy: DoctorWorld, run: Callable[..., Result]) -> None:
    result = doctor(run, healthy)
    print(result.out, result.err)
    assert result.code == 0
