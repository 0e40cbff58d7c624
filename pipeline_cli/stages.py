"""Execution history events -> a stage timeline (pure: no AWS calls, no rendering).

Why derive stages from the history instead of hard-coding the state machine's states: the
definition will keep gaining states (polling loops, retries, notifications). Every
`<Type>StateEntered` / `<Type>StateExited` event carries the state's name, and a small table of
name *prefixes* maps states onto the pipeline's stages. A state no prefix matches becomes a stage
of its own, under its raw name, so a new state shows up instead of breaking the CLI.

Run-level stage table (first matching prefix wins; names and prefixes are compared lower-cased with
everything but letters and digits removed, so `Post-process (hook)` matches `PostProcess`):

| stage            | state names starting with                                             |
|------------------|-----------------------------------------------------------------------|
| overlap guard    | `Overlap guard` (take the run lease, lease taken?), `Skip`            |
| prepare run      | `Prepare run` (run names, the solution parameters read from SSM)      |
| Glue ETL         | `Transform`                                                           |
| choose modes     | `Choose modes` (each import's and training's mode, with its reason)   |
| dataset import   | `Import`, `Items import`, `Users import` (each in its child execution) |
| solutions        | exactly `Solutions` (the Parallel of every solution's branch)         |
| post-processing  | `PostProcess` (account, manifest, accept, ..., release run lease); exactly `Solutions failed` |

Per-solution stages (a run trains several solutions in parallel, README "Solutions"): the state names of solution
`n` start with its configured name (a lower-case letter, then letters, digits or '_'; run-level names start with a
capital), and each solution has four stages, listed after the `solutions` row, solution by solution:

| stage               | state names                                                                           |
|---------------------|---------------------------------------------------------------------------------------|
| `n training`        | `n: read solution ARN`, `n training: <step>`                                          |
| `n quality gate`    | `n quality gate: ...`, `n: model quality gate rejected / could not decide ...`        |
| `n batch`           | `n batch: plan jobs`, `n batch: each job` (its child executions' `n batch job: ...`)  |
| `n post-process`    | `n post-process: ...`, `n: succeeded`                                                 |

`Solution n` (the solution's one-branch Parallel) is no stage of its own; `n: failed` (where its catch leads)
marks the stage of `n` that ran last as failed and the stages `n` did not reach as not run: the run goes on with
the other solutions and fails at the end in `Solutions failed`.

Executions recorded before several solutions existed still map: `Training`, `Quality gate` / `Model quality gate`
and `Batch` were run-level stages of that definition (`LEGACY_STAGES`); they are never listed as pending.

The prefixes are those of the state names of `stacks/orchestration/` (`Overlap guard: take the run lease`,
`Transform (Glue)`, `Import: create job`, ...), and each names at least one state of the synthesized
definition (tests/cli/test_stages.py checks both against it); `Summarize run` and `Release run lease` (the
success end gives the run lease back) are listed under their own names. Executions recorded before the run lease
(issue 17) still map their guard states (`LEGACY_PREFIXES`: `List running executions`, ...).

A stage's duration runs from the first entry of any of its states to the last exit (so a polling
loop of Wait/Task/Choice states is one stage). An unmapped `Succeed` state (the end marker) is
not listed. An execution is *skipped* when it SUCCEEDED and its output says so (see `is_skipped`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pipeline_contracts.statuses import EXECUTION_NOT_SUCCEEDED_STATUSES

__all__ = [
    "STAGES",
    "LEGACY_STAGES",
    "LEGACY_PREFIXES",
    "SOLUTION_STAGE_KINDS",
    "StageDef",
    "solution_stage",
    "solution_state",
    "is_solution_wrapper",
    "StageStatus",
    "Stage",
    "Timeline",
    "stage_of",
    "normalized_name",
    "build_timeline",
    "is_skipped",
    "skip_reason",
    "RUNNING_STATUSES",
    "FAILED_STATUSES",
]


@dataclass(frozen=True)
class StageDef:
    key: str
    label: str
    prefixes: tuple[str, ...]
    solution: str | None = None
    """The solution a per-solution stage belongs to (None for a run-level stage)."""


STAGES: tuple[StageDef, ...] = (
    StageDef("guard", "overlap guard", ("Overlap guard", "Skip")),
    StageDef("prepare", "prepare run", ("Prepare run",)),
    StageDef("etl", "Glue ETL", ("Transform",)),
    StageDef("modes", "choose modes", ("Choose modes",)),
    StageDef("import", "dataset import", ("Import", "Items import", "Users import")),
    StageDef("solutions", "solutions", ("Solutions",)),
    StageDef("postprocess", "post-processing", ("PostProcess",)),
)
"""The pipeline's run-level stages in run order: the first table of the module docstring."""

