"""Lambda entry point of the state machine's "Prepare run" state."""

from __future__ import annotations

from typing import Any

from .naming import run_names


def handle(event: dict, context: Any) -> dict:
    """`event` is built by the state machine: executionName, executionArn, startTime, namePrefixes."""
    return run_names(event["executionName"], event["executionArn"], event["startTime"], event["namePrefixes"])
