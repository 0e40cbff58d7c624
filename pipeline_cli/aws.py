"""All AWS I/O of the CLI: one `boto3.Session`, a few calls, errors turned into `CliError`s.

The session is built once (from --profile/--region) and passed in, so tests inject a moto or
Stubber-backed one and nothing else in the CLI touches boto3. Clients use botocore's *standard*
retry mode: throttling and transient errors are retried with backoff and only surface (as a
one-line error) when the retries are used up. An endpoint that cannot be reached is different:
waiting does not help, so connect and read time-outs are short and a connection failure is
tried only CONNECTION_ATTEMPTS times (botocore's own retries would take 20-60 s to give up).
"""

from __future__ import annotations

import json

import os
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.parsers import ResponseParserError
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from .children import map_run_arns, merged_history
from .errors import CliError, ExitCode, translate_botocore_error, translate_client_error
from .outputs import Pipeline, pipeline_from_outputs

__all__ = ["CLIENT_CONFIG", "MAX_ATTEMPTS", "CONNECTION_ATTEMPTS", "make_session", "Gateway", "HistoryReader"]

MAX_ATTEMPTS = 8
"""Attempts per call, the first included (standard mode defaults to 3): a poll loop can afford patience."""
CONNECTION_ATTEMPTS = 2
"""Attempts per call when the endpoint cannot be connected to or does not answer in time."""
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 15
"""Step Functions and CloudFormation answer these calls in well under a second."""
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    user_agent_extra="pipeline-cli",
)

_IAM_PREFIX = {"stepfunctions": "states", "cloudformation": "cloudformation"}
ErrorHandlers = Mapping[str, Callable[[ClientError], CliError]]


def session_region(region: str | None) -> str | None:
    """--region, else `AWS_REGION` when `AWS_DEFAULT_REGION` is not set: the AWS CLI v2 and the
    other SDKs read `AWS_REGION`, the pinned botocore only `AWS_DEFAULT_REGION` and the profile."""
    if region:
        return region
    if os.environ.get("AWS_DEFAULT_REGION"):
        return None
    return os.environ.get("AWS_REGION") or None


def make_session(profile: str | None, region: str | None) -> boto3.Session:
    """The one session of a CLI run; a bad --profile is a usage error, not a traceback."""
    try:
        return boto3.Session(profile_name=profile, region_name=session_region(region))
    except BotoCoreError as exc:
        raise translate_botocore_error(exc) from exc


def give_up_on_unreachable_endpoints(attempts: int, caught_exception: Exception | None = None, **_: Any) -> None:
    """A `needs-retry` handler that runs before the retry mode's own: after CONNECTION_ATTEMPTS
    failed connections (or read time-outs) the error goes to the caller instead of a retry."""
    if isinstance(caught_exception, (ConnectionError, ReadTimeoutError)) and attempts >= CONNECTION_ATTEMPTS:
        raise caught_exception