LEGACY_PREFIXES: dict[str, tuple[str, ...]] = {
    "guard": ("List running", "Other runs", "Find oldest", "Oldest running"),
}
"""Prefixes of states an earlier definition had, by stage key: the ListExecutions guard before the run lease."""

LEGACY_STAGES: tuple[StageDef, ...] = (
    StageDef("training", "training", ("Training",)),
    StageDef("gate", "quality gate", ("Quality gate", "Model quality gate")),
    StageDef("batch", "batch inference", ("Batch",)),
)
"""The one-solution definition's stages (executions recorded before issue 13): mapped, never listed as pending."""

SOLUTION_STAGE_KINDS: tuple[tuple[str, str], ...] = (
    ("training", "training"),
    ("gate", "quality gate"),
    ("batch", "batch"),
    ("postprocess", "post-process"),
)
"""(kind, label word) of each solution's stages, in the order a solution reaches them."""

_KIND_INDEX = {kind: i for i, (kind, _) in enumerate(SOLUTION_STAGE_KINDS)}
_KIND_LABEL = dict(SOLUTION_STAGE_KINDS)
_STAGE_INDEX = {s.key: i for i, s in enumerate(STAGES)}
_STAGE_BY_KEY = {s.key: s for s in (*STAGES, *LEGACY_STAGES)}
_LEGACY_KEYS = frozenset(s.key for s in LEGACY_STAGES)

_NAME = r"[a-z][a-z0-9_]{0,19}"  # pipeline_contracts.solutions.SOLUTION_NAME_PATTERN, without anchors
_SOLUTION_STATE_RE = re.compile(
    rf"^(?P<solution>{_NAME})(?P<word> training| quality gate| batch job| batch| post-process)?: "
)
_SOLUTION_WRAPPER_RE = re.compile(rf"^Solution (?P<solution>{_NAME})$")
# The one-branch Parallel around each batch job (in the Distributed Map's child executions).
_JOB_WRAPPER_RE = re.compile(rf"^(?P<solution>{_NAME}) batch job$")
_WORD_KIND = {
    " training": "training",
    " quality gate": "gate",
    " batch job": "batch",
    " batch": "batch",
    " post-process": "postprocess",
}
# Run-level states a prefix would put elsewhere: "Solutions failed" ends the post-processing decision.
_EXACT_RUN_STATES = {"Solutions": "solutions", "Solutions failed": "postprocess"}

RUNNING_STATUSES = frozenset({"RUNNING", "PENDING_REDRIVE"})
FAILED_STATUSES = frozenset(EXECUTION_NOT_SUCCEEDED_STATUSES)
"""Execution statuses the CLI reports as a failed run (exit code 1): the same set the alert rule announces."""
_END_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


