"""Both stacks deployed, and each solution the pipeline will train is the data stack's current one."""

from __future__ import annotations

from typing import Any

from pipeline_contracts.stack_outputs import split_list

from ..outputs import OUTPUT_SOLUTION_ARN_PARAMETER_NAMES, OUTPUT_SOLUTION_ARNS
from .base import DEPLOY_FIX, HEALTHY_STACK_STATUSES, Environment, Finding, Status, failed, passed
from .personalize import solution_problem
from .reader import Missing

__all__ = ["check_stacks", "check_solution_reference"]


def check_stacks(env: Environment) -> Finding:
    states: dict[str, str | None] = {}
    for name in (env.pipeline_stack, env.data_stack):
        stack = env.stack(name)
        states[name] = str(stack.get("StackStatus")) if stack else None
    missing = [name for name, status in states.items() if status is None]
    unhealthy = {name: status for name, status in states.items() if status and status not in HEALTHY_STACK_STATUSES}
    region = env.reader.region or "the default region"
    if missing:
        return failed(
            f"not deployed in {region}: {', '.join(missing)}",
            f"{DEPLOY_FIX} (or check --stack, --data-stack, --region, --profile)",
            stacks=states,
        )
    if unhealthy:
        described = ", ".join(f"{name} {status}" for name, status in unhealthy.items())
        return failed(
            f"not in a *_COMPLETE state: {described}",
            "wait for an update in progress to end; after a failure or rollback read the stack events "
            "(aws cloudformation describe-stack-events --stack-name NAME) and redeploy: npx cdk deploy --all",
            stacks=states,
        )
    return passed(", ".join(f"{name} {status}" for name, status in states.items()), stacks=states)


def check_solution_reference(env: Environment) -> Finding:
    """The state machine reads each solution's ARN from its SSM parameter at run start: every parameter must name
    a solution that exists, is the one the data stack manages now (issue 8, item 6), is ACTIVE, and trains
    automatically only when that is expected (issue 13: one line covering every configured solution)."""
    read_by_pipeline = env.output(env.pipeline_stack, OUTPUT_SOLUTION_ARN_PARAMETER_NAMES)
    written_by_data = env.output(env.data_stack, OUTPUT_SOLUTION_ARN_PARAMETER_NAMES)
    listed = read_by_pipeline or written_by_data
    if listed is None:
        return failed(
            f"no {OUTPUT_SOLUTION_ARN_PARAMETER_NAMES} output on {env.pipeline_stack} or {env.data_stack} "
            "(deployed by an older version)",
            DEPLOY_FIX,
        )
    if read_by_pipeline and written_by_data and split_list(read_by_pipeline) != split_list(written_by_data):
        return failed(
            f"{env.pipeline_stack} reads {read_by_pipeline}, but {env.data_stack} writes {written_by_data}",
            DEPLOY_FIX,
        )
    parameters = split_list(listed)
    managed = split_list(env.output(env.data_stack, OUTPUT_SOLUTION_ARNS))
    expected_of = dict(zip(parameters, managed, strict=False)) if len(managed) == len(parameters) else {}
    findings = [_one_solution(env, parameter, expected_of.get(parameter)) for parameter in parameters]
    facts = {"solutions": [dict(f.facts) for f in findings]}
    for status in (Status.FAIL, Status.WARN):
        bad = [f for f in findings if f.status is status]
        if bad:
            detail = "; ".join(f.detail for f in bad)
            fixes = "; ".join(dict.fromkeys(str(f.fix) for f in bad if f.fix))
            ok = len(findings) - len(bad)
            suffix = f" ({ok} of {len(findings)} solutions fine)" if ok else ""
            return Finding(status, detail + suffix, fixes, facts)
    return passed("; ".join(f.detail for f in findings), **facts)


def _one_solution(env: Environment, parameter: str, expected: str | None) -> Finding:
    """One parameter -> its solution: exists, is the data stack's, ACTIVE, auto-training as expected."""
    try:
        value = env.reader.read("ssm", "GetParameter", ["ParameterNotFound"], Name=parameter)["Parameter"]["Value"]
    except Missing:
        return failed(f"SSM parameter {parameter} does not exist", DEPLOY_FIX, parameter=parameter)
    facts: dict[str, Any] = {"parameter": parameter, "solutionArn": value, "dataStackSolutionArn": expected}
    try:
        solution = env.reader.read("personalize", "DescribeSolution", ["ResourceNotFoundException"], solutionArn=value)
    except Missing:
        return failed(
            f"{parameter} names a solution that does not exist: {value}",
            env.redeploy_data(", which rewrites the parameter"),
            **facts,
        )
    if expected and value != expected:
        return failed(
            f"{parameter} holds {value}, but {env.data_stack} manages {expected}",
            env.redeploy_data(", which rewrites the parameter"),
            **facts,
        )
    problem, solution_facts = solution_problem(env, solution.get("solution") or {})
    facts.update(status=solution_facts["status"], performAutoTraining=solution_facts["performAutoTraining"])
    if problem is not None:
        return Finding(problem.status, f"{parameter}: {problem.detail}", problem.fix, facts)
    auto = "on" if solution_facts["performAutoTraining"] else "off"
    return passed(f"{parameter} -> {value} ACTIVE, performAutoTraining {auto}", **facts)
