"""The harness: moto's Step Functions interpreter, bridged to botocore and run on the virtual clock.

Part of the offline harness: see the package docstring (`pipeline_rehearsal/__init__.py`).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _datetime
import functools
import json
import logging
import sys
import threading
import types
import uuid
from dataclasses import dataclass, field
from typing import Any, cast
from collections.abc import Callable, Mapping
from unittest import mock

# First of the third-party imports: it refuses a moto other than the one whose internals are patched here.
import pipeline_rehearsal.moto_pin  # noqa: F401  (imported for its check, see the line above)
import boto3
import botocore.session
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.program import program as program_module
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as aws_sdk_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as callback_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec import execute_state as execute_state_module
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branch_worker as branch_worker_module
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl as branches_decl_module
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as distributed_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    inline_iteration_component as inline_iteration_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import job as map_job_module
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.event import event_manager as event_manager_module
from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module
from moto.stepfunctions.parser.asl.utils import json_path as json_path_module
from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser,
    ASLParserException,
    SyntaxErrorListener,
)
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.api import HistoryEventType, InvalidDefinition, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from antlr4 import CommonTokenStream, InputStream
from moto.stepfunctions.parser.backend import execution as execution_module
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser import models as parser_models_module
from moto.stepfunctions.responses import get_backend
from pipeline_rehearsal import clock as clock_module
from pipeline_rehearsal.clock import (
    _TRACKED_THREADING,
    VirtualClock,
    _datetime_module_on,
    _time_module_on,
    _TrackedThread,
)
from pipeline_rehearsal.cloud import ACCOUNT, DEFAULT_REGION
from pipeline_rehearsal.fakes import Call, FakeGlue, FakeLambda, FakePersonalize, ServiceError

_BOTOCORE = botocore.session.get_session()


@dataclass
class ExecutionResult:
    arn: str
    name: str
    status: str  # SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    output: Any
    error: str | None
    cause: str | None
    events: list[dict[str, Any]] = field(repr=False)
    child_histories: list[list[dict[str, Any]]] = field(default_factory=list, repr=False)
    """The history of each Distributed Map child this execution started, at any depth (an import's or a solution's
    own history, a batch job's): not part of its history, as in AWS, but what it ran."""

    @property
    def child_events(self) -> list[dict[str, Any]]:
        """Every child's history events, child after child."""
        return [event for history in self.child_histories for event in history]

    @property
    def transitions(self) -> int:
        """State transitions as Step Functions bills them: one per state entered."""
        return sum(1 for e in self.events if e["type"].endswith("StateEntered"))

    @property
    def states_entered(self) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.events if e["type"].endswith("StateEntered")]

    @property
    def all_states_entered(self) -> list[str]:
        """The states entered by the execution and then by its children (each child's in its own order)."""
        return self.states_entered + [
            e["stateEnteredEventDetails"]["name"] for e in self.child_events if e["type"].endswith("StateEntered")
        ]


