"""Amazon Personalize: offered in the region, the dataset group and solution ACTIVE, auto-training."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import json

from pipeline_contracts.event_types import INTERACTIONS_FIELDS, UPGRADE_GUIDE
from pipeline_contracts.personalize_resources import FILTER_RESOURCE_TYPE
from pipeline_contracts.statuses import PERSONALIZE_DONE_STATUS, PERSONALIZE_FAILED_STATUSES

from ..outputs import OUTPUT_DATASET_GROUP_ARN
from .base import DEPLOY_FIX, Environment, Finding, failed, passed, warned
from .reader import Missing

__all__ = [
    "check_region",
    "check_dataset_group",
    "check_interactions_schema",
    "check_filters",
    "solution_problem",
    "is_running",
    "AUTO_TRAINING_BILL",
]

AUTO_TRAINING_BILL = (
    "performAutoTraining is on: Personalize trains a new solution version every 7 days and bills the "
    "training hours, on top of the version each run trains"
)


def is_running(status: str | None) -> bool:
    """Neither done nor ended without a result: the job still holds one of Personalize's slots."""
    return bool(status) and status != PERSONALIZE_DONE_STATUS and status not in PERSONALIZE_FAILED_STATUSES


def check_region(env: Environment) -> Finding:
    region = env.reader.region
    session = env.reader.session
    # botocore's endpoint data, per partition (China and GovCloud regions are listed apart)
    offered = session.get_available_regions("personalize", partition_name=session.get_partition_for_region(region))
    if region not in offered:
        return failed(
            f"Amazon Personalize is not offered in {region}",
            f"deploy to a region that offers it ({', '.join(offered)}) and pass that --region",
            region=region,
        )
    env.reader.read("personalize", "ListDatasetGroups", maxResults=1)
    return passed(f"offered in {region}, and the API answers", region=region)


def _describe(env: Environment, output: str, operation: str, key: str) -> Mapping[str, Any] | Finding:
    arn = env.output(env.data_stack, output)
    if arn is None:
        return failed(f"{env.data_stack} has no {output} output", DEPLOY_FIX)
    arguments: dict[str, Any] = {key + "Arn": arn}
    try:
        return env.reader.read("personalize", operation, ["ResourceNotFoundException"], **arguments)[key]
    except Missing:
        return failed(f"{arn} does not exist", env.redeploy_data(), arn=arn)


def _not_active(what: str, resource: Mapping[str, Any], arn: str, fix: str) -> Finding | None:
    status = resource.get("status")
    if status == PERSONALIZE_DONE_STATUS:
        return None
    reason = f" ({resource['failureReason']})" if resource.get("failureReason") else ""
    if is_running(status):
        fix = "wait until it is ACTIVE (minutes), then run the doctor again"
    return failed(f"{what} {arn} is {status}{reason}", fix, arn=arn, status=status)


def check_dataset_group(env: Environment) -> Finding:
    group = _describe(env, OUTPUT_DATASET_GROUP_ARN, "DescribeDatasetGroup", "datasetGroup")
    if isinstance(group, Finding):
        return group
    arn = str(group.get("datasetGroupArn"))
    fix = "delete the failed dataset group and " + env.redeploy_data()
    return _not_active("dataset group", group, arn, fix) or passed(f"{arn} ACTIVE", arn=arn, status="ACTIVE")


def solution_problem(
    env: Environment, solution: Mapping[str, Any]
) -> tuple[Finding | None, dict[str, Any]]:
    """One described solution: a FAIL or WARN finding about it (None when it is fine) and its facts.

    Not ACTIVE fails (a solution version cannot be trained on it); performAutoTraining on warns unless
    --expect-auto-training (a weekly billed version), and off warns when it was expected."""
    arn = str(solution.get("solutionArn"))
    problem = _not_active("solution", solution, arn, env.redeploy_data())
    auto = bool(solution.get("performAutoTraining"))
    facts = {
        "arn": arn,
        "status": solution.get("status"),
        "performAutoTraining": auto,
        "recipe": solution.get("recipeArn"),
    }
    if problem:
        return problem, facts
    if auto and not env.expect_auto_training:
        return warned(
            f"{arn} ACTIVE; {AUTO_TRAINING_BILL}",
            "if unintended, deploy with perform_auto_training false for it; if intended, pass --expect-auto-training",
            **facts,
        ), facts
    if not auto and env.expect_auto_training:
        return warned(
            f"{arn} ACTIVE; performAutoTraining is off, but --expect-auto-training was given",
            "deploy with perform_auto_training true for it, or drop --expect-auto-training",
            **facts,
        ), facts
    return None, facts


def check_interactions_schema(env: Environment) -> Finding:
    """The deployed interactions dataset has this version's schema: Personalize cannot replace an interactions
    dataset's schema, so a stack deployed with the three-field one needs the one-time upgrade before it deploys."""
    group_arn = env.output(env.data_stack, OUTPUT_DATASET_GROUP_ARN)
    if group_arn is None:
        return failed(f"{env.data_stack} has no {OUTPUT_DATASET_GROUP_ARN} output", DEPLOY_FIX)
    # dataset/<group name>/INTERACTIONS, whatever the dataset's name
    arn = group_arn.replace(":dataset-group/", ":dataset/", 1) + "/INTERACTIONS"
    try:
        dataset = env.reader.read("personalize", "DescribeDataset", ["ResourceNotFoundException"], datasetArn=arn)
        schema_arn = dataset["dataset"]["schemaArn"]
        schema = env.reader.read("personalize", "DescribeSchema", schemaArn=schema_arn)["schema"]
    except Missing:
        return warned(f"{arn} does not exist (deleted for the schema upgrade?)", env.redeploy_data(), arn=arn)
    fields = tuple(field.get("name") for field in json.loads(schema.get("schema") or "{}").get("fields", []))
    if fields != INTERACTIONS_FIELDS:
        return failed(
            f"{arn} has the schema {', '.join(map(str, fields))}; this version writes "
            f"{', '.join(INTERACTIONS_FIELDS)}, and Personalize cannot replace an interactions dataset's schema: "
            "a deploy would fail",
            f"follow the one-time upgrade in {UPGRADE_GUIDE} before deploying",
            arn=arn,
            fields=list(fields),
        )
    return passed(f"{arn} has {', '.join(INTERACTIONS_FIELDS)}", arn=arn)


def check_filters(env: Environment) -> Finding:
    """Every filter the data stack created (its `Custom::PersonalizeFilter`s; the physical id is the filter ARN)
    exists and is ACTIVE: a batch job with a filter that is not fails."""
    arns = [str(r.get("PhysicalResourceId")) for r in env.stack_resources(env.data_stack, FILTER_RESOURCE_TYPE)]
    if not arns:
        return passed("no filters configured", filters=[])
    problems: list[str] = []
    for arn in arns:
        try:
            found = env.reader.read("personalize", "DescribeFilter", ["ResourceNotFoundException"], filterArn=arn)
        except Missing:
            problems.append(f"{arn} does not exist")
            continue
        status = found["filter"].get("status")
        if status != PERSONALIZE_DONE_STATUS:
            reason = found["filter"].get("failureReason")
            problems.append(f"{arn} is {status}" + (f" ({reason})" if reason else ""))
    if problems:
        return failed("; ".join(problems), env.redeploy_data(), filters=arns)
    return passed(f"{len(arns)} filter(s) ACTIVE: {', '.join(a.rsplit('/', 1)[-1] for a in arns)}", filters=arns)