class Gateway:
    """The CLI's AWS calls, each mapping the errors it expects to a clear `CliError`."""

    def __init__(self, session: boto3.Session) -> None:
        self._session = session
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str | None:
        region = self._session.region_name
        return str(region) if region else None

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            try:
                client = self._session.client(service, config=CLIENT_CONFIG)
            except BotoCoreError as exc:  # no region, partial credentials, ...
                raise translate_botocore_error(exc) from exc
            client.meta.events.register_first("needs-retry", give_up_on_unreachable_endpoints)
            self._clients[service] = client
        return self._clients[service]

    def _call(
        self, service: str, operation: str, handlers: ErrorHandlers | None = None, **kwargs: Any
    ) -> Mapping[str, Any]:
        client = self._client(service)
        method = getattr(client, xform_name(operation))
        try:
            response: Mapping[str, Any] = method(**kwargs)
            return response
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if handlers and code in handlers:
                raise handlers[code](exc) from exc
            raise translate_client_error(exc, f"{_IAM_PREFIX[service]}:{operation}") from exc
        except BotoCoreError as exc:
            raise translate_botocore_error(exc) from exc
        except ResponseParserError as exc:  # an HTML page or nothing: a proxy or a wrong endpoint
            raise CliError(
                f"{client.meta.endpoint_url} answered with something that is not an AWS response; "
                "check --region, AWS_ENDPOINT_URL and any proxy",
                ExitCode.AWS,
            ) from exc

    # --- CloudFormation -------------------------------------------------------------------

    def find_pipeline(self, stack_name: str) -> Pipeline:
        """The pipeline deployed as `stack_name`, from the stack's outputs."""

        def not_found(exc: ClientError) -> CliError:
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if "does not exist" in message:
                where = f" in region {self.region}" if self.region else ""
                return CliError(
                    f"stack {stack_name!r} not found{where} (check --stack, --region, --profile)", ExitCode.USAGE
                )
            return CliError(f"cloudformation:DescribeStacks rejected {stack_name!r}: {message}", ExitCode.USAGE)

        response = self._call("cloudformation", "DescribeStacks", {"ValidationError": not_found}, StackName=stack_name)
        stacks = response.get("Stacks") or []
        if not stacks:
            raise CliError(f"stack {stack_name!r} not found", ExitCode.USAGE)
        stack = stacks[0]
        return pipeline_from_outputs(stack_name, stack.get("Outputs") or [], stack.get("StackStatus"))

    # --- Step Functions -------------------------------------------------------------------

    def start_execution(
        self, state_machine_arn: str, name: str | None, execution_input: Mapping[str, Any] | None = None
    ) -> Mapping[str, Any]:
        body = json.dumps(dict(execution_input or {}))
        kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "input": body}
        if name:
            kwargs["name"] = name
        handlers = {
            "ExecutionAlreadyExists": lambda exc: CliError(
                f"an execution named {name!r} already exists (names stay taken for 90 days); pick another --name",
                ExitCode.USAGE,
            ),
            "InvalidName": lambda exc: CliError(f"invalid execution name {name!r}: {_message(exc)}", ExitCode.USAGE),
            "StateMachineDoesNotExist": lambda exc: CliError(
                f"the stack's state machine does not exist: {state_machine_arn}", ExitCode.USAGE
            ),
            "StateMachineDeleting": lambda exc: CliError(
                f"the state machine is being deleted: {state_machine_arn}", ExitCode.USAGE
            ),
        }
        return self._call("stepfunctions", "StartExecution", handlers, **kwargs)

    def describe_execution(self, execution_arn: str) -> Mapping[str, Any]:
        handlers = {
            "ExecutionDoesNotExist": lambda exc: CliError(f"no such execution: {execution_arn}", ExitCode.USAGE),
            "InvalidArn": lambda exc: CliError(f"not a valid execution ARN: {execution_arn}", ExitCode.USAGE),
        }
        return self._call("stepfunctions", "DescribeExecution", handlers, executionArn=execution_arn)

    def list_executions(self, state_machine_arn: str, limit: int) -> list[Mapping[str, Any]]:
        """The `limit` most recent executions, newest first (the API's order)."""
        handlers = {
            "StateMachineDoesNotExist": lambda exc: CliError(
                f"the stack's state machine does not exist: {state_machine_arn}", ExitCode.USAGE
            ),
        }
        found: list[Mapping[str, Any]] = []
        kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn}
        while len(found) < limit:
            kwargs["maxResults"] = min(1000, limit - len(found))
            page = self._call("stepfunctions", "ListExecutions", handlers, **kwargs)
            found.extend(page.get("executions") or [])
            token = page.get("nextToken")
            if not token:
                break
            kwargs["nextToken"] = token
        return found[:limit]

    def history_reader(self, execution_arn: str) -> HistoryReader:
        handlers = {
            "ExecutionDoesNotExist": lambda exc: CliError(f"no such execution: {execution_arn}", ExitCode.USAGE),
        }

        def get_page(**kwargs: Any) -> Mapping[str, Any]:
            return self._call("stepfunctions", "GetExecutionHistory", handlers, **kwargs)

        return HistoryReader(get_page, execution_arn)

    def run_history(self, execution_arn: str) -> RunHistory:
        """The run's history with its imports' and solutions' child executions folded in (`children.py`)."""
        return RunHistory(self, execution_arn)

    def map_run_executions(self, map_run_arn: str) -> list[str]:
        """The child executions of one Map Run (an import's or a solution's own history: one each)."""
        handlers = {
            "ResourceNotFound": lambda exc: CliError(f"no such Map Run: {map_run_arn}", ExitCode.USAGE),
        }
        found: list[str] = []
        kwargs: dict[str, Any] = {"mapRunArn": map_run_arn, "maxResults": 1000}
        while True:
            page = self._call("stepfunctions", "ListExecutions", handlers, **kwargs)
            found.extend(str(e["executionArn"]) for e in page.get("executions") or [])
            if not page.get("nextToken"):
                return found
            kwargs["nextToken"] = page["nextToken"]


