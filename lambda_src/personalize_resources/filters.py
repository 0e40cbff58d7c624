"""Custom::PersonalizeFilter: create (or adopt) a filter and wait until it is ACTIVE; delete it on removal.

A filter cannot be updated (CreateFilter only; AWS::Personalize::Filter lists every property as create-only), so the
stack names a filter after a hash of its expression: a changed expression arrives as an Update with a new name, the
new filter is created here, and CloudFormation deletes the old one (Delete with the old physical id) once the
deployment has switched to it.
"""

from __future__ import annotations

import logging
from typing import Any

from .requests import ALREADY_EXISTS, FilterRequest, error_code, sibling_arn
from .waiting import Deadline, delete_and_wait, wait_until

LOG = logging.getLogger(__name__)
ACTIVE, FAILED = "ACTIVE", "CREATE FAILED"


def filter_name_of(physical_id: str) -> str:
    """The filter name a physical id (a filter ARN, ending in filter/<name>) names; "" for anything else."""
    _, found, name = physical_id.rpartition(":filter/")
    return name if found and "/" not in name else ""


def create_filter(client: Any, request: FilterRequest, deadline: Deadline) -> str:
    """The ARN of the requested filter, ACTIVE: created, or an existing one of that name with the same expression (a
    retried create). A same-named filter with another expression is refused: it is not ours to change."""
    try:
        arn = client.create_filter(
            name=request.name,
            datasetGroupArn=request.dataset_group_arn,
            filterExpression=request.filter_expression,
        )["filterArn"]
    except Exception as error:
        if error_code(error) != ALREADY_EXISTS:
            raise
        arn = sibling_arn(request.dataset_group_arn, f"filter/{request.name}")
        existing = client.describe_filter(filterArn=arn)["filter"]
        if (existing.get("filterExpression"), existing.get("datasetGroupArn")) != (
            request.filter_expression,
            request.dataset_group_arn,
        ):
            raise RuntimeError(
                f"Filter {request.name} already exists with another expression or dataset group "
                f"({existing.get('filterExpression')!r} in {existing.get('datasetGroupArn')}). Delete it (aws "
                f"personalize delete-filter --filter-arn {arn}) and deploy again."
            ) from None
        LOG.info("Adopting the existing filter %s (same expression)", arn)
    _wait_active(client, arn, deadline)
    return arn


def update_filter(client: Any, physical_id: str, request: FilterRequest, deadline: Deadline) -> str:
    """Same name: the same expression (the name carries its hash), nothing to create. Another name: the new filter;
    CloudFormation deletes the old one afterwards."""
    if filter_name_of(physical_id) == request.name:
        LOG.info("Filter %s keeps its name: nothing to create", physical_id)
        return physical_id
    return create_filter(client, request, deadline)


def delete_filter(client: Any, filter_arn: str, deadline: Deadline) -> None:
    """Deletes the filter and waits until it is gone (the dataset group, deleted after it on teardown, refuses while
    it has filters); gone already is fine."""
    if not filter_name_of(filter_arn):
        LOG.info("Physical id %r names no filter: nothing to delete", filter_arn)
        return
    delete_and_wait(
        deadline,
        what=f"filter {filter_arn}",
        delete=lambda: client.delete_filter(filterArn=filter_arn),
        describe=lambda: client.describe_filter(filterArn=filter_arn)["filter"],
        way_out=lambda still: f"Filter {filter_arn} was not deleted in time: {still}. Deploy (or delete the stack) "
        f"again; aws personalize describe-filter --filter-arn {filter_arn} shows its state.",
    )


def _wait_active(client: Any, filter_arn: str, deadline: Deadline) -> None:
    def pending() -> str | None:
        found = client.describe_filter(filterArn=filter_arn)["filter"]
        status = found.get("status", "")
        if status == FAILED:
            reason = found.get("failureReason") or "no reason given"
            raise RuntimeError(f"Personalize could not create filter {filter_arn}: {reason}")
        return None if status == ACTIVE else f"filter {filter_arn} is {status}"

    wait_until(
        deadline,
        pending,
        lambda still: f"Filter {filter_arn} did not become ACTIVE in time: {still}. Deploy again: the next attempt "
        "adopts the filter and waits anew.",
    )
