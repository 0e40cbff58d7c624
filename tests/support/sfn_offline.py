"""Run a synthesized state machine offline, in moto 5.2.5's ASL interpreter, on a virtual clock.

The product's ASL stays exactly as synthesized; every gap of the interpreter is bridged here, in test code:

- aws-sdk tasks: parameters go to boto3 in PascalCase and results come back camelCase. Bridged with botocore's
  service model (`_to_boto_request` / `_from_boto_response`, which moto ships but leaves unused).
- aws-sdk error names come out as `personalize.ResourceInUseException`; bridged to `Personalize.…` (the
  service id from botocore), so the product's `Personalize.ResourceInUseException` catchers are the real ones.
- `glue:startJobRun.sync`, `lambda:invoke` and Personalize are answered by scripted fakes (`FakeGlue`,
  `FakeLambda`, `FakePersonalize`) through botocore `before-call` hooks on `boto3.DEFAULT_SESSION`, which the
  interpreter's clients are built from. Every call is recorded (`OfflineStepFunctions.calls`) with the
  parameters botocore would send (API member names, e.g. `jobName`) and the virtual time.
- Wait states, Retry back-off and `.sync` polling never sleep: they advance a `VirtualClock`. The execution's
  start time, `$$.State.EnteredTime`, history timestamps and the fakes' job progress all read that clock, and
  the state machine's `TimeoutSeconds` is enforced on it.
- Executions run synchronously: `run()` returns when the execution has ended (one started from inside a fake
  runs to its end before the outer call returns, which is how a test puts a second execution in the middle
  of the first).

`resolve_definition(template)` turns a template's `DefinitionString` (an `Fn::Join` of Refs/GetAtts) into the
concrete definition, with fake but well-formed names and ARNs (`FakeCloud`).
"""

from __future__ import annotations

import contextlib
import datetime as _datetime
import functools
import hashlib
import io
import json
import logging
import re
import threading
import traceback
import types
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from unittest import mock

# First of the third-party imports: it refuses a moto other than the one whose internals are patched here.
import tests.support.moto_pin  # noqa: F401  (imported for its check, see the line above)
import boto3
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
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

ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
EPOCH = _datetime.datetime(2026, 1, 4, 3, 0, 0, tzinfo=_datetime.timezone.utc)
_BOTOCORE = botocore.session.get_session()


# --------------------------------------------------------------------------------------------------------------
# Virtual clock
# --------------------------------------------------------------------------------------------------------------