class OfflineStepFunctions(contextlib.AbstractContextManager):
    """moto with state-machine execution on, the interpreter bridged, fakes answering Personalize/Glue/Lambda.

    with OfflineStepFunctions(region="eu-west-1") as aws:
        aws.lambdas.register(function_arn, handler)
        aws.personalize.script("train", JobScript(duration=1200))
        aws.personalize.refuse("CreateSolutionVersion", "ResourceInUseException", times=3)
        arn = aws.create_state_machine(definition, name="pbp-dev-batch-pipeline")
        result = aws.run(arn, name="weekly")
        aws.calls_to("personalize")   # [Call(operation=..., params=..., at=...), ...]
    """

    FAKED_SERVICES = ("personalize", "glue", "lambda")

    def __init__(self, *, region: str = DEFAULT_REGION, clock: VirtualClock | None = None, call_latency: float = 0.1):
        self.region = region
        self.clock = clock or VirtualClock()
        self.call_latency = call_latency  # simulated seconds each faked call takes
        self.personalize = FakePersonalize(self.clock, region)
        self.glue = FakeGlue(self.clock)
        self.lambdas = FakeLambda(self.clock)
        self.calls: list[Call] = []
        self._answers: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self._stack = contextlib.ExitStack()
        self._deadlines: dict[int, tuple[float, Any]] = {}
        self._child_event_managers: list[Any] = []
        self._children_of: dict[str, list[Any]] = {}
        self._sfn: Any = None
        self._interpreter_clients = _InterpreterClients()

    # Lifecycle ------------------------------------------------------------------------------------------------
    def __enter__(self) -> OfflineStepFunctions:
        try:
            return self._enter()
        except BaseException:
            self._stack.close()
            raise

    def _enter(self) -> OfflineStepFunctions:
        stack = self._stack
        stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        # The interpreter's threads and their waits for each other, known to the virtual clock (see VirtualClock).
        clock_module.activate(self.clock)
        stack.callback(clock_module.release, self.clock)
        for module in (
            execute_state_module,
            branch_worker_module,
            branches_decl_module,
            inline_iteration_module,
            map_job_module,
        ):
            stack.enter_context(mock.patch.object(module, "threading", _TRACKED_THREADING))
        stack.enter_context(mock.patch.object(execute_state_module, "Thread", _TrackedThread))
        # A Distributed Map's children write to an event manager of their own (moto's stand-in for child
        # executions' histories): kept here so that a test can see the children's states (`child_events`).
        harness = self

        class _RecordedEventManager(event_manager_module.EventManager):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                harness._child_event_managers.append(self)

        stack.enter_context(mock.patch.object(distributed_module, "EventManager", _RecordedEventManager))
        # moto logs every caught error with the repr of the whole component (tens of kB per Catch); the
        # execution's history has what a test needs.
        interpreter_log = logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component")
        stack.callback(interpreter_log.setLevel, interpreter_log.level)
        interpreter_log.setLevel(logging.CRITICAL)
        stack.enter_context(
            mock.patch.object(
                distributed_module.DistributedIterationComponent,
                "_map_run",
                _map_run_within_tolerance(distributed_module.DistributedIterationComponent._map_run),
            )
        )
        clock_datetime, clock_time = _datetime_module_on(self.clock), _time_module_on(self.clock)
        for module in (parser_models_module, state_module, event_manager_module, execution_module):
            stack.enter_context(mock.patch.object(module, "datetime", clock_datetime))
        for module in (retrier_decl, callback_module):
            stack.enter_context(mock.patch.object(module, "time", clock_time))
        # Speed only: moto builds a new JSONPath parser (ply tables) for every path it evaluates, and parses
        # the whole definition (antlr, ~0.5 s) on create and again on every execution.
        stack.enter_context(
            mock.patch.object(json_path_module, "parse", functools.lru_cache(maxsize=4096)(json_path_module.parse))
        )
        stack.enter_context(
            mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(_parse_with_cached_tree))
        )
        # create_state_machine checks the syntax only; building the evaluation components is left to the
        # execution (the resolved definitions are checked by asl-validator in the tests).
        stack.enter_context(
            mock.patch.object(
                parser_models_module.StepFunctionsParserBackend, "_validate_definition", staticmethod(_syntax_tree)
            )
        )
        stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", self._wait_interval))
        for module in _modules_calling_boto_client_for():
            stack.enter_context(mock.patch.object(module, "boto_client_for", self._interpreter_clients))
        stack.enter_context(mock.patch.object(ExecutionWorker, "start", _run_synchronously))
        original_environment = ExecutionWorker._get_evaluation_environment
        stack.enter_context(
            mock.patch.object(
                ExecutionWorker, "_get_evaluation_environment", _with_aws_start_time(original_environment)
            )
        )
        stack.enter_context(mock.patch.object(program_module.Program, "eval", self._program_eval()))
        stack.enter_context(
            mock.patch.object(
                callback_module.StateTaskServiceCallback,
                "_eval_integration_pattern",
                _sync_without_task_token(callback_module.StateTaskServiceCallback._eval_integration_pattern),
            )
        )
        stack.enter_context(
            mock.patch.object(aws_sdk_module.StateTaskServiceAwsSdk, "_normalise_parameters", _sdk_parameters_to_boto)
        )
        stack.enter_context(
            mock.patch.object(aws_sdk_module.StateTaskServiceAwsSdk, "_normalise_response", _sdk_response_to_sfn)
        )
        stack.enter_context(
            mock.patch.object(
                aws_sdk_module.StateTaskServiceAwsSdk, "_normalise_service_error_name", staticmethod(_sdk_error_prefix)
            )
        )
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events
        unique = f"sfn-offline-{id(self)}"
        events.register("before-parameter-build", self._remember_params, unique_id=unique + "-params")
        events.register("before-call", self._answer, unique_id=unique + "-call")
        stack.callback(events.unregister, "before-parameter-build", unique_id=unique + "-params")
        stack.callback(events.unregister, "before-call", unique_id=unique + "-call")
        # A handler registered on the session later (by a test) must reach the interpreter's clients: they are
        # copies of the session's handlers, made when each client is built.
        for method in ("register", "register_first", "register_last", "unregister"):
            changing = self._interpreter_clients.forgotten_on(getattr(events, method))
            stack.enter_context(mock.patch.object(events, method, changing))
        # The harness's own client comes from another session, so its calls are neither faked nor logged.
        self._sfn = _harness_session().client("stepfunctions", region_name=self.region)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.close()

    # Running --------------------------------------------------------------------------------------------------
    def create_state_machine(self, definition: Mapping[str, Any] | str, *, name: str = "offline-state-machine") -> str:
        text = definition if isinstance(definition, str) else json.dumps(definition)
        return self._sfn.create_state_machine(
            name=name, definition=text, roleArn=f"arn:aws:iam::{ACCOUNT}:role/offline-state-machine"
        )["stateMachineArn"]

    def start(self, state_machine_arn: str, *, name: str | None = None, input: Any = None) -> str:
        """Starts an execution and returns its ARN once it has ended (executions run synchronously)."""
        first_child = len(self._child_event_managers)
        arn = self._sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name or str(uuid.uuid4()), input=json.dumps(input or {})
        )["executionArn"]
        # Its children are those started while it ran (an execution started in its middle counts its own too).
        self._children_of[arn] = self._child_event_managers[first_child:]
        return arn

    def run(self, state_machine_arn: str, *, name: str | None = None, input: Any = None) -> ExecutionResult:
        return self.result(self.start(state_machine_arn, name=name, input=input))

    def result(self, execution_arn: str) -> ExecutionResult:
        described = self._sfn.describe_execution(executionArn=execution_arn)
        events = self.history(execution_arn)
        failure = next(
            (e for e in reversed(events) if e["type"] in ("ExecutionFailed", "ExecutionTimedOut")),
            None,
        )
        details = (failure or {}).get("executionFailedEventDetails") or (failure or {}).get(
            "executionTimedOutEventDetails", {}
        )
        return ExecutionResult(
            arn=execution_arn,
            name=described["name"],
            status=described["status"],
            output=json.loads(described["output"]) if described.get("output") else None,
            error=described.get("error") or details.get("error"),
            cause=described.get("cause") or details.get("cause"),
            events=events,
            child_histories=[
                [dict(event) for event in manager.get_event_history()]
                for manager in self._children_of.get(execution_arn, [])
            ],
        )

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The execution's history events, read from moto's backend (its HTTP serializer takes seconds for
        thousands of events; the content is the same)."""
        backend = get_backend(ACCOUNT, self.region)
        return list(backend.get_execution_history(execution_arn)["events"])

    def child_events(self) -> list[dict[str, Any]]:
        """The history events of every Distributed Map child so far (all children of all map runs, in the order
        each map run's children wrote them; concurrent children interleave). Not part of any execution's history,
        as a child execution's events are not part of its parent's."""
        return [dict(event) for manager in self._child_event_managers for event in manager.get_event_history()]

    def child_states_entered(self) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"] for e in self.child_events() if e["type"].endswith("StateEntered")
        ]

    def answer(self, service: str, operation: str, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Script any call (e.g. stepfunctions ListExecutions): `handler(params)` returns the response as boto3
        would (API member names) or raises ServiceError. Takes precedence over the fakes and moto."""
        self._answers[(service, operation)] = handler

    def client(self, service: str) -> Any:
        """A client of moto's `service` for setting a test up (its calls are neither faked nor logged)."""
        return _harness_session().client(service, region_name=self.region)

    def calls_to(self, service: str, *operations: str) -> list[Call]:
        return [c for c in self.calls if c.service == service and (not operations or c.operation in operations)]

    # Hooks ----------------------------------------------------------------------------------------------------
    @staticmethod
    def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["sfn_offline_params"] = json.loads(json.dumps(params, default=_json_default))

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        service, operation = model.service_model.service_name, model.name
        params = context.get("sfn_offline_params", {})
        call = Call(service, operation, params, self.clock.seconds)
        self.calls.append(call)
        self.clock.advance(self.call_latency)
        scripted = self._answers.get((service, operation))
        fakes: dict[str, FakePersonalize | FakeGlue | FakeLambda] = {
            "personalize": self.personalize,
            "glue": self.glue,
            "lambda": self.lambdas,
        }
        fake = fakes.get(service)
        if scripted is None:
            if fake is None:
                return None  # moto answers (e.g. stepfunctions ListExecutions)
            scripted = functools.partial(fake.handle, operation)
        request_id = str(uuid.uuid4())
        try:
            body = scripted(params)
        except ServiceError as error:
            call.error = error.code
            parsed = {
                "Error": {"Code": error.code, "Message": error.message},
                "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": error.status},
            }
            return AWSResponse("https://offline", error.status, {}, None), parsed
        body["ResponseMetadata"] = {"RequestId": request_id, "HTTPStatusCode": 200}
        return AWSResponse("https://offline", 200, {}, None), body

    # Interpreter patches --------------------------------------------------------------------------------------
    def _wait_interval(self, env: Any, wait_seconds: int) -> None:
        """Replaces WaitFunction._wait_interval (bound to the harness, so it gets no WaitFunction)."""
        # The execution's deadline, for a Wait at any depth: its frames (Parallel branches, Map iterations, a
        # Distributed Map's children) share its execution details. A child execution ends with its parent, as
        # a Map Run's children are stopped when the parent execution ends.
        execution = self._deadlines.get(id(env.aws_execution_details))
        if execution is not None and self.clock.seconds + wait_seconds >= execution[0]:
            self.clock.sleep_until(execution[0])
            execution[1].set_timed_out()
            env.set_timed_out()
            return
        self.clock.sleep(wait_seconds)

    def _program_eval(self) -> Callable[[Any, Any], None]:
        """Program.eval with TimeoutSeconds measured on the virtual clock (moto measures real seconds)."""
        harness = self

        def evaluate(program: Any, env: Any) -> None:
            timeout = program.timeout_seconds.timeout_seconds if program.timeout_seconds else None
            if timeout is not None and not env.is_frame():
                harness._deadlines[id(env.aws_execution_details)] = (harness.clock.seconds + timeout, env)
            env.next_state_name = program.start_at.start_at_name
            # moto runs the program in a thread and joins it with the timeout in real seconds; here the
            # Wait patch enforces the deadline, so the program runs in the caller's thread.
            super(program_module.Program, cast(program_module.Program, program)).eval(env)

        return evaluate


