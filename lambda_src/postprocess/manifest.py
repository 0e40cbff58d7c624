"""The run manifest: pure aggregation of the per-file results, and the named failures.

Step Functions matches a Lambda function's error by the exception's class name (`errorType`),
so each reason to fail the run is its own class: a `Catch` on `["AllLinesErrored"]` works, and
the execution's failure shows the name and the message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline_contracts import run_layout
from pipeline_contracts.run_modes import IMPORTS, TRAINING, modes_line

__all__ = [
    "PostprocessError",
    "InvalidEvent",
    "MissingOutputFiles",
    "NoOutputLines",
    "AllLinesErrored",
    "TooManyErroredLines",
    "ProcessingTimeExceeded",
    "BatchJobFailed",
    "MANIFEST_NAME",
    "SUCCESS_NAME",
    "build_manifest",
    "check_manifest",
    "summary_of",
    "batch_job_failures",
    "solution_section",
    "build_solutions_manifest",
    "summary_of_solutions",
]

SUCCESS_SUBJECT = "Personalize pipeline run succeeded"
FAILED_SUBJECT = "Personalize pipeline run failed: "
SUBJECT_MAX = 100  # SNS subjects: at most 100 characters
FALLBACK_SUBJECT = " with the last accepted model (candidate rejected)"  # SNS subjects: at most 100 characters
MANIFEST_NAME = run_layout.MANIFEST
SUCCESS_NAME = run_layout.SUCCESS
SCHEMA_VERSION = 1


class PostprocessError(Exception):
    """Base of the errors that fail the run on purpose."""


class InvalidEvent(PostprocessError, ValueError):
    """The handler's input does not have the documented shape."""


class MissingOutputFiles(PostprocessError):
    """No `.out` file, fewer than expected, an input file without its `.out`, or a `.out` file
    that the Map did not process."""


class NoOutputLines(PostprocessError):
    """The `.out` files hold no line at all."""


class AllLinesErrored(PostprocessError):
    """Every output line is an error (or malformed): nothing to publish."""


class TooManyErroredLines(PostprocessError):
    """The share of errored lines is above the configured `max_error_ratio`."""


class BatchJobFailed(PostprocessError):
    """A batch job of the solution did not end ACTIVE (`list_output_files` with `jobs`): the message
    names each such job, its status and Personalize's cause, so the run's failure carries it."""


class ProcessingTimeExceeded(PostprocessError):
    """`process_file` stopped before the Lambda timeout: the `.out` file is too large for one
    invocation (split the batch input into smaller files). Its partial outputs were aborted."""


_COUNT_FIELDS = (
    "lines",
    "users_with_recommendations",
    "items_written",
    "errored_lines",
    "malformed_lines",
    "blank_lines",
)


def _utc(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidEvent(f"timestamp {value!r} is not ISO-8601") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _count_or_none(name: str, value: Any) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"{name} {value!r} is not a whole number") from exc
    if number < 0 or isinstance(value, bool):
        raise InvalidEvent(f"{name} {value!r} is not a whole number >= 0")
    return number


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _histogram_stats(histogram: Mapping[int, int]) -> dict[str, Any]:
    """min/max/avg/median over users *with* recommendations, plus the full histogram
    (number of items -> number of users, including 0 for users that got an empty list)."""
    with_items = {n: k for n, k in histogram.items() if n > 0 and k > 0}
    users = sum(with_items.values())
    stats: dict[str, Any] = {
        "min": min(with_items) if with_items else None,
        "max": max(with_items) if with_items else None,
        "avg": round(sum(n * k for n, k in with_items.items()) / users, 3) if users else None,
        "median": None,
        "histogram": {str(n): histogram[n] for n in sorted(histogram) if histogram[n]},
    }
    if users:
        middle = (users - 1) // 2
        seen = 0
        for n in sorted(with_items):
            seen += with_items[n]
            if seen > middle:
                stats["median"] = n
                break
    return stats


# The model gate's decision (lambda_src/model_gate evaluate's output) as the manifest spells it.
_MODEL_FIELDS = {
    "decision": "decision",
    "action": "action",
    "usedFallback": "used_fallback",
    "reason": "reason",
    "candidateVersionArn": "candidate_version_arn",
    "solutionVersionArn": "batch_solution_version_arn",
    "lastAcceptedVersionArn": "last_accepted_version_arn",
    "metric": "metric",
    "candidateValue": "candidate_value",
    "lastAcceptedValue": "last_accepted_value",
    "relativeChange": "relative_change",
    "firstRun": "first_run",
    "metricMissing": "metric_missing",
    "candidateMetrics": "candidate_metrics",
    "rule": "rule",
}