class VirtualClock:
    """Simulated wall time. Nothing in the interpreter sleeps: waits move this clock instead.

    Several threads may wait at once (Parallel branches, Map iterations, a Distributed Map's children), so a
    wait is a discrete-event step, not a jump: `sleep_until(t)` blocks the calling thread until the clock
    reaches t, and the clock moves on (to the earliest wake-up time) only when every interpreter thread is
    asleep or waiting for its children. Two branches that each wait 600 s therefore take 600 s together, and
    a job created by one branch at t is seen by the others' calls after t, never before.

    The bookkeeping: `_running` counts the threads doing work (the harness's own thread, plus each thread
    the interpreter starts, see `_TrackedThread`); a thread waiting for its children (`_TrackedEvent`) is not
    running, but while the event it waits for is set it holds the clock (it is about to run again).
    `advance` is an immediate jump, for setting a test up and for the latency of a call.
    """

    def __init__(self, start: _datetime.datetime = EPOCH) -> None:
        self.start = start
        self.seconds = 0.0
        self._condition = threading.Condition()
        self._running = 1  # the thread that drives the harness
        self._sleeping: dict[object, float] = {}  # wake-up time of each sleeping thread (by token)
        self._awaited: list[threading.Event] = []  # events that threads wait for (children's termination)
        self._participants: set[int] = {threading.get_ident()}
        self._closed = False

    def now(self) -> _datetime.datetime:
        return self.start + _datetime.timedelta(seconds=self.seconds)

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            with self._condition:
                self.seconds += seconds

    def advance_to(self, seconds: float) -> None:
        self.advance(seconds - self.seconds)

    def sleep(self, seconds: float) -> None:
        with self._condition:
            moment = self.seconds + max(seconds, 0)
        self.sleep_until(moment)

    def sleep_until(self, moment: float) -> None:
        """Blocks until the clock reads `moment` (at once if it does). A thread the clock does not know (e.g. a
        handler's own thread pool) never moves the clock: its waits return at once."""
        with self._condition:
            if moment <= self.seconds:
                return
            if self._closed or threading.get_ident() not in self._participants:
                return
            token = object()
            self._sleeping[token] = moment
            self._running -= 1
            self._step_when_idle()
            while token in self._sleeping and not self._closed:
                self._condition.wait()

    def close(self) -> None:
        """Releases every sleeping thread (threads left behind by an ended execution) and stops stepping."""
        with self._condition:
            self._closed = True
            self._sleeping.clear()
            self._condition.notify_all()

    # Thread bookkeeping (called by _TrackedThread / _TrackedEvent) -------------------------------------------
    def _thread_starting(self) -> None:
        with self._condition:
            self._running += 1

    def _thread_started(self, ident: int) -> None:
        with self._condition:
            self._participants.add(ident)

    def _thread_ended(self, ident: int) -> None:
        with self._condition:
            self._participants.discard(ident)
            self._running -= 1
            self._step_when_idle()

    def _awaiting(self, event: threading.Event) -> None:
        with self._condition:
            self._running -= 1
            self._awaited.append(event)
            self._step_when_idle()

    def _awaited_done(self, event: threading.Event) -> None:
        with self._condition:
            self._awaited.remove(event)
            self._running += 1

    def _step_when_idle(self) -> None:
        """With the lock held: when no thread can run, move to the earliest wake-up time and wake its sleepers."""
        if self._closed or self._running > 0 or not self._sleeping:
            return
        if any(event.is_set() for event in self._awaited):
            return  # a waiting thread's children ended: it runs next, at the present time
        self.seconds = max(self.seconds, min(self._sleeping.values()))
        for token, moment in list(self._sleeping.items()):
            if moment <= self.seconds:
                del self._sleeping[token]
                self._running += 1
        self._condition.notify_all()

    @staticmethod
    def iso(moment: _datetime.datetime) -> str:
        """AWS's format for context-object timestamps, e.g. 2026-01-04T03:00:00.000Z."""
        return moment.astimezone(_datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_ACTIVE_CLOCK: VirtualClock | None = None  # the clock of the harness in use (one at a time per process)


class _TrackedThread(threading.Thread):
    """A thread of the interpreter (a state's evaluation, a Parallel branch, a Map worker) that the virtual
    clock counts as running from its start to its end."""

    def start(self) -> None:
        clock = self._clock = _ACTIVE_CLOCK
        if clock is not None:
            clock._thread_starting()
        try:
            super().start()
        except BaseException:
            if clock is not None:
                clock._thread_ended(-1)
            raise

    def run(self) -> None:
        clock = getattr(self, "_clock", None)
        if clock is not None:
            clock._thread_started(threading.get_ident())
        try:
            super().run()
        finally:
            if clock is not None:
                clock._thread_ended(threading.get_ident())


class _TrackedEvent(threading.Event):
    """The event a thread waits on for its children to end: while it waits, the thread is not running."""

    def wait(self, timeout: float | None = None) -> bool:
        clock = _ACTIVE_CLOCK
        if clock is None or self.is_set():
            return super().wait(timeout)
        clock._awaiting(self)
        try:
            return super().wait(timeout)
        finally:
            clock._awaited_done(self)


_TRACKED_THREADING = types.SimpleNamespace(
    **{k: getattr(threading, k) for k in dir(threading) if not k.startswith("__")}
)
_TRACKED_THREADING.Thread = _TrackedThread
_TRACKED_THREADING.Event = _TrackedEvent


def clock_datetime(clock: VirtualClock) -> type[_datetime.datetime]:
    """A `datetime` class whose `now()` reads the virtual clock (for a module that imports the class, e.g. the
    post-processing handler's `datetime`)."""

    class ClockDatetime(_datetime.datetime):
        @classmethod
        def now(cls, tz: _datetime.tzinfo | None = None) -> _datetime.datetime:  # type: ignore[override]
            moment = clock.now()
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

    return ClockDatetime


def _datetime_module_on(clock: VirtualClock) -> types.SimpleNamespace:
    """A stand-in for the `datetime` module whose `datetime.now()` reads the virtual clock."""
    namespace = types.SimpleNamespace(**{k: getattr(_datetime, k) for k in dir(_datetime) if not k.startswith("__")})
    namespace.datetime = clock_datetime(clock)
    return namespace


def _time_module_on(clock: VirtualClock) -> types.SimpleNamespace:
    """A stand-in for the `time` module whose `sleep` waits on the virtual clock instead of sleeping."""
    import time as _time

    namespace = types.SimpleNamespace(**{k: getattr(_time, k) for k in dir(_time) if not k.startswith("__")})
    namespace.sleep = clock.sleep
    return namespace


# --------------------------------------------------------------------------------------------------------------
# Template resolution
# --------------------------------------------------------------------------------------------------------------


class FakeCloud:
    """Fake but well-formed physical names and ARNs for the resources of a synthesized template."""

    _NAME_PROPERTIES = {
        "AWS::S3::Bucket": "BucketName",
        "AWS::IAM::Role": "RoleName",
        "AWS::Lambda::Function": "FunctionName",
        "AWS::Glue::Job": "Name",
        "AWS::Logs::LogGroup": "LogGroupName",
        "AWS::StepFunctions::StateMachine": "StateMachineName",
        "AWS::SNS::Topic": "TopicName",
        "AWS::SQS::Queue": "QueueName",
    }

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        account: str = ACCOUNT,
        region: str = DEFAULT_REGION,
        partition: str = "aws",
        overrides: Mapping[str, Any] | None = None,
        stacks: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.template = template
        self.account, self.region, self.partition = account, region, partition
        # Values for Refs, parameters or Fn::ImportValue names this class cannot invent (by name).
        self.overrides = dict(overrides or {})
        # Other stacks' templates by stack name, for Fn::GetStackOutput (CDK's weak cross-stack references).
        self.stacks = dict(stacks or {})

    # Public helpers -------------------------------------------------------------------------------------------
    def resources_of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        return {k: v for k, v in self.template.get("Resources", {}).items() if v.get("Type") == resource_type}

    def physical_name(self, logical_id: str) -> str:
        resource = self.template["Resources"][logical_id]
        prop = self._NAME_PROPERTIES.get(resource["Type"])
        if prop and prop in resource.get("Properties", {}):
            return str(self.resolve(resource["Properties"][prop]))
        if resource["Type"] == "AWS::S3::Bucket":
            return logical_id.lower()[:63]
        if resource["Type"] == "AWS::KMS::Key":
            return str(uuid.UUID(hashlib.md5(logical_id.encode()).hexdigest()))
        return logical_id

    def arn(self, logical_id: str) -> str:
        resource_type = self.template["Resources"][logical_id]["Type"]
        name = self.physical_name(logical_id)
        p, r, a = self.partition, self.region, self.account
        formats = {
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::KMS::Key": f"arn:{p}:kms:{r}:{a}:key/{name}",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::StepFunctions::StateMachine": f"arn:{p}:states:{r}:{a}:stateMachine:{name}",
            "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{a}:{name}",
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
            "AWS::Glue::Job": f"arn:{p}:glue:{r}:{a}:job/{name}",
        }
        if resource_type in formats:
            return formats[resource_type]
        # Any other type: arn:<p>:<service>:<r>:<a>:<type-in-kebab-case>/<name>, e.g. AWS::Personalize::Dataset
        # -> personalize ... dataset/<name>; Custom::SolutionWithoutAutoTraining -> custom ...
        parts = resource_type.split("::")
        service = parts[1].lower() if parts[0] == "AWS" else parts[0].lower()
        kind = re.sub(r"(?<!^)([A-Z])", r"-\1", parts[-1]).lower()
        return f"arn:{p}:{service}:{r}:{a}:{kind}/{name}"

    # Intrinsics -----------------------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            handler = {
                "Ref": self._ref,
                "Fn::GetAtt": self._get_att,
                "Fn::Join": lambda a: str(self.resolve(a[0])).join(str(self.resolve(v)) for v in self.resolve(a[1])),
                "Fn::Sub": self._sub,
                "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
                "Fn::Split": lambda a: str(self.resolve(a[1])).split(str(self.resolve(a[0]))),
                "Fn::ImportValue": lambda a: self._override(str(self.resolve(a)), "Fn::ImportValue"),
                "Fn::GetStackOutput": self._stack_output,
            }.get(key)
            if handler is not None:
                return handler(arg)
            if key == "Ref" or key.startswith("Fn::"):
                raise KeyError(f"FakeCloud does not resolve {key}")
        return {k: self.resolve(v) for k, v in value.items()}

    def _stack_output(self, arg: Mapping[str, Any]) -> Any:
        stack_name, output = self.resolve(arg["StackName"]), self.resolve(arg["OutputName"])
        if (key := f"{stack_name}.{output}") in self.overrides:
            return self.overrides[key]
        if stack_name not in self.stacks:
            # Without that stack's template: a stand-in that still says where the value comes from.
            return f"{stack_name}-{output}".lower()
        other = FakeCloud(
            self.stacks[stack_name], account=self.account, region=self.region, partition=self.partition,
            overrides=self.overrides, stacks=self.stacks,
        )  # fmt: skip
        return other.resolve(self.stacks[stack_name]["Outputs"][output]["Value"])

    def _override(self, name: str, kind: str) -> Any:
        if name in self.overrides:
            return self.overrides[name]
        raise KeyError(f"FakeCloud cannot invent a value for {kind} {name!r}: pass it in overrides=")

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "offline-stack",
            "AWS::NoValue": None,
        }
        if name in self.overrides:
            return self.overrides[name]
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Resources", {}):
            resource_type = self.template["Resources"][name]["Type"]
            if resource_type in ("AWS::StepFunctions::StateMachine", "AWS::SNS::Topic"):
                return self.arn(name)
            return self.physical_name(name)
        parameter = self.template.get("Parameters", {}).get(name)
        if parameter is not None and "Default" in parameter and not str(parameter.get("Type", "")).startswith("AWS::SSM"):
            return parameter["Default"]
        return self._override(name, "Ref")

    def _get_att(self, arg: Any) -> Any:
        logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        if (key := f"{logical_id}.{attribute}") in self.overrides:
            return self.overrides[key]
        if attribute.lower().endswith("arn"):  # Arn, DatasetArn, solutionArn (custom resources), ...
            return self.arn(logical_id)
        if attribute in ("Name", "BucketName", "RoleId", "KeyId"):
            return self.physical_name(logical_id)
        return self._override(key, "Fn::GetAtt")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._get_att(name))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, text)