def _run_synchronously(worker: ExecutionWorker) -> None:
    worker._execution_logic()


def _map_run_within_tolerance(original: Callable[..., None]) -> Callable[..., None]:
    """A Distributed Map run fails when its failed children exceed the tolerance (ToleratedFailureCount /
    ToleratedFailurePercentage, both 0 by default), with `States.ExceedToleratedFailureThreshold`, as in AWS.
    moto counts a failed child and goes on with a null output in its place.

    moto cannot tell an unset tolerance from 0, so the run fails when the failures exceed both: a Map that sets
    one of them gets that one's rule, one that sets neither fails on the first failed child."""

    def map_run(component: Any, env: Any, eval_input: Any) -> None:
        original(component, env=env, eval_input=eval_input)
        record = eval_input.map_run_record
        counter = record.item_counter
        failed = counter.failed.get() + counter.timed_out.get() + counter.aborted.get()
        total = max(counter.total.get(), 1)
        if failed > record.tolerated_failure_count and 100.0 * failed / total > record.tolerated_failure_percentage:
            error = StatesErrorNameType.StatesExceedToleratedFailureThreshold.to_name()
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold),
                    event_type=HistoryEventType.MapRunFailed,
                    event_details=cast(
                        EventDetails,
                        dict(
                            mapRunFailedEventDetails=MapRunFailedEventDetails(
                                error=error, cause="The specified tolerated failure threshold was exceeded"
                            )
                        ),
                    ),
                )
            )

    return map_run


