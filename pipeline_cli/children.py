"""A run's history with its own-history children folded in (pure: no AWS calls).

Each import and each solution of a run polls in a child execution of its own (a one-item Distributed Map, see
stacks/orchestration/own_history.py), so their states (`Import: wait`, `users training: describe job`, ...) are
in the child's history, not the run's. The run's history names each child's Map Run (`MapRunStarted`, with
`mapRunArn`); the gateway lists that Map Run's execution and reads its history; here the children's state events
are merged into the run's, in time order and renumbered, so `stages.build_timeline` folds one list as before.

Only the children's state events are taken (entered, exited, and a failed task's error): their own
`Execution*` events would read as the end of the run. The batch jobs' children (inside a solution's child) are
not followed, as before: `n batch: each job` spans them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["map_run_arns", "merged_history"]

_CHILD_EVENT_SUFFIXES = ("StateEntered", "StateExited")


def map_run_arns(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The Map Runs a run's history started, in order (each import's and solution's own history)."""
    arns = []
    for event in events:
        if event.get("type") == "MapRunStarted":
            arn = (event.get("mapRunStartedEventDetails") or {}).get("mapRunArn")
            if arn and arn not in arns:
                arns.append(str(arn))
    return arns


def merged_history(
    parent: Sequence[Mapping[str, Any]], children: Iterable[Sequence[Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """The run's events and its children's state events, in time order (the run's first at equal times),
    numbered 1..n (the timeline orders and de-duplicates by id)."""
    tagged: list[tuple[Any, int, int, Mapping[str, Any]]] = [
        (event["timestamp"], 0, int(event["id"]), event) for event in _unique(parent)
    ]
    for origin, child in enumerate(children, start=1):
        tagged.extend(
            (event["timestamp"], origin, int(event["id"]), event)
            for event in _unique(child)
            if str(event.get("type", "")).endswith(_CHILD_EVENT_SUFFIXES)
        )
    tagged.sort(key=lambda entry: entry[:3])
    return [{**event, "id": number} for number, (_, _, _, event) in enumerate(tagged, start=1)]


def _unique(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return list({int(event["id"]): event for event in events}.values())