def state_machine_logical_ids(template: Mapping[str, Any]) -> list[str]:
    return [k for k, v in template.get("Resources", {}).items() if v.get("Type") == "AWS::StepFunctions::StateMachine"]


def resolve_definition(
    template: Mapping[str, Any], logical_id: str | None = None, *, cloud: FakeCloud | None = None
) -> dict[str, Any]:
    """The concrete ASL of a template's state machine (the only one, or `logical_id`)."""
    cloud = cloud or FakeCloud(template)
    if logical_id is None:
        (logical_id,) = state_machine_logical_ids(template)
    properties = template["Resources"][logical_id]["Properties"]
    if "DefinitionString" in properties:
        definition = json.loads(cloud.resolve(properties["DefinitionString"]))
    else:
        definition = cloud.resolve(properties["Definition"])
    substitutions = cloud.resolve(properties.get("DefinitionSubstitutions", {}))
    if substitutions:
        text = json.dumps(definition)
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", str(value))
        definition = json.loads(text)
    return definition


# --------------------------------------------------------------------------------------------------------------
# Fakes
# --------------------------------------------------------------------------------------------------------------


class ServiceError(Exception):
    """Raised by a fake: the call fails with this modeled error code (e.g. ResourceInUseException)."""

    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message or code, status


@dataclass
class Call:
    """One AWS API call made by the interpreter (or by a fake's handler)."""

    service: str  # botocore service name: personalize, glue, lambda, stepfunctions
    operation: str  # e.g. CreateDatasetImportJob
    params: dict[str, Any]  # as botocore sends it: API member names (jobName, dataSource.dataLocation, ...)
    at: float  # virtual seconds since the clock's start
    error: str | None = None  # the error code, when the call failed


@dataclass
class JobScript:
    """How one scripted Personalize job behaves: runs `duration` simulated seconds, then ends in `status`."""

    duration: float = 300.0
    status: str = "ACTIVE"
    failure_reason: str | None = None
    training_hours: float | None = None  # a solution version's trainingHours (default: its duration in hours)


@dataclass
class FakeJob:
    kind: str  # import / train / batch
    arn: str
    name: str
    request: dict[str, Any]
    created_at: float
    script: JobScript
    detected_at: float | None = None  # first Describe that saw the final status

    @property
    def ends_at(self) -> float:
        return self.created_at + self.script.duration


