"""Every Lambda task of every named configuration, failing: the run says the error's type and message, no stack trace.

A function error reaches Step Functions as Error = the exception's type and Cause = the runtime's JSON
({"errorMessage", "errorType", "requestId", "stackTrace"}, `pipeline_rehearsal.function_error`). Each catch it can reach
reads it down to "<type>: <message>" (`stacks/orchestration/function_errors.py`). Derived from the synthesized
definition of each configuration (the `configuration` fixture), not from a list:

- statically, for every Lambda task (Parallel branches and Map processors included): the catch that handles its
  errors (its own, or the nearest enclosing state's) goes through the reader first;
- executed, for every function a Lambda task invokes: one run with that function raising on every call, so each
  task that invokes it fails (one task per solution: the solutions fail side by side in the same run); the run's
  cause (which the failure notice carries, `stacks/monitoring.py`) and, when the run gets that far, the manifest
  hold the message and no stack trace, request id or file path. Twelve runs per configuration, one per function;
  the run lease's release is the exception by design: its failure does not fail the run (the next run finds the
  lease stale), and nothing of its error reaches the output.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from lambda_src.batch_plan import handler as batch_plan_handler
from lambda_src.model_gate import handler as model_gate_handler
from lambda_src.postprocess import handler as postprocess_handler
from stacks.app_factory import PipelineApp
from pipeline_rehearsal.deployment import create_accepted_versions_table
from pipeline_rehearsal.deployment import SynthesizedOrchestration, app_orchestration
from pipeline_rehearsal import BatchOutputWriter, ExecutionResult, JobScript, OfflineStepFunctions, clock_datetime
from pipeline_rehearsal.functions import shared_environment
from tests.support.lambda_context import apply_environment
from tests.support.templates import all_states, logical_id_of, nested_machines

REGION = "us-east-1"
READER_SUFFIX = ": function error?"
LEAKS = ("stackTrace", "requestId", 'File "', "/var/task", "Traceback")


class InjectedFailure(Exception):
    """What every function of one run raises."""


def lambda_tasks(machine: Mapping[str, Any], parents: tuple[Mapping[str, Any], ...] = ()) -> Iterator[
        tuple[str, Mapping[str, Any], tuple[Mapping[str, Any], ...]]]:
    """(name, state, enclosing states innermost last) of every Lambda task, nested machines included."""
    for name, state in machine["States"].items():
        resource = str(state.get("Resource", ""))
        if state["Type"] == "Task" and (":lambda:invoke" in resource or ":function:" in resource):
            yield name, state, parents
        for nested in nested_machines(state):
            yield from lambda_tasks(nested, (*parents, state))


def function_of(state: Mapping[str, Any]) -> str:
    return str(state.get("Parameters", {}).get("FunctionName") or state["Resource"])


def handling_catch(state: Mapping[str, Any], parents: tuple[Mapping[str, Any], ...]) -> Mapping[str, Any]:
    """The States.ALL catch that handles a failure of `state`: its own, else the nearest enclosing state's."""
    for candidate in (state, *reversed(parents)):
        for catch in candidate.get("Catch", ()):
            if "States.ALL" in catch["ErrorEquals"]:
                return catch
    raise AssertionError("no catch handles this task's errors: the execution would fail with the raw cause")


@pytest.fixture(scope="module")
def machines() -> dict[str, SynthesizedOrchestration]:
    """Each configuration's state machine, resolved once for this module."""
    return {}


@pytest.fixture
def machine(
    configuration: str, configured_app: PipelineApp, configured_templates: dict[str, Any],
    machines: dict[str, SynthesizedOrchestration],
) -> SynthesizedOrchestration:
    if configuration not in machines:
        machines[configuration] = app_orchestration(configured_app, configured_templates, region=REGION)
    return machines[configuration]


def lease_release_tasks(machine: SynthesizedOrchestration) -> dict[str, Mapping[str, Any]]:
    """The run-lease releases at the run's normal ends: their catch discards the error (ResultPath null) and goes on
    to the end, so nothing of the error is read (no reader needed) and the run is not failed by them."""
    release = machine.functions["run_lease.handler.release"].arn
    return {name: state for name, state, _ in lambda_tasks(machine.definition) if function_of(state) == release}


def test_every_lambda_task_is_caught_through_the_function_error_reader(machine: SynthesizedOrchestration) -> None:
    states = all_states(machine.definition)
    releases = lease_release_tasks(machine)
    tasks = list(lambda_tasks(machine.definition))
    # guard, prepare, choose modes, account, manifest, accept, the two lease releases; 5 per solution
    assert len(tasks) == 8 + 5 * len(machine.config.solutions)
    assert len(releases) == 2
    for name, release in releases.items():
        (catch,) = release["Catch"]
        assert (catch["ErrorEquals"], catch["ResultPath"], catch["Next"]) == (["States.ALL"], None, release["Next"])
    for name, state, parents in tasks:
        if name in releases:
            continue
        catch = handling_catch(state, parents)
        reader = states[catch["Next"]]
        assert catch["Next"].endswith(READER_SUFFIX) and reader["Type"] == "Choice", name
        read = states[reader["Choices"][0]["Next"]]
        assert read["Parameters"]["function.$"] == f"States.StringToJson({catch['ResultPath']}.Cause)", name
        shorten = states[read["Next"]]
        assert shorten["Next"] == reader["Default"] and shorten["ResultPath"] == catch["ResultPath"], name