def _with_aws_start_time(original: Callable[[ExecutionWorker], Any]) -> Callable[[ExecutionWorker], Any]:
    """`$$.Execution.StartTime` as AWS writes it (2026-01-04T03:00:00.000Z), not a Python datetime."""

    def environment(worker: ExecutionWorker) -> Any:
        env = original(worker)
        execution = env.states.context_object.context_object_data["Execution"]
        if isinstance(execution.get("StartTime"), _datetime.datetime):
            execution["StartTime"] = VirtualClock.iso(execution["StartTime"])
        return env

    return environment


class _InterpreterClients:
    """Speed only: moto's `boto_client_for` builds a new boto3 client for every task state it runs (~30 ms each,
    a sixth of an execution's time). Here the clients are kept by region and service until the default session's
    handlers change (`forgotten_on`): a handler a test registers or removes (`before-call`, `after-call`) reaches
    the clients built after it, as it would without the cache."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()  # Parallel branches and Map iterations run in threads

    def __call__(self, region: str, service: str, state_credentials: Any = None) -> Any:
        with self._lock:
            if (region, service) not in self._clients:
                self._clients[(region, service)] = _BOTO_CLIENT_FOR(region, service, state_credentials)
            return self._clients[(region, service)]

    def forget(self) -> None:
        with self._lock:
            self._clients.clear()

    def forgotten_on(self, change: Callable[..., Any]) -> Callable[..., Any]:
        """`change` (a method of the session's event emitter), forgetting the clients first."""

        def changing(*args: Any, **kwargs: Any) -> Any:
            self.forget()
            return change(*args, **kwargs)

        return changing


_BOTO_CLIENT_FOR = boto_client_module.boto_client_for


def _modules_calling_boto_client_for() -> list[types.ModuleType]:
    """The interpreter's modules that imported `boto_client_for` by name (every task service, Map's reader and
    writer)."""
    return [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.parser.")
        and module is not boto_client_module
        and getattr(module, "boto_client_for", None) is _BOTO_CLIENT_FOR
    ]


@functools.lru_cache(maxsize=1)
def _harness_session() -> boto3.session.Session:
    """One session for the harness's clients: a new session reloads the service models from disk (~0.3 s)."""
    return boto3.session.Session()


_PARSE_TREES: dict[str, Any] = {}


def _syntax_tree(definition: str) -> Any:
    """The antlr tree of a definition, cached; raises moto's InvalidDefinition on a syntax error."""
    tree = _PARSE_TREES.get(definition)
    if tree is None:
        errors = SyntaxErrorListener()
        parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
        parser.removeErrorListeners()
        parser.addErrorListener(errors)
        tree = parser.state_machine()
        if errors.errors:
            raise InvalidDefinition(message=repr(ASLParserException(errors=errors.errors)))
        _PARSE_TREES[definition] = tree
    return tree


_PROGRAMS: dict[str, Any] = {}


def _parse_with_cached_tree(definition: str) -> tuple[Any, Any]:
    """moto's AmazonStateLanguageParser.parse, cached per definition. The evaluation components keep no run
    state, except Parallel's branch bookkeeping: definitions with a Parallel state get fresh components for
    every execution, deep copies of the cached ones (a fifth of the time of building them from the tree)."""
    tree = _syntax_tree(definition)
    if definition not in _PROGRAMS:
        _PROGRAMS[definition] = Preprocessor().visit(tree)
    if '"Parallel"' in definition:
        return copy.deepcopy(_PROGRAMS[definition]), tree
    return _PROGRAMS[definition], tree


def _sync_without_task_token(original: Callable[..., None]) -> Callable[..., None]:
    """`.sync` for services without task tokens (Glue): moto ends it with `interrupt_all()` on a None endpoint."""

    def evaluate(task: Any, env: Any, **kwargs: Any) -> None:
        if ResourceCondition.WaitForTaskToken in task._supported_integration_patterns:
            return original(task, env=env, **kwargs)
        task.timeout.eval(env=env)
        timeout_seconds = env.stack.pop()
        # The StartJobRun output stays on the stack: the sync resolver builder pops it.
        resolver = task._build_sync_resolver(env=env, **kwargs)
        env.stack.append(
            task._eval_sync(
                env=env,
                sync_resolver=resolver,
                timeout_seconds=timeout_seconds,
                callback_endpoint=None,
                heartbeat_endpoint=None,
            )
        )
        return None

    return evaluate


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, _datetime.datetime):
        return value.isoformat()
    return str(value)


