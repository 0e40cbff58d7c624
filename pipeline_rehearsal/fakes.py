"""The scripted stand-ins for Personalize, Glue and Lambda that answer the interpreter's tasks.

Part of the offline harness: see the package docstring (`pipeline_rehearsal/__init__.py`).
"""

from __future__ import annotations

import datetime as _datetime
import hashlib
import io
import json
import re
import threading
import traceback
import types
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping

# First of the third-party imports: it refuses a moto other than the one whose internals are patched here.
import pipeline_rehearsal.moto_pin  # noqa: F401  (imported for its check, see the line above)
from botocore.response import StreamingBody
from pipeline_rehearsal.clock import VirtualClock
from pipeline_rehearsal.cloud import ACCOUNT, DEFAULT_REGION


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
    _RUNNING = {
        "import": ("CREATE PENDING", "CREATE IN_PROGRESS"),
        "train": ("CREATE PENDING", "CREATE IN_PROGRESS"),
        "batch": ("PENDING", "IN PROGRESS"),
        "segment": ("PENDING", "IN PROGRESS"),
    }
    _ARN_TYPES = {"import": "dataset-import-job", "batch": "batch-inference-job", "segment": "batch-segment-job"}
    # CreateDatasetImportJob / CreateSolutionVersion, as Personalize words the refusals.
    FIRST_IMPORT_MESSAGE = (
        "If you haven't imported bulk records into the dataset previously, you can only specify FULL."
    )
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


def default_batch_answer(job: FakeJob, request: dict[str, Any]) -> dict[str, Any]:
    """Deterministic answers shaped like Personalize's: items (with scores) for a user or an item of a batch
    inference job, users for an item or an attribute query of a batch segment job."""
    count = int(job.request.get("numResults") or 25)
    seed = int(hashlib.md5(json.dumps(request, sort_keys=True).encode()).hexdigest()[:6], 16)
    ids = [str(seed % 100000 + rank) for rank in range(1, count + 1)]
    if job.kind == "segment":
        return {"output": {"recommendedUsers": ids}, "error": None}
    return {
        "output": {"recommendedItems": ids, "scores": [round(0.9**rank, 4) for rank in range(count)]},
        "error": None,
    }


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
    def _key(job: FakeJob, request: dict[str, Any]) -> dict[str, Any]:
        if job.kind == "segment" and "itemAttributes" in request:
            return {"itemAttributes": request["itemAttributes"]}
        return {"input": request}

    def __call__(self, job: FakeJob) -> None:
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
            script = run["script"]
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