# ----------------------------------------------------------------------------------------------------------------
# Executed
# ----------------------------------------------------------------------------------------------------------------


def raising(handler: str) -> Callable[[Any, Any], Any]:
    def handle(event: Any, context: Any) -> Any:
        raise InjectedFailure(f"injected failure of {handler}")

    return handle


def copying_plan(plan: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """The real plan, with every job marked as reading copies, so that each child places its input (the small
    inputs of these runs fit one job that reads in place)."""

    def handle(event: Any, context: Any) -> Any:
        result = plan(event, context)
        s3 = batch_plan_handler.s3_client()
        jobs = json.loads(s3.get_object(Bucket=result["input_bucket"], Key=result["jobs_key"])["Body"].read())
        body = json.dumps([{**job, "copy": True} for job in jobs]).encode()
        s3.put_object(Bucket=result["input_bucket"], Key=result["jobs_key"], Body=body)
        return result

    return handle


@contextlib.contextmanager
def failing_runs(
    machine: SynthesizedOrchestration, app: PipelineApp, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], tuple[ExecutionResult, str | None]]]:
    """`run(function)`: one run (in one harness shared by the runs) whose `function` (ARN) raises on every call;
    (its result, its manifest's text when written)."""
    apply_environment(shared_environment(machine.functions, REGION), monkeypatch)
    with machine.offline() as (aws, arn):
        monkeypatch.setattr(postprocess_handler, "datetime", clock_datetime(aws.clock))
        s3 = aws.client("s3")
        table = next(f.environment[model_gate_handler.TABLE_ENV] for f in machine.functions.values()
                     if model_gate_handler.TABLE_ENV in f.environment)
        create_accepted_versions_table(aws.client("dynamodb"), table)
        topic = machine.cloud.arn(logical_id_of(app.pipeline_stack.notices.topic))
        aws.client("sns").create_topic(Name=topic.rsplit(":", 1)[-1])
        aws.personalize.on_active = BatchOutputWriter(s3)
        aws.personalize.default_script = JobScript(duration=600)
        handlers = dict(aws.lambdas.handlers)
        plan = machine.functions["batch_plan.handler.plan_batch_jobs"]
        curated = machine.expected("curated_bucket")

        def run(function: str) -> tuple[ExecutionResult, str | None]:
            aws.lambdas.handlers.update(handlers)
            if function == machine.functions["batch_plan.handler.place_job_input"].arn:
                aws.lambdas.handlers[plan.arn] = copying_plan(handlers[plan.arn])
            aws.lambdas.handlers[function] = raising(handler_of(machine, function))
            result = aws.run(arn, name=f"weekly-{len(aws.glue.runs)}-{len(aws.lambdas.invocations)}")
            run_id = run_id_of(result)
            if run_id is None:
                return result, None
            try:
                body = s3.get_object(Bucket=curated, Key=f"runs/{run_id}/_manifest.json")["Body"].read()
            except s3.exceptions.NoSuchKey:
                return result, None
            return result, body.decode()

        yield run


def run_id_of(result: ExecutionResult) -> str | None:
    """The run id "Prepare run" made (None when it failed)."""
    for event in result.events:
        details = event.get("stateExitedEventDetails")
        output = json.loads(details["output"]) if details and details.get("output") else {}
        if isinstance(output, dict) and isinstance(output.get("run"), dict) and "id" in output["run"]:
            return str(output["run"]["id"])
    return None


def handler_of(machine: SynthesizedOrchestration, function: str) -> str:
    return next((f.handler for f in machine.functions.values() if f.arn == function), "run names")


def test_a_failing_function_reaches_the_cause_and_manifest_as_type_and_message(
    machine: SynthesizedOrchestration, configured_app: PipelineApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = list(lambda_tasks(machine.definition))
    functions = sorted({function_of(state) for _, state, _ in tasks})
    assert len(functions) == 12
    release = machine.functions["run_lease.handler.release"].arn
    solutions = machine.definition["States"]["Solutions"]
    # A solution's failure is recorded in the manifest, written after every solution's branch.
    in_solutions = {function_of(state) for _, state, parents in tasks if parents and parents[0] is solutions}
    assert len(in_solutions) == 5
    with failing_runs(machine, configured_app, monkeypatch) as run:
        outcomes = {function: run(function) for function in functions}
    for function, (result, manifest) in outcomes.items():
        handler = handler_of(machine, function)
        message = f"InjectedFailure: injected failure of {handler}"
        if function == release:  # a lease that cannot be given back is found stale by the next run
            assert (result.status, result.output["status"]) == ("SUCCEEDED", "SUCCEEDED"), handler
            assert not any(leak in json.dumps(result.output) for leak in LEAKS), handler
            continue
        assert result.status == "FAILED", (handler, result.status)
        assert result.cause is not None and message in result.cause, (handler, result.cause)
        for text in (result.cause, manifest or ""):
            assert not any(leak in text for leak in LEAKS), (handler, text)
        if function in in_solutions:  # every solution failed, and its record in the manifest says the same
            assert manifest is not None, handler
            sections = json.loads(manifest)["solutions"]
            assert [s["status"] for s in sections.values()] == ["FAILED"] * len(machine.config.solutions), handler
            assert all(message in json.dumps(section) for section in sections.values()), (handler, sections)