def _operation_model(task: Any) -> Any:
    service = task._get_boto_service_name()
    action = task.resource.api_action
    return _BOTOCORE.get_service_model(service).operation_model(action[0].upper() + action[1:])


def _sdk_parameters_to_boto(task: Any, parameters: dict, *_: Any, **__: Any) -> None:
    """PascalCase ASL parameters -> the API's member names, as Step Functions does for aws-sdk tasks."""
    shape = _operation_model(task).input_shape
    if shape is not None:
        task._to_boto_request(parameters, shape)


def _sdk_response_to_sfn(task: Any, response: Any, *_: Any, **__: Any) -> None:
    """API member names in the result -> PascalCase, as Step Functions returns aws-sdk results."""
    shape = _operation_model(task).output_shape
    if shape is not None:
        task._from_boto_response(response, shape)


_SDK_ERROR_PREFIXES = {"dynamodb": "DynamoDb", "sfn": "Sfn", "stepfunctions": "Sfn"}


def _sdk_error_prefix(service_name: str) -> str:
    """`personalize` -> `Personalize`: the service part of aws-sdk error names (e.g. `Personalize.ResourceInUse`)."""
    lowered = service_name.lower()
    if lowered in _SDK_ERROR_PREFIXES:
        return _SDK_ERROR_PREFIXES[lowered]
    return _BOTOCORE.get_service_model(lowered).service_id.replace(" ", "")
