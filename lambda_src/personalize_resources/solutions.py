"""Custom::PersonalizeSolution: create (or adopt) a solution, never create one again under the same name, and
delete it once no version of it is training.

CloudFormation sends Update whenever a property changes: a new settings hash (a new name: create the new solution,
and CloudFormation deletes the old one afterwards), or anything that keeps the name (a provider or CDK upgrade,
the migration from the former AwsCustomResource): then nothing is created and the physical id stays.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .requests import ALREADY_EXISTS, IN_USE, NOT_FOUND, SolutionRequest, attempt, error_code, sibling_arn, unless_gone
from .waiting import Deadline, wait_until

LOG = logging.getLogger(__name__)
# Versions DeleteSolution waits for ("You can't delete a solution if an associated SolutionVersion is in the
# CREATE PENDING or IN PROGRESS state"); a stopped one passes through CREATE STOPPING.
TRAINING_STATUSES = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS"})
STOPPING_STATUS = "CREATE STOPPING"


def solution_name_of(physical_id: str) -> str:
    """The solution name a physical id (a solution ARN, ending in solution/<name>) names; "" for anything else."""
    _, found, name = physical_id.rpartition(":solution/")
    return name if found and "/" not in name else ""


def settings_differences(existing: Mapping[str, Any], request: SolutionRequest) -> list[str]:
    """The settings in which an existing solution (DescribeSolution's `solution`) differs from the request."""
    wanted = {
        "datasetGroupArn": request.dataset_group_arn,
        "recipeArn": request.recipe_arn,
        "performAutoTraining": request.perform_auto_training,
        "performHPO": False,
        "eventType": request.event_type,
    }
    differences = [
        f"{key} is {existing.get(key)!r}, not {value!r}" for key, value in wanted.items() if existing.get(key) != value
    ]
    threshold = (existing.get("solutionConfig") or {}).get("eventValueThreshold")
    if threshold != request.event_value_threshold:
        differences.append(f"eventValueThreshold is {threshold!r}, not {request.event_value_threshold!r}")
    return differences


def create_solution(client: Any, request: SolutionRequest) -> str:
    """The ARN of the requested solution: created, or an existing one of that name with the same settings (a
    retried create). A same-named solution with other settings is refused: it is not ours to change."""
    try:
        return client.create_solution(
            name=request.name,
            datasetGroupArn=request.dataset_group_arn,
            recipeArn=request.recipe_arn,
            performAutoTraining=request.perform_auto_training,
            performHPO=False,
            **request.training_data,
        )["solutionArn"]
    except Exception as error:
        if error_code(error) != ALREADY_EXISTS:
            raise
    arn = sibling_arn(request.dataset_group_arn, f"solution/{request.name}")
    differences = settings_differences(client.describe_solution(solutionArn=arn)["solution"], request)
    if differences:
        raise RuntimeError(
            f"Solution {request.name} already exists with other settings ({'; '.join(differences)}). Delete it "
            "(aws personalize delete-solution --solution-arn " + arn + ") and deploy again, or change the "
            "configuration back."
        )
    LOG.info("Adopting the existing solution %s (same settings)", arn)
    return arn


def update_solution(client: Any, physical_id: str, request: SolutionRequest) -> str:
    """Same name as the current solution: nothing to create (the physical id stays). Another name (new settings):
    the new solution; CloudFormation then deletes the old one (Delete with the old physical id)."""
    if solution_name_of(physical_id) == request.name:
        LOG.info("Solution %s keeps its name: nothing to create", physical_id)
        return physical_id
    return create_solution(client, request)


def delete_solution(client: Any, solution_arn: str, deadline: Deadline) -> None:
    """Stops any version still training, waits (bounded) until none is, deletes, and waits until the solution is
    gone (the dataset group, deleted after it on teardown, refuses while it has solutions); gone already is fine."""
    if not solution_name_of(solution_arn):
        LOG.info("Physical id %r names no solution: nothing to delete", solution_arn)
        return
    stopped: set[str] = set()
    asked = False

    def pending() -> str | None:
        nonlocal asked
        solution = unless_gone(lambda: client.describe_solution(solutionArn=solution_arn)["solution"])
        if solution is None:
            return None
        if asked:
            return f"solution {solution_arn} is {solution.get('status')} (its deletion was asked)"
        training = _training_version(client, solution, stopped)
        if training:
            return training
        # Refused while a version other than the latest still trains: the next look tells.
        outcome = attempt(lambda: client.delete_solution(solutionArn=solution_arn), f"solution {solution_arn}")
        if outcome == "":
            asked = True
            return f"solution {solution_arn} is being deleted"
        return outcome  # None: gone already; otherwise what holds it

    wait_until(
        deadline,
        pending,
        lambda still: (
            f"Solution {solution_arn} was not deleted in time: {still}. A training version was asked to stop; retry "
            "the delete (or the deployment) once no version is CREATE PENDING, CREATE IN_PROGRESS or CREATE STOPPING "
            "(aws personalize describe-solution --solution-arn " + solution_arn + ")."
        ),
    )


def _training_version(client: Any, solution: Mapping[str, Any], stopped: set[str]) -> str | None:
    """What still trains (its latest version), after asking it to stop once; None when nothing does."""
    latest = solution.get("latestSolutionVersion") or {}
    version, status = latest.get("solutionVersionArn", ""), latest.get("status", "")
    if status in TRAINING_STATUSES and version not in stopped:
        _stop(client, version)
        stopped.add(version)
    if status in TRAINING_STATUSES or status == STOPPING_STATUS:
        return f"solution version {version} is {status}"
    return None


def _stop(client: Any, version_arn: str) -> None:
    try:
        client.stop_solution_version_creation(solutionVersionArn=version_arn)
        LOG.info("Stopped the training of %s", version_arn)
    except Exception as error:
        # Finished or stopping meanwhile: the next look tells.
        if error_code(error) not in (IN_USE, NOT_FOUND):
            raise