def _mapping(event: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    value = event.get(name)
    if value is not None and not isinstance(value, Mapping):
        raise InvalidEvent(f"{name} must be an object")
    return value


def run_accounting(event: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's model and accounting sections, from the event's `model` (the gate's decision) and
    `accounting` (the account function's output); absent sections are null."""
    model = _mapping(event, "model")
    accounting = _mapping(event, "accounting") or {}
    glue = accounting.get("glue") or {}
    training_hours = (model or {}).get("trainingHours", accounting.get("trainingHours"))
    return {
        "model": {manifest: model.get(key) for key, manifest in _MODEL_FIELDS.items()} if model else None,
        "training_hours": training_hours,
        "glue": {
            "dpu_seconds": glue.get("dpuSeconds"),
            "source": glue.get("source"),
            "execution_class": glue.get("executionClass"),
        }
        if glue
        else None,
        "cost_estimate": accounting.get("cost"),
        "cost_summary": accounting.get("costSummary"),
    }


def build_manifest(event: Mapping[str, Any], results: Iterable[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """The manifest document (status SUCCEEDED; `check_manifest` decides whether it fails)."""
    files = [r for r in results if not r.get("skipped")]
    totals = {field: sum(int(r.get(field) or 0) for r in files) for field in _COUNT_FIELDS}
    histogram: dict[int, int] = {}
    for r in files:
        for n, k in (r.get("items_per_user") or {}).items():
            histogram[int(n)] = histogram.get(int(n), 0) + int(k)
    started = _utc(event.get("started_at"))
    ended = _utc(event.get("ended_at")) or now
    seconds = [float(r.get("seconds") or 0.0) for r in files]
    input_users = _count_or_none("input_users", event.get("input_users"))
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "SUCCEEDED",
        "failure": None,
        "run_id": event.get("run_id"),
        "execution_name": event.get("execution_name"),
        "execution_arn": event.get("execution_arn"),
        "arns": dict(event.get("arns") or {}),
        "input_users": input_users,
        **totals,
        "items_per_user": _histogram_stats(histogram),
        "output_files": [
            {
                "source": r.get("source_key"),
                "recommendations": r.get("recommendations_key"),
                "errors": r.get("errors_key"),
                **{
                    field: int(r.get(field) or 0)
                    for field in ("lines", "users_with_recommendations", "items_written", "errored_lines")
                },
            }
            for r in sorted(files, key=lambda r: str(r.get("source_key")))
        ],
        "timings": {
            "started_at": _iso(started) if started else None,
            "ended_at": _iso(ended),
            "duration_seconds": round((ended - started).total_seconds(), 3) if started else None,
            "postprocess_seconds_total": round(sum(seconds), 3),
            "postprocess_seconds_max": round(max(seconds), 3) if seconds else 0.0,
        },
        **run_accounting(event),
        # Items / Users imports of this run: {"items": {"status": "IMPORTED" | "SKIPPED", "detail": ...}, ...}.
        "metadata_imports": dict(event.get("metadata_imports") or {}) or None,
        "written_at": _iso(now),
    }


def check_manifest(
    manifest: Mapping[str, Any],
    *,
    listed_out_keys: Iterable[str],
    expected_out_keys: Iterable[str] = (),
    max_error_ratio: float | None = None,
) -> PostprocessError | None:
    """The first reason the run must fail, or None. `listed_out_keys`: the `.out` objects found
    under batch-output/; `expected_out_keys`: the `.out` keys the batch input files imply."""
    processed = {f["source"] for f in manifest["output_files"]}
    listed = set(listed_out_keys)
    if not processed and not listed:
        return MissingOutputFiles("no .out file in the batch output and no file was processed")
    unprocessed = sorted(listed - processed)
    if unprocessed:
        return MissingOutputFiles(f"{len(unprocessed)} .out file(s) were not processed, e.g. {unprocessed[0]}")
    missing = sorted(set(expected_out_keys) - listed)
    if missing:
        return MissingOutputFiles(f"{len(missing)} batch input file(s) have no .out file, e.g. {missing[0]}")
    found = len(processed | listed)
    lines = manifest["lines"]
    if lines == 0:
        return NoOutputLines(f"the {found} .out file(s) hold no line")
    errored = manifest["errored_lines"]
    if errored >= lines:
        return AllLinesErrored(
            f"all {lines} line(s) errored ({manifest['malformed_lines']} malformed); see the {run_layout.ERRORS} files"
        )
    if max_error_ratio is not None and errored / lines > max_error_ratio:
        return TooManyErroredLines(
            f"{errored} of {lines} line(s) errored ({errored / lines:.2%}), above the allowed {max_error_ratio:.2%}"
        )
    return None


def summary_of(manifest: Mapping[str, Any], manifest_uri: str, success_uri: str | None) -> dict[str, Any]:
    """The short result for the SNS success message."""
    per_user = manifest["items_per_user"]
    duration = manifest["timings"]["duration_seconds"]
    message = (
        f"Run {manifest.get('run_id') or manifest.get('execution_name')}: "
        f"{manifest['users_with_recommendations']:,} users with recommendations"
        + (f" of {manifest['input_users']:,} input users" if manifest.get("input_users") is not None else "")
        + f", {manifest['items_written']:,} items"
        + (f" ({per_user['avg']} per user)" if per_user.get("avg") is not None else "")
        + f", {manifest['errored_lines']:,} errored lines, {len(manifest['output_files'])} file(s)"
        + (f", {_duration(duration)}" if duration is not None else "")
        + f". Manifest: {manifest_uri}"
        + "".join(f"\n{line}" for line in _accounting_lines(manifest))
    )
    return {
        "status": manifest["status"],
        "run_id": manifest.get("run_id"),
        "execution_name": manifest.get("execution_name"),
        "manifest": manifest_uri,
        "success_marker": success_uri,
        "input_users": manifest.get("input_users"),
        "users_with_recommendations": manifest["users_with_recommendations"],
        "items_written": manifest["items_written"],
        "errored_lines": manifest["errored_lines"],
        "output_files": len(manifest["output_files"]),
        # The notice's subject: a fallback run says so before anyone opens the message.
        "subject": SUCCESS_SUBJECT + (FALLBACK_SUBJECT if (manifest.get("model") or {}).get("used_fallback") else ""),
        "model_decision": (manifest.get("model") or {}).get("decision"),
        "used_fallback": (manifest.get("model") or {}).get("used_fallback"),
        "message": message,
    }


def _accounting_lines(manifest: Mapping[str, Any]) -> list[str]:
    """The notice's lines about the model and the cost (none when the manifest has neither)."""
    lines = []
    model = manifest.get("model")
    if model:
        if model.get("used_fallback"):
            lines.append(
                f"Model: candidate {model.get('candidate_version_arn')} REJECTED; FALLBACK: these recommendations come "
                f"from the last accepted version {model.get('batch_solution_version_arn')}."
            )
        else:
            lines.append(f"Model: {model.get('decision')} {model.get('batch_solution_version_arn')}.")
        lines.append(f"Reason: {model.get('reason')}")
    usage = []
    if manifest.get("training_hours") is not None:
        usage.append(f"training {manifest['training_hours']:g} h")
    if (manifest.get("glue") or {}).get("dpu_seconds") is not None:
        usage.append(f"Glue {manifest['glue']['dpu_seconds']:,.0f} DPU-seconds")
    if usage:
        lines.append("Usage: " + ", ".join(usage) + ".")
    if manifest.get("cost_summary"):
        lines.append("Estimated cost:\n" + str(manifest["cost_summary"]))
    return lines


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


# ----------------------------------------------------------------------------------------------
# Several solutions: one section per solution (the state machine's "Solutions" records)

SOLUTION_STATUSES = ("SUCCEEDED", "FAILED")
EXISTING_OBJECTS_MAX = 1000
"""A failed solution's section lists at most this many of the objects under its folders (and their count)."""


def batch_job_failures(label: str, jobs: Iterable[Mapping[str, Any]]) -> str | None:
    """'<label>: part 2 (<job name>) FAILED: <cause>; ...' for every job not ACTIVE, or None when all are.
    `jobs` are the batch-job children's outputs ({"part", "jobName", "status", "arn"} or, caught,
    {"part", "jobName", "status": "FAILED", "error", "cause"})."""
    failed = [
        f"{label}: part {job.get('part')} ({job.get('jobName') or 'unnamed job'}) {job.get('status') or 'no status'}: "
        f"{job.get('cause') or job.get('error') or 'no cause given'}"
        for job in jobs
        if job.get("status") != "ACTIVE"
    ]
    return "; ".join(failed) if failed else None


def _file_totals(files: list[Mapping[str, Any]]) -> dict[str, int]:
    return {field: sum(int(r.get(field) or 0) for r in files) for field in _COUNT_FIELDS}


def _output_file(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "source": r.get("source_key"),
        "recommendations": r.get("recommendations_key"),
        "errors": r.get("errors_key"),
        **{f: int(r.get(f) or 0) for f in ("lines", "users_with_recommendations", "items_written", "errored_lines")},
    }


def _failure_of(record: Mapping[str, Any]) -> dict[str, Any]:
    error = record.get("error")
    if isinstance(error, Mapping):
        return {"error": error.get("Error") or error.get("error"), "cause": error.get("Cause") or error.get("cause")}
    return {"error": "SolutionFailed", "cause": str(error) if error else "the solution's branch reported FAILED"}


def _object(record: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = record.get(field)
    return value if isinstance(value, Mapping) else {}


def solution_section(
    record: Mapping[str, Any],
    *,
    folder: str,
    listed_out_keys: Iterable[str] = (),
    expected_out_keys: Iterable[str] = (),
    max_error_ratio: float | None = None,
) -> dict[str, Any]:
    """One solution's manifest section from its record (status SUCCEEDED or FAILED, see the handler) and,
    for a succeeded one, the `.out` objects found under its batch-output folder and those its plan
    expects: the checks of `check_manifest`, plus every batch job ACTIVE.
    `folder` is where its CSVs are (<run><kind folder><name>/). The section's status is FAILED when the
    record says so or a check fails (`failure` then names the error and its cause)."""
    name = str(record.get("name"))
    gate, train, plan = (_object(record, field) for field in ("gate", "train", "plan"))
    jobs = [j for j in record.get("batchJobs") or () if isinstance(j, Mapping)]
    files = sorted(
        (r for r in record.get("processedFiles") or () if isinstance(r, Mapping) and not r.get("skipped")),
        key=lambda r: str(r.get("source_key")),
    )
    totals = _file_totals(files)
    section: dict[str, Any] = {
        "kind": record.get("kind"),
        "job_type": record.get("jobType"),
        "status": "SUCCEEDED",
        "failure": None,
        "solution_arn": gate.get("solutionArn"),
        "solution_version_arn": gate.get("solutionVersionArn") or train.get("Arn"),
        "model": {manifest: gate.get(key) for key, manifest in _MODEL_FIELDS.items()} if gate else None,
        "training_hours": gate.get("trainingHours"),
        "plan_key": plan.get("plan_key"),
        "filter_arn": _object(record, "filter").get("Arn"),  # None: the batch jobs used no filter
        "batch_jobs": [
            {"part": j.get("part"), "job_name": j.get("jobName"), "arn": j.get("arn"), "status": j.get("status")}
            for j in sorted(jobs, key=lambda j: int(j.get("part") or 0))
        ],
        "outputs": {
            "folder": folder,
            "files": [_output_file(r) for r in files],
            "lines": totals["lines"],
            "rows": totals["items_written"],
            "keys_answered": totals["users_with_recommendations"],
            "errors": totals["errored_lines"],
            "malformed_lines": totals["malformed_lines"],
        },
    }
    if record.get("status") != "SUCCEEDED":
        section["status"], section["failure"] = "FAILED", _failure_of(record)
        return section
    failed_jobs = batch_job_failures(name, jobs)
    failure: PostprocessError | None = BatchJobFailed(failed_jobs) if failed_jobs else None
    if failure is None:
        failure = check_manifest(
            {"output_files": [_output_file(r) for r in files], **totals},
            listed_out_keys=listed_out_keys,
            expected_out_keys=expected_out_keys,
            max_error_ratio=max_error_ratio,
        )
    if failure is not None:
        section["status"] = "FAILED"
        cause = str(failure) if isinstance(failure, BatchJobFailed) else f"{name}: {failure}"  # named once
        section["failure"] = {"error": type(failure).__name__, "cause": cause}
    return section


def build_solutions_manifest(
    event: Mapping[str, Any], sections: Mapping[str, Mapping[str, Any]], now: datetime
) -> dict[str, Any]:
    """The manifest of a run of several solutions: `build_manifest`'s run-wide fields over every solution's
    processed files, `solutions` (name -> section, input order) and `failed_solutions`; status SUCCEEDED
    only when every section succeeded, else FAILED with `failure` naming each failed solution and its cause.
    The run-wide model section is null: each solution's is in its section."""
    results = [
        r
        for record in event.get("solutions") or ()
        for r in (record.get("processedFiles") or ())
        if isinstance(r, Mapping)
    ]
    manifest = build_manifest({k: v for k, v in event.items() if k != "model"}, results, now)
    failed = [name for name, section in sections.items() if section["status"] != "SUCCEEDED"]
    manifest["solutions"] = {name: dict(section) for name, section in sections.items()}
    # The modes the run chose ("Choose modes"), each with its reason: the imports' and each solution's training.
    modes: Mapping[str, Any] = event["modes"] if isinstance(event.get("modes"), Mapping) else {}
    manifest["import_modes"] = dict(modes.get(IMPORTS) or {}) or None
    for name, section in manifest["solutions"].items():
        section["training"] = (modes.get(TRAINING) or {}).get(name)
    manifest["failed_solutions"] = failed
    if failed:
        manifest["status"] = "FAILED"
        manifest["failure"] = {"error": "SolutionsFailed", "cause": _failed_cause(sections)}
    return manifest


def _failed_cause(sections: Mapping[str, Mapping[str, Any]]) -> str:
    failed = {name: s for name, s in sections.items() if s["status"] != "SUCCEEDED"}
    parts = []
    for name, section in failed.items():
        failure = section.get("failure") or {}
        cause = str(failure.get("cause") or "no cause given")
        # Causes from the state machine do not name the solution; the manifest's own checks do.
        cause = cause if cause.startswith(f"{name}: ") else f"{name}: {cause}"
        parts.append(f"{cause} ({failure.get('error') or 'error'})")
    return f"{len(failed)} of {len(sections)} solution(s) failed: " + "; ".join(parts)


def summary_of_solutions(
    manifest: Mapping[str, Any],
    manifest_uri: str,
    success_uri: str | None,
    *,
    gates: Mapping[str, Mapping[str, Any] | None],
) -> dict[str, Any]:
    """write_manifest's output for a run of several solutions: the single-solution summary's counts, the
    status, `failed_solutions`, and `solutions` as [{name, status, gate}] (input order; `gates` by name,
    passed through for the accept Map). The message has a line per solution and, on failure, starts
    with each failed solution and its cause (the run's Fail state shows it)."""
    summary = summary_of(manifest, manifest_uri, success_uri)
    sections: Mapping[str, Mapping[str, Any]] = manifest["solutions"]
    run = manifest.get("run_id") or manifest.get("execution_name")
    failed = list(manifest["failed_solutions"])
    models = [s["model"] for s in sections.values() if s.get("model")]
    used_fallback = any(m.get("used_fallback") for m in models)
    if failed:
        head = f"Run {run} FAILED: {manifest['failure']['cause']}."
        subject = FAILED_SUBJECT + ", ".join(failed)
        if len(subject) > SUBJECT_MAX:
            subject = subject[: SUBJECT_MAX - 3] + "..."
    else:
        duration = manifest["timings"]["duration_seconds"]
        head = (
            f"Run {run}: {len(sections)} solution(s) succeeded: {manifest['lines']:,} lines, "
            f"{manifest['items_written']:,} rows, {manifest['errored_lines']:,} errored lines, "
            f"{len(manifest['output_files'])} file(s)"
            + (f", {_duration(duration)}" if duration is not None else "")
            + "."
        )
        subject = SUCCESS_SUBJECT + (FALLBACK_SUBJECT if used_fallback else "")
    lines = [_section_line(name, s) for name, s in sections.items()]
    training = {name: section.get("training") for name, section in sections.items()}
    chosen = modes_line({IMPORTS: manifest.get("import_modes"), TRAINING: training})
    usage = ([chosen] if chosen else []) + _accounting_lines(manifest)  # the run-wide model is null: usage and cost
    decisions = {m.get("decision") for m in models}
    return {
        **summary,
        "subject": subject,
        "message": "\n".join([head, *lines, f"Manifest: {manifest_uri}", *usage]),
        "model_decision": decisions.pop() if len(decisions) == 1 and len(models) == len(sections) else None,
        "used_fallback": used_fallback,
        "failed_solutions": failed,
        "solutions": [
            {"name": name, "status": s["status"], "gate": gates.get(name), "training": s.get("training")}
            for name, s in sections.items()
        ],
    }


def _section_line(name: str, section: Mapping[str, Any]) -> str:
    if section["status"] != "SUCCEEDED":
        failure = section.get("failure") or {}
        return f"- {name} ({section.get('kind')}): FAILED, {failure.get('error')}"
    outputs = section["outputs"]
    model = section.get("model") or {}
    fallback = " (FALLBACK to the last accepted version)" if model.get("used_fallback") else ""
    decision = f"; model {model.get('decision')}{fallback}" if model else ""
    filtered = f"; filter {str(section['filter_arn']).rsplit('/', 1)[-1]}" if section.get("filter_arn") else ""
    return (
        f"- {name} ({section.get('kind')}): {outputs['keys_answered']:,} of {outputs['lines']:,} lines answered, "
        f"{outputs['rows']:,} rows, {outputs['errors']:,} errored, {len(outputs['files'])} file(s) in "
        f"{outputs['folder']}{filtered}{decision}"
    )
