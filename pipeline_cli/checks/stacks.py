"""Both stacks deployed, and the solution the pipeline will train is the data stack's current one."""

from __future__ import annotations

from ..outputs import OUTPUT_SOLUTION_ARN, OUTPUT_SOLUTION_ARN_PARAMETER_NAME
from .base import DEPLOY_FIX, HEALTHY_STACK_STATUSES, Environment, Finding, failed, passed
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
    """The state machine reads the solution ARN from an SSM parameter at run start: it must name
    a solution that exists and is the one the data stack manages now (issue 8, item 6)."""
    read_by_pipeline = env.output(env.pipeline_stack, OUTPUT_SOLUTION_ARN_PARAMETER_NAME)
    written_by_data = env.output(env.data_stack, OUTPUT_SOLUTION_ARN_PARAMETER_NAME)
    parameter = read_by_pipeline or written_by_data
    if parameter is None:
        return failed(
            f"no {OUTPUT_SOLUTION_ARN_PARAMETER_NAME} output on {env.pipeline_stack} or {env.data_stack} "
            "(deployed by an older version)",
            DEPLOY_FIX,
        )
    if read_by_pipeline and written_by_data and read_by_pipeline != written_by_data:
        return failed(
            f"{env.pipeline_stack} reads {read_by_pipeline}, but {env.data_stack} writes {written_by_data}",
            DEPLOY_FIX,
        )
    expected = env.output(env.data_stack, OUTPUT_SOLUTION_ARN)
    try:
        value = env.reader.read("ssm", "GetParameter", ["ParameterNotFound"], Name=parameter)["Parameter"]["Value"]
    except Missing:
        return failed(f"SSM parameter {parameter} does not exist", DEPLOY_FIX, parameter=parameter)
    facts = {"parameter": parameter, "solutionArn": value, "dataStackSolutionArn": expected}
    try:
        env.reader.read("personalize", "DescribeSolution", ["ResourceNotFoundException"], solutionArn=value)
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
    return passed(f"{parameter} -> {value} (the data stack's solution)", **facts)