class RunHistory:
    """A run's history and its own-history children's, each read incrementally (`HistoryReader`); `read()`
    returns them merged (`children.merged_history`): everything read so far."""

    def __init__(self, gateway: Gateway, execution_arn: str) -> None:
        self._gateway = gateway
        self._parent = gateway.history_reader(execution_arn)
        self._events: list[Mapping[str, Any]] = []
        self._children: dict[str, tuple[HistoryReader, list[Mapping[str, Any]]]] = {}
        self._map_runs_listed: set[str] = set()

    def read(self) -> list[dict[str, Any]]:
        self._events.extend(self._parent.fetch_new())
        for map_run in map_run_arns(self._events):
            if map_run in self._map_runs_listed:
                continue
            children = self._gateway.map_run_executions(map_run)
            # A Map Run lists its child once the child started: until then, look again on the next read.
            if children:
                self._map_runs_listed.add(map_run)
            for child in children:
                self._children.setdefault(child, (self._gateway.history_reader(child), []))
        for reader, events in self._children.values():
            events.extend(reader.fetch_new())
        return merged_history(self._events, [events for _, events in self._children.values()])


class HistoryReader:
    """Reads an execution's history incrementally, so a poll costs one small call, not the history.

    The first read pages forward through everything (`maxResults` 1000, `nextToken`). The API
    gives no token to resume after the last page, so later reads go *backwards*
    (`reverseOrder=True`), newest first, page by page until they reach an event already seen.
    Events are de-duplicated and returned in id order whatever order a backend returns them in
    (moto, for one, ignores `reverseOrder` and paging).
    """

    FIRST_PAGE_SIZE = 1000
    TAIL_PAGE_SIZE = 100

    def __init__(self, get_page: Callable[..., Mapping[str, Any]], execution_arn: str) -> None:
        self._get_page = get_page
        self._arn = execution_arn
        self.last_id = 0
        self.calls = 0

    def fetch_new(self) -> list[Mapping[str, Any]]:
        """Events newer than the last call's, oldest first."""
        events = self._read_all() if self.last_id == 0 else self._read_tail()
        fresh = {int(e["id"]): e for e in events if int(e["id"]) > self.last_id}
        new = [fresh[i] for i in sorted(fresh)]
        if new:
            self.last_id = int(new[-1]["id"])
        return new

    def _page(self, **kwargs: Any) -> Mapping[str, Any]:
        # Names, types and times are all the timeline needs; leaving out every state's input and
        # output keeps a long run's history small. Error, cause and output come from describe.
        self.calls += 1
        return self._get_page(executionArn=self._arn, includeExecutionData=False, **kwargs)

    def _read_all(self) -> list[Mapping[str, Any]]:
        events: list[Mapping[str, Any]] = []
        kwargs: dict[str, Any] = {"maxResults": self.FIRST_PAGE_SIZE}
        while True:
            page = self._page(**kwargs)
            events.extend(page.get("events") or [])
            token = page.get("nextToken")
            if not token:
                return events
            kwargs["nextToken"] = token

    def _read_tail(self) -> list[Mapping[str, Any]]:
        events: list[Mapping[str, Any]] = []
        kwargs: dict[str, Any] = {"maxResults": self.TAIL_PAGE_SIZE, "reverseOrder": True}
        while True:
            page = self._page(**kwargs)
            batch = page.get("events") or []
            events.extend(batch)
            token = page.get("nextToken")
            if not token or any(int(e["id"]) <= self.last_id for e in batch):
                return events
            kwargs["nextToken"] = token


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))