class FakePersonalize:
    """Scripted Personalize: Create calls make jobs that reach their scripted status after a simulated duration.

    - `script(kind, *JobScript)`: queue how the next jobs of a kind behave (kind: import, train, batch for
      batch inference jobs, segment for batch segment jobs); unscripted jobs use `default_script`.
    - `refuse(operation, code, times)`: the next `times` calls of `operation` fail with `code` (e.g.
      ResourceInUseException); the refusal is recorded in the call log like any call.
    - `name_prefix=` on either: only jobs whose name starts with it (imports running side by side are told
      apart by their job-name prefixes, not by the order of their calls).
    - `enforce_quotas(batch=5, segment=5, ...)`: Personalize's concurrency quotas, off by default: a Create
      call while that many jobs of its kind are in progress (created, not yet ended on the clock) answers
      `LimitExceededException`, as Personalize does. Without arguments: `DEFAULT_QUOTAS` for every kind.
    - `on_active`: called once per job, with the job, by the first Describe that reports it ACTIVE (before the
      answer goes back), e.g. to write a batch job's output files (`BatchOutputWriter`).
    - `jobs`: every job created, in order, with creation/end/detection times (virtual seconds).
    - `solution_metrics(version_arn)`: what GetSolutionMetrics reports for a version (the `metrics` map, or None for
      a response without metrics); by default `DEFAULT_METRICS`.
    - It refuses what Personalize refuses (InvalidInputException, AWS's message): an INCREMENTAL import into a
      dataset without an ACTIVE import, a trainingMode UPDATE without an ACTIVE version of that solution trained
      FULL, and UPDATE on a solution whose recipe (`solution_recipes`, solution ARN -> recipe, when a test knows
      it) is not User-Personalization (or legacy HRNN-Coldstart).
    - ListDatasetImportJobs / ListSolutionVersions list the jobs created so far (status as Describe would say it
      now, without Describe's side effects), `list_page_size` per page with a nextToken; DescribeSolutionVersion
      reports `trainingMode`. Jobs are kept for the harness's whole session: a test runs executions one after
      another against the same Personalize.
    """

    DEFAULT_METRICS = {"normalized_discounted_cumulative_gain_at_25": 0.2, "precision_at_25": 0.05, "coverage": 0.3}
    # Jobs in progress at once, per region (Personalize service quotas), counted per kind.
    DEFAULT_QUOTAS = {"import": 5, "train": 20, "batch": 5, "segment": 5}

    _CREATE = {
        "CreateDatasetImportJob": ("import", "datasetImportJobArn", "jobName"),
        "CreateSolutionVersion": ("train", "solutionVersionArn", "name"),
        "CreateBatchInferenceJob": ("batch", "batchInferenceJobArn", "jobName"),
        "CreateBatchSegmentJob": ("segment", "batchSegmentJobArn", "jobName"),
    }
    _DESCRIBE = {
        "DescribeDatasetImportJob": ("datasetImportJobArn", "datasetImportJob"),
        "DescribeSolutionVersion": ("solutionVersionArn", "solutionVersion"),
        "DescribeBatchInferenceJob": ("batchInferenceJobArn", "batchInferenceJob"),
        "DescribeBatchSegmentJob": ("batchSegmentJobArn", "batchSegmentJob"),
    }
    _RUNNING = {"import": ("CREATE PENDING", "CREATE IN_PROGRESS"), "train": ("CREATE PENDING", "CREATE IN_PROGRESS"),
                "batch": ("PENDING", "IN PROGRESS"), "segment": ("PENDING", "IN PROGRESS")}
    _ARN_TYPES = {"import": "dataset-import-job", "batch": "batch-inference-job", "segment": "batch-segment-job"}
    # CreateDatasetImportJob / CreateSolutionVersion, as Personalize words the refusals.
    FIRST_IMPORT_MESSAGE = "If you haven't imported bulk records into the dataset previously, you can only specify FULL."
    UPDATE_MESSAGE = (
        "The UPDATE option can only be used when you already have an active solution version created from the input "
        "solution using the FULL option and the input solution was trained with the User-Personalization recipe or "
        "the HRNN-Coldstart recipe."
    )
    UPDATE_RECIPES = ("aws-user-personalization", "aws-hrnn-coldstart")
    # List operation -> (job kind, request key the list filters on, result key, summary fields of the job's request)
    _LIST = {
        "ListDatasetImportJobs": ("import", "datasetArn", "datasetImportJobs", {"importMode": "FULL"}),
        "ListSolutionVersions": ("train", "solutionArn", "solutionVersions", {"trainingMode": "FULL"}),
    }

    def __init__(self, clock: VirtualClock, region: str, account: str = ACCOUNT) -> None:
        self.clock, self.region, self.account = clock, region, account
        self.default_script = JobScript()
        self.jobs: list[FakeJob] = []
        self.quotas: dict[str, int] = {}
        self.on_active: Callable[[FakeJob], None] | None = None
        self._scripts: dict[tuple[str, str], deque[JobScript]] = defaultdict(deque)
        self._refusals: dict[tuple[str, str], deque[str]] = defaultdict(deque)
        self._lock = threading.RLock()  # Parallel branches and Map iterations call from several threads
        self.solution_metrics: Callable[[str], dict[str, float] | None] = lambda _arn: dict(self.DEFAULT_METRICS)
        self.solution_recipes: dict[str, str] = {}
        self.list_page_size = 100

    def enforce_quotas(self, **limits: int) -> None:
        unknown = set(limits) - set(self.DEFAULT_QUOTAS)
        assert not unknown, f"no quota for {sorted(unknown)}; kinds: {sorted(self.DEFAULT_QUOTAS)}"
        self.quotas.update(limits or self.DEFAULT_QUOTAS)

    def in_progress(self, kind: str, at: float | None = None) -> list[FakeJob]:
        """Jobs of `kind` created and not yet ended at `at` (default: now)."""
        moment = self.clock.seconds if at is None else at
        return [j for j in self.jobs if j.kind == kind and j.created_at <= moment < j.ends_at]

    def most_in_progress(self, kind: str) -> int:
        """The most jobs of `kind` that were in progress at once, over the jobs created so far."""
        return max((len(self.in_progress(kind, job.created_at)) for job in self.jobs if job.kind == kind), default=0)

    def script(self, kind: str, *scripts: JobScript, name_prefix: str = "") -> None:
        assert kind in self._RUNNING, kind
        self._scripts[(kind, name_prefix)].extend(scripts)

    def refuse(
        self, operation: str, code: str = "ResourceInUseException", times: int = 1, name_prefix: str = ""
    ) -> None:
        self._refusals[(operation, name_prefix)].extend([code] * times)

    @staticmethod
    def _scripted(queues: Mapping[tuple[str, str], deque], what: str, name: str) -> deque | None:
        """The queue for `what` (a kind or operation) whose name prefix matches `name`, the longest first."""
        for (key, prefix), queue in sorted(queues.items(), key=lambda item: -len(item[0][1])):
            if key == what and queue and name.startswith(prefix):
                return queue
        return None

    def job(self, kind: str, index: int = 0) -> FakeJob:
        return [j for j in self.jobs if j.kind == kind][index]

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._handle(operation, params)

    def _handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("jobName") or params.get("name") or "")
        refusals = self._scripted(self._refusals, operation, name)
        if refusals:
            code = refusals.popleft()
            raise ServiceError(code, f"Scripted refusal of {operation}")
        if operation in self._CREATE:
            return self._create(operation, params)
        if operation in self._DESCRIBE:
            return self._describe(operation, params)
        if operation in self._LIST:
            return self._list(operation, params)
        if operation == "GetSolutionMetrics":
            arn = params["solutionVersionArn"]
            metrics = self.solution_metrics(arn)
            return {"solutionVersionArn": arn, **({"metrics": metrics} if metrics is not None else {})}
        raise ServiceError("InvalidInputException", f"FakePersonalize does not implement {operation}")

    def _create(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        kind, arn_key, name_key = self._CREATE[operation]
        name = params[name_key]
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}", name):
            raise ServiceError("InvalidInputException", f"1 validation error: {name_key} {name!r} is not a valid name")
        if any(j.kind == kind and j.name == name for j in self.jobs):
            raise ServiceError("ResourceAlreadyExistsException", f"{name} already exists")
        self._refuse_mode(kind, params)
        quota = self.quotas.get(kind)
        if quota is not None and len(self.in_progress(kind)) >= quota:
            raise ServiceError(
                "LimitExceededException", f"{operation}: {quota} {kind} jobs are already in progress (quota {quota})"
            )
        prefix = f"arn:aws:personalize:{self.region}:{self.account}"
        if kind == "train":
            arn = f"{params.get('solutionArn')}/{hashlib.md5(name.encode()).hexdigest()[:8]}"
        else:
            arn = f"{prefix}:{self._ARN_TYPES[kind]}/{name}"
        scripts = self._scripted(self._scripts, kind, name)
        script = scripts.popleft() if scripts else self.default_script
        self.jobs.append(FakeJob(kind, arn, name, dict(params), self.clock.seconds, script))
        return {arn_key: arn}

    def status_now(self, job: FakeJob) -> str:
        """The job's status as Personalize reports it now (no side effect: Describe's detection is its own)."""
        now = self.clock.seconds
        pending, running = self._RUNNING[job.kind]
        if now >= job.ends_at:
            return job.script.status
        return pending if now - job.created_at < min(60.0, job.script.duration / 10) else running

    def _active(self, kind: str, key: str, value: Any, **request: Any) -> list[FakeJob]:
        """The ACTIVE jobs of `kind` whose request had `key` = `value` (and every item of `request`)."""
        return [
            j for j in self.jobs
            if j.kind == kind and j.request.get(key) == value and self.status_now(j) == "ACTIVE"
            and all(j.request.get(k, "FULL") == v for k, v in request.items())
        ]  # fmt: skip

    def _refuse_mode(self, kind: str, params: dict[str, Any]) -> None:
        if kind == "import" and params.get("importMode") == "INCREMENTAL":
            if not self._active("import", "datasetArn", params.get("datasetArn")):
                raise ServiceError("InvalidInputException", self.FIRST_IMPORT_MESSAGE)
        if kind == "train" and params.get("trainingMode") == "UPDATE":
            solution = params.get("solutionArn")
            recipe = self.solution_recipes.get(str(solution))
            if recipe is not None and recipe.rsplit("/", 1)[-1] not in self.UPDATE_RECIPES:
                raise ServiceError("InvalidInputException", self.UPDATE_MESSAGE)
            if not self._active("train", "solutionArn", solution, trainingMode="FULL"):
                raise ServiceError("InvalidInputException", self.UPDATE_MESSAGE)

    def _list(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        kind, key, result_key, fields = self._LIST[operation]
        arn_key = "solutionVersionArn" if kind == "train" else "datasetImportJobArn"
        # Newest first, as Personalize lists them.
        jobs = [j for j in reversed(self.jobs) if j.kind == kind and params.get(key) in (None, j.request.get(key))]
        start = int(params.get("nextToken") or 0)
        size = min(int(params.get("maxResults") or 100), self.list_page_size)
        page = [
            {
                arn_key: j.arn,
                **({"jobName": j.name} if kind == "import" else {}),
                "status": self.status_now(j),
                **{field: j.request.get(field, default) for field, default in fields.items()},
                "creationDateTime": VirtualClock.iso(self.clock.start + _datetime.timedelta(seconds=j.created_at)),
            }
            for j in jobs[start : start + size]
        ]
        more = start + size < len(jobs)
        return {result_key: page, **({"nextToken": str(start + size)} if more else {})}

    def _describe(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        arn_key, result_key = self._DESCRIBE[operation]
        job = next((j for j in self.jobs if j.arn == params[arn_key]), None)
        if job is None:
            raise ServiceError("ResourceNotFoundException", f"{params[arn_key]} does not exist")
        now = self.clock.seconds
        pending, running = self._RUNNING[job.kind]
        if now >= job.ends_at:
            status = job.script.status
            if job.detected_at is None:
                job.detected_at = now
                if status == "ACTIVE" and self.on_active is not None:
                    self.on_active(job)
        else:
            status = pending if now - job.created_at < min(60.0, job.script.duration / 10) else running
        body: dict[str, Any] = {
            arn_key: job.arn,
            "status": status,
            # Timestamps as state data holds them (moto would pass Python datetimes through).
            "creationDateTime": VirtualClock.iso(self.clock.start + _datetime.timedelta(seconds=job.created_at)),
            "lastUpdatedDateTime": VirtualClock.iso(self.clock.now()),
        }
        body["name" if job.kind == "train" else "jobName"] = job.name
        if now >= job.ends_at and job.script.failure_reason is not None:
            body["failureReason"] = job.script.failure_reason
        if job.kind == "train":
            body["solutionArn"] = job.request.get("solutionArn")
            body["trainingMode"] = job.request.get("trainingMode", "FULL")
        if job.kind == "train" and status == "ACTIVE":
            hours = job.script.training_hours
            body["trainingHours"] = hours if hours is not None else round(job.script.duration / 3600, 3)
        return {result_key: body}


BatchAnswer = Callable[["FakeJob", dict[str, Any]], dict[str, Any]]
"""(job, one input line) -> the rest of its output line: {"output": {...}, "error": None} or {"error": "..."}."""


def default_batch_answer(job: "FakeJob", request: dict[str, Any]) -> dict[str, Any]:
    """Deterministic answers shaped like Personalize's: items (with scores) for a user or an item of a batch
    inference job, users for an item or an attribute query of a batch segment job."""
    count = int(job.request.get("numResults") or 25)
    seed = int(hashlib.md5(json.dumps(request, sort_keys=True).encode()).hexdigest()[:6], 16)
    ids = [str(seed % 100000 + rank) for rank in range(1, count + 1)]
    if job.kind == "segment":
        return {"output": {"recommendedUsers": ids}, "error": None}
    return {"output": {"recommendedItems": ids, "scores": [round(0.9**rank, 4) for rank in range(count)]}, "error": None}


class BatchOutputWriter:
    """`FakePersonalize.on_active` for batch jobs: writes the job's output into moto S3 as Personalize does,
    `<output path><input file name>.out` for each input file (the job's input path is one file or a prefix),
    one line per input line: `{"input": <the line>, "output": ..., "error": ...}`, or, for an item-attribute
    query of a segment job, `{"itemAttributes": <the query>, "output": ...}` (that recipe's output has no
    `input`: Personalize developer guide, "Batch segment job output format examples").

    `answer` decides each line; `drop` names input files (base names) whose .out the job does not write.
    `written` lists the keys written, in order.
    """

    def __init__(self, s3: Any, *, answer: BatchAnswer = default_batch_answer, drop: frozenset[str] = frozenset()):
        self.s3, self.answer, self.drop = s3, answer, drop
        self.written: list[str] = []

    @staticmethod
    def _split(uri: str) -> tuple[str, str]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return bucket, key

    @staticmethod
    def _key(job: "FakeJob", request: dict[str, Any]) -> dict[str, Any]:
        if job.kind == "segment" and "itemAttributes" in request:
            return {"itemAttributes": request["itemAttributes"]}
        return {"input": request}

    def __call__(self, job: "FakeJob") -> None:
        if job.kind not in ("batch", "segment"):
            return
        in_bucket, in_path = self._split(job.request["jobInput"]["s3DataSource"]["path"])
        out_bucket, out_prefix = self._split(job.request["jobOutput"]["s3DataDestination"]["path"])
        if in_path.endswith("/") or not in_path:
            listed = self.s3.list_objects_v2(Bucket=in_bucket, Prefix=in_path).get("Contents", [])
            keys = [o["Key"] for o in listed if not o["Key"].endswith("/")]
        else:
            keys = [in_path]
        for key in keys:
            name = key.rsplit("/", 1)[-1]
            if name in self.drop:
                continue
            lines = self.s3.get_object(Bucket=in_bucket, Key=key)["Body"].read().decode("utf-8").splitlines()
            body = "".join(
                json.dumps({**self._key(job, request), **self.answer(job, request)}) + "\n"
                for request in (json.loads(line) for line in lines if line.strip())
            )
            out_key = f"{out_prefix}{name}.out"
            self.s3.put_object(Bucket=out_bucket, Key=out_key, Body=body.encode("utf-8"))
            self.written.append(out_key)


@dataclass
class GlueScript:
    """How one Glue job run ends: after `duration` simulated seconds, in `state` (SUCCEEDED, FAILED, ...)."""

    duration: float = 600.0
    state: str = "SUCCEEDED"
    error_message: str | None = None
    dpu_seconds: float | None = None  # reported as DPUSeconds (Glue does for auto-scaling and Flex runs)


class FakeGlue:
    """Scripted Glue for `glue:startJobRun.sync`: StartJobRun starts a run, GetJobRun waits (on the virtual
    clock) until it ends and reports its scripted state."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.default_script = GlueScript()
        self.runs: list[dict[str, Any]] = []
        self._scripts: deque[GlueScript] = deque()
        # Called with the StartJobRun parameters, before the run starts (e.g. to start another execution).
        self.on_start: Callable[[dict[str, Any]], None] | None = None
        self.worker_type, self.number_of_workers, self.execution_class = "G.1X", 2, "STANDARD"

    def script(self, *scripts: GlueScript) -> None:
        self._scripts.extend(scripts)

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "StartJobRun":
            if self.on_start is not None:
                self.on_start(params)
            script = self._scripts.popleft() if self._scripts else self.default_script
            run_id = f"jr_{hashlib.sha256(str(len(self.runs)).encode()).hexdigest()}"
            self.runs.append({"Id": run_id, "params": dict(params), "started": self.clock.seconds, "script": script})
            return {"JobRunId": run_id}
        if operation == "GetJobRun":
            run = next(r for r in self.runs if r["Id"] == params["RunId"])
            script: GlueScript = run["script"]
            self.clock.sleep_until(run["started"] + script.duration)
            job_run = {
                "Id": run["Id"],
                "JobName": params["JobName"],
                "JobRunState": script.state,
                "Arguments": run["params"].get("Arguments", {}),
                # Epoch milliseconds, as the Glue integration's output shows them.
                "StartedOn": int((self.clock.start.timestamp() + run["started"]) * 1000),
                "CompletedOn": int(self.clock.now().timestamp() * 1000),
                "ExecutionTime": int(script.duration),
                # The job's configured capacity, as GetJobRun reports it.
                "WorkerType": self.worker_type,
                "NumberOfWorkers": self.number_of_workers,
                "ExecutionClass": self.execution_class,
            }
            if script.dpu_seconds is not None:
                job_run["DPUSeconds"] = script.dpu_seconds
            if script.error_message is not None:
                job_run["ErrorMessage"] = script.error_message
            return {"JobRun": job_run}
        raise ServiceError("InvalidInputException", f"FakeGlue does not implement {operation}")


def function_error(error: BaseException, request_id: str) -> dict[str, Any]:
    """A raised exception as the Python runtime (awslambdaric `make_error`) reports it: errorMessage, errorType,
    requestId and stackTrace (the formatted frames, file paths included), in that order."""
    frames = traceback.extract_tb(error.__traceback__)
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


class FakeLambda:
    """In-process Lambda handlers for `lambda:invoke` (moto's own Lambda needs Docker).

    `register(name_or_arn, handler, memory_mb=, timeout_seconds=)`: `handler(event, context)` answers invocations
    of that function, matched by full ARN or by function name (any qualifier ignored). The context has what
    Lambda's has and Powertools reads (function_name, invoked_function_arn, memory_limit_in_mb, aws_request_id,
    get_remaining_time_in_millis). An exception in the handler becomes a function error (`Unhandled`, payload
    as the runtime writes it, `function_error`), which the interpreter raises as `<errorType>` with that payload
    as the cause.

    Invocations of one registered handler run one at a time, as in one execution environment (Map iterations
    and a Distributed Map's children invoke from several threads; a handler's module state, such as a cached
    client or Powertools' logger keys, is per environment).
    """

    def __init__(self, clock: VirtualClock | None = None) -> None:
        self.clock = clock
        self.handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self.invocations: list[tuple[str, Any]] = []
        self._settings: dict[str, tuple[int, int]] = {}
        self._environments: dict[str, threading.Lock] = {}

    def register(
        self, name_or_arn: str, handler: Callable[[Any, Any], Any], *, memory_mb: int = 128, timeout_seconds: int = 60
    ) -> None:
        self.handlers[name_or_arn] = handler
        self._settings[name_or_arn] = (memory_mb, timeout_seconds)
        self._environments[name_or_arn] = threading.Lock()

    def _key_for(self, function: str) -> str:
        name = function.split(":function:")[-1].split(":")[0]
        for key in (function, function.rsplit(":", 1)[0] if function.count(":") > 6 else function, name):
            if key in self.handlers:
                return key
        raise ServiceError("ResourceNotFoundException", f"Function not found: {function} (no handler registered)", 404)

    def _handler_for(self, function: str) -> Callable[[Any, Any], Any]:
        return self.handlers[self._key_for(function)]

    def _context(self, function: str, key: str) -> Any:
        memory_mb, timeout_seconds = self._settings.get(key, (128, 60))
        name = function.split(":function:")[-1].split(":")[0]
        arn = function if function.startswith("arn:") else f"arn:aws:lambda:{DEFAULT_REGION}:{ACCOUNT}:function:{name}"
        clock, started = self.clock, self.clock.seconds if self.clock is not None else 0.0

        def remaining_millis() -> int:
            elapsed = clock.seconds - started if clock is not None else 0.0
            return int((timeout_seconds - elapsed) * 1000)

        return types.SimpleNamespace(
            function_name=name,
            function_version="$LATEST",
            invoked_function_arn=arn,
            memory_limit_in_mb=memory_mb,
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{name}",
            log_stream_name="offline",
            get_remaining_time_in_millis=remaining_millis,
        )

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation != "Invoke":
            raise ServiceError("InvalidRequestContentException", f"FakeLambda does not implement {operation}")
        key = self._key_for(params["FunctionName"])
        handler = self.handlers[key]
        raw = params.get("Payload") or b"{}"
        event = json.loads(raw.decode() if isinstance(raw, (bytes, bytearray)) else raw)
        self.invocations.append((params["FunctionName"], event))
        response: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
        context = self._context(params["FunctionName"], key)
        with self._environments[key]:
            try:
                result = handler(event, context)
            except Exception as error:  # noqa: BLE001 - a handler's failure is the function's error, as in Lambda
                result = function_error(error, context.aws_request_id)
                response["FunctionError"] = "Unhandled"
        body = json.dumps(result).encode()  # the runtime's own separators (", " and ": ")
        response["Payload"] = StreamingBody(io.BytesIO(body), len(body))
        return response

    def invocations_of(self, name_or_arn: str) -> list[Any]:
        """The events of one function's invocations, in order (matched like `register`)."""
        key = self._key_for(name_or_arn)
        return [event for function, event in self.invocations if self._key_for(function) == key]


# --------------------------------------------------------------------------------------------------------------
# Harness
# --------------------------------------------------------------------------------------------------------------


@dataclass
class ExecutionResult:
    arn: str
    name: str
    status: str  # SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    output: Any
    error: str | None
    cause: str | None
    events: list[dict[str, Any]] = field(repr=False)

    @property
    def transitions(self) -> int:
        """State transitions as Step Functions bills them: one per state entered."""
        return sum(1 for e in self.events if e["type"].endswith("StateEntered"))

    @property
    def states_entered(self) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.events if e["type"].endswith("StateEntered")]


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
        self._deadlines: dict[int, float] = {}
        self._child_event_managers: list[Any] = []
        self._sfn: Any = None

    # Lifecycle ------------------------------------------------------------------------------------------------
    def __enter__(self) -> "OfflineStepFunctions":
        try:
            return self._enter()
        except BaseException:
            self._stack.close()
            raise

    def _enter(self) -> "OfflineStepFunctions":
        global _ACTIVE_CLOCK
        stack = self._stack
        stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        # The interpreter's threads and their waits for each other, known to the virtual clock (see VirtualClock).
        if _ACTIVE_CLOCK is not None:
            raise RuntimeError("one OfflineStepFunctions at a time: another one is in use in this process")
        _ACTIVE_CLOCK = self.clock
        stack.callback(self._release_clock)
        for module in (execute_state_module, branch_worker_module, branches_decl_module, inline_iteration_module, map_job_module):
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
        stack.enter_context(mock.patch.object(json_path_module, "parse", functools.lru_cache(maxsize=4096)(json_path_module.parse)))
        stack.enter_context(mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(_parse_with_cached_tree)))
        # create_state_machine checks the syntax only; building the evaluation components is left to the
        # execution (the resolved definitions are checked by asl-validator in the tests).
        stack.enter_context(
            mock.patch.object(
                parser_models_module.StepFunctionsParserBackend, "_validate_definition", staticmethod(_syntax_tree)
            )
        )
        stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", self._wait_interval))
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
        # The harness's own client comes from another session, so its calls are neither faked nor logged.
        self._sfn = _harness_session().client("stepfunctions", region_name=self.region)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.close()

    def _release_clock(self) -> None:
        global _ACTIVE_CLOCK
        self.clock.close()
        _ACTIVE_CLOCK = None

    # Running --------------------------------------------------------------------------------------------------
    def create_state_machine(self, definition: Mapping[str, Any] | str, *, name: str = "offline-state-machine") -> str:
        text = definition if isinstance(definition, str) else json.dumps(definition)
        return self._sfn.create_state_machine(
            name=name, definition=text, roleArn=f"arn:aws:iam::{ACCOUNT}:role/offline-state-machine"
        )["stateMachineArn"]

    def start(self, state_machine_arn: str, *, name: str | None = None, input: Any = None) -> str:
        """Starts an execution and returns its ARN once it has ended (executions run synchronously)."""
        return self._sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name or str(uuid.uuid4()), input=json.dumps(input or {})
        )["executionArn"]

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
        return [e["stateEnteredEventDetails"]["name"] for e in self.child_events() if e["type"].endswith("StateEntered")]

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
        fake = {"personalize": self.personalize, "glue": self.glue, "lambda": self.lambdas}.get(service)
        if scripted is None and fake is None:
            return None  # moto answers (e.g. stepfunctions ListExecutions)
        request_id = str(uuid.uuid4())
        try:
            body = scripted(params) if scripted is not None else fake.handle(operation, params)
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
        deadline = self._deadlines.get(id(env))  # set for top-level executions; Map/Parallel frames have none
        if deadline is not None and self.clock.seconds + wait_seconds >= deadline:
            self.clock.sleep_until(deadline)
            env.set_timed_out()
            return
        self.clock.sleep(wait_seconds)

    def _program_eval(self) -> Callable[[Any, Any], None]:
        """Program.eval with TimeoutSeconds measured on the virtual clock (moto measures real seconds)."""
        harness = self

        def evaluate(program: Any, env: Any) -> None:
            timeout = program.timeout_seconds.timeout_seconds if program.timeout_seconds else None
            if timeout is not None and not env.is_frame():
                harness._deadlines[id(env)] = harness.clock.seconds + timeout
            env.next_state_name = program.start_at.start_at_name
            # moto runs the program in a thread and joins it with the timeout in real seconds; here the
            # Wait patch enforces the deadline, so the program runs in the caller's thread.
            super(program_module.Program, program).eval(env)

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
                    event_details=EventDetails(
                        mapRunFailedEventDetails=MapRunFailedEventDetails(
                            error=error, cause="The specified tolerated failure threshold was exceeded"
                        )
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
    every execution."""
    tree = _syntax_tree(definition)
    if '"Parallel"' in definition:
        return Preprocessor().visit(tree), tree
    if definition not in _PROGRAMS:
        _PROGRAMS[definition] = Preprocessor().visit(tree)
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
    """`personalize` -> `Personalize`: the service part of aws-sdk error names (`Personalize.ResourceInUseException`)."""
    lowered = service_name.lower()
    if lowered in _SDK_ERROR_PREFIXES:
        return _SDK_ERROR_PREFIXES[lowered]
    return _BOTOCORE.get_service_model(lowered).service_id.replace(" ", "")