def normalized_name(name: str) -> str:
    """What prefixes are compared on: lower case, letters and digits only."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


_NORMALIZED_PREFIXES = tuple(
    (stage, tuple(normalized_name(p) for p in (*stage.prefixes, *LEGACY_PREFIXES.get(stage.key, ()))))
    for stage in (*STAGES, *LEGACY_STAGES)
)


def solution_stage(solution: str, kind: str) -> StageDef:
    """The stage `kind` (training, gate, batch, postprocess) of `solution`: key `users.batch`, label `users batch`."""
    return StageDef(f"{solution}.{kind}", f"{solution} {_KIND_LABEL[kind]}", (), solution)


def solution_state(state_name: str) -> tuple[str, str | None] | None:
    """(solution, stage kind) of a state of a solution's branch, kind None for `n: failed` (the failure marker);
    None for any other state."""
    wrapper = _JOB_WRAPPER_RE.match(state_name)
    if wrapper is not None:
        return wrapper["solution"], "batch"
    match = _SOLUTION_STATE_RE.match(state_name)
    if match is None:
        return None
    solution, word = match["solution"], match["word"]
    if word:
        return solution, _WORD_KIND[word]
    rest = state_name[match.end() :].strip().lower()
    if rest == "failed" or rest.startswith("failed: "):
        # The failure marker and the states that read its error (stacks/orchestration/function_errors.py).
        return solution, None
    if rest.startswith("model quality gate"):
        return solution, "gate"
    if rest == "succeeded":
        return solution, "postprocess"
    return solution, "training"  # "n: read solution ARN", the first step of the branch


def is_solution_wrapper(state_name: str) -> bool:
    """`Solution n`: the one-branch Parallel around a solution, spanning all its stages (no stage itself)."""
    return _SOLUTION_WRAPPER_RE.match(state_name) is not None


def stage_of(state_name: str) -> StageDef | None:
    """The stage a state belongs to: a solution's stage by the solution name it starts with, else a run-level
    stage by its name's prefix; None when neither (the state is its own stage), and for `Solution n` and
    `n: failed`, which the timeline treats apart."""
    if state_name in _EXACT_RUN_STATES:
        return _STAGE_BY_KEY[_EXACT_RUN_STATES[state_name]]
    found = solution_state(state_name)
    if found is not None:
        solution, kind = found
        return solution_stage(solution, kind) if kind else None
    if is_solution_wrapper(state_name):
        return None
    name = normalized_name(state_name)
    for stage, prefixes in _NORMALIZED_PREFIXES:
        if any(name.startswith(p) for p in prefixes):
            return stage
    return None


class StageStatus(StrEnum):
    DONE = "done"
    RUNNING = "running"
    FAILED = "failed"
    PENDING = "pending"
    """Not reached yet; the execution is still running."""
    NOT_RUN = "not run"
    """Never reached; the execution ended (failed or skipped) before it."""


@dataclass(frozen=True)
class Stage:
    key: str
    """The stage key of `STAGES`, or the raw state name for an unmapped state."""
    label: str
    status: StageStatus
    started: datetime | None = None
    ended: datetime | None = None
    states: tuple[str, ...] = ()
    """The state names seen in this stage, in order of first entry."""
    last_state: str | None = None
    """The state of this stage entered most recently (what a running stage is doing now)."""
    solution: str | None = None
    """The solution of a per-solution stage (None for a run-level or unmapped one)."""

    def duration(self, now: datetime) -> float | None:
        """Seconds from first entry to last exit; a running stage counts up to `now`."""
        if self.started is None:
            return None
        end = self.ended if self.ended is not None else now
        return max(0.0, (end - self.started).total_seconds())


@dataclass(frozen=True)
class Timeline:
    status: str
    """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED (or PENDING_REDRIVE from describe)."""
    started: datetime | None
    stopped: datetime | None
    stages: tuple[Stage, ...]
    current_state: str | None = None
    """The most recently entered state still open (or the last one exited between transitions)."""
    failed_state: str | None = None
    """The state that was open when the execution failed, timed out or was aborted."""
    error: str | None = None
    cause: str | None = None
    output: str | None = None
    last_event_id: int = 0

    @property
    def skipped(self) -> bool:
        return self.status == "SUCCEEDED" and is_skipped(self.output)

    @property
    def outcome(self) -> str:
        """The status an operator cares about: SKIPPED is a SUCCEEDED run the guard stopped."""
        return "SKIPPED" if self.skipped else self.status

    @property
    def finished(self) -> bool:
        return self.status not in RUNNING_STATUSES

    def elapsed(self, now: datetime) -> float | None:
        if self.started is None:
            return None
        end = self.stopped if self.stopped is not None else now
        return max(0.0, (end - self.started).total_seconds())

    def stage_for_state(self, state_name: str | None) -> Stage | None:
        if state_name is None:
            return None
        return next((s for s in self.stages if state_name in s.states), None)


@dataclass
class _StageAcc:
    key: str
    label: str
    mapped: bool
    started: datetime
    solution: str | None = None
    ended: datetime | None = None
    open: int = 0
    states: list[str] = field(default_factory=list)
    last: str | None = None


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `...EventDetails` member of an event (each event type has its own key)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


@dataclass
class _Fold:
    """The state of `build_timeline` while it folds the events in order, one method per kind of event."""

    accs: dict[str, _StageAcc] = field(default_factory=dict)
    open_states: dict[str, int] = field(default_factory=dict)
    """State name -> times currently open (Map iterations overlap)."""
    entered_order: list[str] = field(default_factory=list)
    """Open states, most recent last."""
    status: str = "RUNNING"
    started: datetime | None = None
    stopped: datetime | None = None
    error: str | None = None
    cause: str | None = None
    output: str | None = None
    failed_state: str | None = None
    last_exited: str | None = None
    last_task_error: tuple[str | None, str | None] = (None, None)
    solution_order: dict[str, int] = field(default_factory=dict)
    """Solutions in the order their first state was entered."""
    solution_last_stage: dict[str, str] = field(default_factory=dict)
    """Solution -> the key of its stage entered most recently."""
    failed_solutions: set[str] = field(default_factory=set)
    """Solutions whose branch reached `n: failed`."""
    failed_stage_keys: set[str] = field(default_factory=set)

    def apply(self, event: Mapping[str, Any]) -> None:
        etype = str(event.get("type", ""))
        ts: datetime = event["timestamp"]
        details = _details(event)
        if etype == "ExecutionStarted":
            self.started = ts
        elif etype.endswith("StateEntered"):
            self.entered(str(details.get("name", "?")), etype[: -len("StateEntered")], ts)
        elif etype.endswith("StateExited"):
            self.exited(str(details.get("name", "?")), ts)
        elif etype in _END_EVENTS:
            self.ended(etype, ts, details)
        elif etype == "ExecutionRedriven":
            self.redriven()
        elif etype.endswith("Failed") or etype.endswith("TimedOut"):
            # TaskFailed, LambdaFunctionFailed, ...: the detail the execution error may lack.
            self.last_task_error = (details.get("error"), details.get("cause"))

    def entered(self, name: str, state_type: str, ts: datetime) -> None:
        if self.solution_marker(name):
            return
        stage_def = stage_of(name)
        if stage_def is None and state_type == "Succeed":
            return  # an end marker, not a stage
        key = stage_def.key if stage_def else name
        acc = self.accs.get(key)
        if acc is None:
            label = stage_def.label if stage_def else name
            solution = stage_def.solution if stage_def else None
            acc = self.accs[key] = _StageAcc(key, label, stage_def is not None, ts, solution)
        if acc.solution is not None:
            self.solution_order.setdefault(acc.solution, len(self.solution_order))
            self.solution_last_stage[acc.solution] = key
        if name not in acc.states:
            acc.states.append(name)
        acc.last = name
        acc.open += 1
        self.open_states[name] = self.open_states.get(name, 0) + 1
        self.entered_order.append(name)

    def solution_marker(self, name: str) -> bool:
        """`Solution n` and `n: failed` are no stages: the first spans a solution's stages, the second ends a
        failed one (its most recent stage failed). True when `name` is one of them."""
        if is_solution_wrapper(name):
            return True
        found = solution_state(name)
        if found is None or found[1] is not None:
            return False
        solution = found[0]
        self.solution_order.setdefault(solution, len(self.solution_order))
        self.failed_solutions.add(solution)
        if solution in self.solution_last_stage:
            self.failed_stage_keys.add(self.solution_last_stage[solution])
        return True

    def exited(self, name: str, ts: datetime) -> None:
        acc = self.accs.get(_stage_key(name))
        if acc is not None:
            acc.open = max(0, acc.open - 1)
            acc.ended = ts
        if self.open_states.get(name):
            self.open_states[name] -= 1
            # The most recent entry of this name is the one that ends.
            latest = len(self.entered_order) - 1 - self.entered_order[::-1].index(name)
            del self.entered_order[latest]
        self.last_exited = name

    def ended(self, etype: str, ts: datetime, details: Mapping[str, Any]) -> None:
        self.status, self.stopped = _END_EVENTS[etype], ts
        if etype == "ExecutionSucceeded":
            self.output = details.get("output")
        else:
            self.error, self.cause = details.get("error"), details.get("cause")
            self.failed_state = self.entered_order[-1] if self.entered_order else None

    def redriven(self) -> None:
        # A redrive resumes from the failed state: it is entered again, so forget open counts.
        self.status, self.stopped, self.error, self.cause, self.failed_state = "RUNNING", None, None, None, None
        self.open_states.clear()
        self.entered_order.clear()
        for acc in self.accs.values():
            acc.open = 0

    def describe(self, description: Mapping[str, Any]) -> None:
        """`describe_execution` knows the end before the history may show it."""
        self.status = str(description.get("status") or self.status)
        self.stopped = description.get("stopDate") or self.stopped
        self.started = self.started or description.get("startDate")
        self.error = description.get("error") or self.error
        self.cause = description.get("cause") or self.cause
        if description.get("output") is not None:
            self.output = description.get("output")

    def blame_failure(self) -> None:
        """A failed run's error, cause and state, from the task failure when the execution's own lack them."""
        if self.status not in FAILED_STATUSES:
            self.error = self.cause = self.failed_state = None
            return
        self.error = self.error or self.last_task_error[0]
        self.cause = self.cause or self.last_task_error[1]
        if self.failed_state is None and self.entered_order:
            self.failed_state = self.entered_order[-1]

    def stages(self) -> list[Stage]:
        finished = self.status not in RUNNING_STATUSES
        failed_key = _stage_key(self.failed_state) if self.failed_state is not None else None
        stages: list[Stage] = []
        for acc in self.accs.values():
            if acc.key == failed_key or acc.key in self.failed_stage_keys:
                status, ended = StageStatus.FAILED, acc.ended if acc.open == 0 else self.stopped
            elif acc.open > 0 and not finished:
                status, ended = StageStatus.RUNNING, None
            else:
                status, ended = StageStatus.DONE, acc.ended if acc.open == 0 else (self.stopped or acc.ended)
            stages.append(
                Stage(acc.key, acc.label, status, acc.started, ended, tuple(acc.states), acc.last, acc.solution)
            )
        return self.in_run_order(stages + self.stages_not_reached() + self.solution_stages_not_reached())

    def in_run_order(self, stages: list[Stage]) -> list[Stage]:
        """Run-level and unmapped stages in the order they were reached (pending ones last, in table order), with
        every solution's stages after the `solutions` row (or where the first of them was reached), grouped by
        solution in the order the solutions started, each in its stage order."""
        per_solution = sorted(
            (s for s in stages if s.solution is not None),
            key=lambda s: (self.solution_order.get(str(s.solution), 0), _KIND_INDEX[s.key.rsplit(".", 1)[1]]),
        )
        if not per_solution:
            return stages
        others = [s for s in stages if s.solution is None]
        keys = [s.key for s in others]
        if "solutions" in keys:
            at = keys.index("solutions") + 1
        else:
            first = next(i for i, s in enumerate(stages) if s.solution is not None)
            at = sum(1 for s in stages[:first] if s.solution is None)
        return others[:at] + per_solution + others[at:]

    def solution_stages_not_reached(self) -> list[Stage]:
        """The stages of each solution seen that it has not reached: pending while it runs; not run once it
        failed or the run ended early; omitted after a succeeded run (as run-level ones)."""
        finished = self.status not in RUNNING_STATUSES
        if finished and self.status not in FAILED_STATUSES and not is_skipped(self.output):
            return []
        missing: list[Stage] = []
        for solution in self.solution_order:
            seen = [_KIND_INDEX[k.rsplit(".", 1)[1]] for k, a in self.accs.items() if a.solution == solution]
            later = StageStatus.NOT_RUN if finished or solution in self.failed_solutions else StageStatus.PENDING
            for kind, _ in SOLUTION_STAGE_KINDS[max(seen, default=-1) + 1 :]:
                stage_def = solution_stage(solution, kind)
                missing.append(Stage(stage_def.key, stage_def.label, later, solution=solution))
        return missing

    def stages_not_reached(self) -> list[Stage]:
        """Known stages not reached yet: pending while running; "not run" when the run ended early
        (failed or skipped). A succeeded run omits them: the definition simply has no such stage."""
        finished = self.status not in RUNNING_STATUSES
        skipped = self.status == "SUCCEEDED" and is_skipped(self.output)
        if finished and self.status not in FAILED_STATUSES and not skipped:
            return []
        seen_index = max((_STAGE_INDEX.get(a.key, -1) for a in self.accs.values() if a.mapped), default=-1)
        if any(a.key in _LEGACY_KEYS for a in self.accs.values()):
            seen_index = max(seen_index, _STAGE_INDEX["solutions"])  # a one-solution run: no solutions stage
        if self.solution_order:
            seen_index = max(seen_index, _STAGE_INDEX["solutions"] - 1)
        later = StageStatus.PENDING if not finished else StageStatus.NOT_RUN
        return [Stage(stage_def.key, stage_def.label, later) for stage_def in STAGES[seen_index + 1 :]]


def _stage_key(state_name: str) -> str:
    stage_def = stage_of(state_name)
    return stage_def.key if stage_def else state_name


def build_timeline(
    events: Iterable[Mapping[str, Any]], description: Mapping[str, Any] | None = None
) -> Timeline:
    """Fold history events (any order, duplicates ignored) into a `Timeline`.

    `description` is the `describe_execution` result, when there is one: it is authoritative for
    the status, stop time, error, cause and output (the history may lag behind it by a poll).
    """
    ordered = sorted({int(e["id"]): e for e in events}.values(), key=lambda e: int(e["id"]))
    fold = _Fold()
    for event in ordered:
        fold.apply(event)
    if description:
        fold.describe(description)
    fold.blame_failure()
    return Timeline(
        status=fold.status,
        started=fold.started,
        stopped=fold.stopped,
        stages=tuple(fold.stages()),
        current_state=fold.entered_order[-1] if fold.entered_order else fold.last_exited,
        failed_state=fold.failed_state,
        error=fold.error,
        cause=fold.cause,
        output=fold.output,
        last_event_id=int(ordered[-1]["id"]) if ordered else 0,
    )


def _find_skip(value: Any) -> Mapping[str, Any] | None:
    """The object that marks a skip: `"skipped": true`, or a string value `"skipped"`."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "skipped" and item is True:
                return value
            if isinstance(item, str) and item.strip().lower() == "skipped":
                return value
        for item in value.values():
            found = _find_skip(item)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _find_skip(item)
            if found is not None:
                return found
    return None


def _parse(output: str | None) -> Any:
    if not output:
        return None
    try:
        return json.loads(output)
    except ValueError:
        return None


def is_skipped(output: str | None) -> bool:
    """Whether a SUCCEEDED execution's output says the overlap guard skipped the run.

    Matches `"skipped": true` (boolean true only, so a count like `"skipped": 0` written by
    post-processing never matches) or a string value `"skipped"` (e.g. `"status": "SKIPPED"`),
    at any depth, since the guard's result may sit under a ResultPath.
    """
    return _find_skip(_parse(output)) is not None


def skip_reason(output: str | None) -> str | None:
    """The guard's explanation next to the skip marker (`reason`, `message` or `cause`), if any."""
    marker = _find_skip(_parse(output))
    if marker is None:
        return None
    for key in ("reason", "message", "cause", "Reason", "Message"):
        value = marker.get(key)
        if isinstance(value, str):
            return value
    return None
