"""Personalize's concurrency quotas against what one run needs, minus the jobs already running.

A run holds one slot of each kind at a time: one dataset import, one solution version, one
batch inference job. When the slots are taken (other pipelines, a console user, auto-training),
the state machine waits in its busy-retry loop and may give up, so a full quota is a FAIL.

The quota values come from Service Quotas (service code `personalize`), matched by name since
the doctor needs three of them and their codes are not published in the API models; a quota not
listed there (or a caller without `servicequotas:ListServiceQuotas`) falls back to the default
the Personalize documentation gives, and the line says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import CliError
from .base import Environment, Finding, failed, passed, warned
from .personalize import is_running
from .reader import Missing

__all__ = ["JobKind", "JOB_KINDS", "check_quotas", "quota_for"]

SERVICE_CODE = "personalize"
# Scanning job history costs a call per 100 jobs; running jobs are recent, so a few pages suffice.
MAX_JOB_PAGES = 5


@dataclass(frozen=True)
class JobKind:
    label: str
    list_operation: str
    list_key: str
    name_words: tuple[str, ...]
    """Words that all appear (case-insensitively) in the Service Quotas name of this quota."""
    documented_default: int
    needed_per_run: int = 1


JOB_KINDS = (
    JobKind("dataset import jobs", "ListDatasetImportJobs", "datasetImportJobs", ("import", "job"), 5),
    JobKind("solution versions", "ListSolutionVersions", "solutionVersions", ("solution version",), 20),
    JobKind("batch inference jobs", "ListBatchInferenceJobs", "batchInferenceJobs", ("batch inference",), 5),
)


def quota_for(kind: JobKind, quotas: list[Mapping[str, Any]]) -> float | None:
    """The value of the concurrency quota for `kind` among Service Quotas' `Quotas`, or None.

    Only quotas about jobs *in progress* (pending, running, concurrent) are considered:
    Personalize lists size quotas under similar names ("...per dataset import job")."""
    for quota in quotas:
        name = str(quota.get("QuotaName", "")).lower()
        concurrent = any(word in name for word in ("progress", "pending", "concurrent", "running"))
        if concurrent and all(word in name for word in kind.name_words) and quota.get("Value") is not None:
            return float(quota["Value"])
    return None


def _service_quotas(env: Environment) -> tuple[list[Mapping[str, Any]], str | None]:
    """Applied quotas (or AWS defaults when none are applied), and why they are missing if so."""
    try:
        return _quota_list(env, "ListServiceQuotas") + _quota_list(env, "ListAWSDefaultServiceQuotas"), None
    except CliError as exc:
        return [], exc.message


def _quota_list(env: Environment, operation: str) -> list[Mapping[str, Any]]:
    try:
        return list(
            env.reader.pages(
                "service-quotas", operation, "Quotas", expect=["NoSuchResourceException"], ServiceCode=SERVICE_CODE
            )
        )
    except Missing:  # none applied (or none known) for the service
        return []


def _running(env: Environment, kind: JobKind) -> int:
    jobs = env.reader.pages("personalize", kind.list_operation, kind.list_key, max_pages=MAX_JOB_PAGES, maxResults=100)
    return sum(1 for job in jobs if is_running(job.get("status")))


def check_quotas(env: Environment) -> Finding:
    quotas, unavailable = _service_quotas(env)
    parts, short, facts = [], [], {}
    for kind in JOB_KINDS:
        limit = quota_for(kind, quotas)
        source = "Service Quotas" if limit is not None else "documented default"
        value = int(limit if limit is not None else kind.documented_default)
        running = _running(env, kind)
        free = value - running
        facts[kind.list_key] = {"quota": value, "source": source, "running": running, "free": free}
        parts.append(f"{kind.label} {running}/{value} in progress")
        if free < kind.needed_per_run:
            short.append(kind.label)
    summary = "; ".join(parts)
    if short:
        return failed(
            f"no free slot for {', '.join(short)} ({summary}); a run needs 1 of each",
            "wait for the running jobs to end or stop the ones nobody needs (aws personalize list-dataset-import-jobs, "
            "list-solution-versions, list-batch-inference-jobs); adjustable quotas can be raised in Service Quotas",
            **facts,
        )
    if unavailable:
        return warned(
            f"{summary} (documented default quotas: Service Quotas unreadable: {unavailable})",
            "allow servicequotas:ListServiceQuotas and servicequotas:ListAWSDefaultServiceQuotas "
            "to see the applied quotas",
            **facts,
        )
    return passed(f"{summary}; a run needs 1 of each", **facts)
