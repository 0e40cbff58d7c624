"""The real pipeline stack's state machine, executed end to end offline, post-processing included.

The definition is the one of the default app's pipeline stack (`pipeline_template`), resolved with the data
stack's outputs, and runs in the offline harness (`tests/support/sfn_offline.py`): Glue and Personalize are
scripted fakes on a virtual clock, while the Lambda functions are the REAL handlers, found from the template
(each function's `Handler` string, memory, timeout and environment) and invoked in-process under the fake ARNs
the definition uses. S3, SNS and SQS are moto's.

What the fakes simulate, so that post-processing has real data to work on:
- Glue (StartJobRun): writes the run's interactions and its batch-input JSON-lines file(s) into the
  transformed bucket, `runs/<run>/batch-input/<file>`.
- Personalize (the first DescribeBatchInferenceJob that reports ACTIVE): reads every file under the job's
  `jobInput` path and writes `<file>.out` under its `jobOutput` path, one output line per input line, the way
  the batch inference job does. A scenario decides each user's line (recommendations or an error) and may
  leave files out.
The success notice goes to moto SNS (the alert topic created under the definition's fake ARN) and is read
back from an SQS queue subscribed to it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import importlib
import json
import threading
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import boto3
import pytest

from lambda_src.model_gate import handler as model_gate_handler
from lambda_src.postprocess import handler as postprocess_handler
from lambda_src.postprocess.manifest import summary_of
from lambda_src.run_names.naming import run_names
from stacks.app_factory import PipelineApp
from stacks.personalize import solution_arn_parameter_name
from tests.support.orchestration_stack import SynthesizedOrchestration, orchestration_inputs
from tests.support.sfn_offline import ACCOUNT, EPOCH, ExecutionResult, OfflineStepFunctions, ServiceError, VirtualClock
from tests.support.templates import logical_id_of

REGION = "us-east-1"
EXECUTION = "weekly-2026-01-04"
POST_PROCESS_STATES = [
    "Post-process: list output files",
    "Post-process: each output file",
    "Post-process: flatten file",
    "Post-process: account for the run",
    "Post-process: write manifest",
    "Post-process: accept the model version",
    "Post-process: publish completion event",
    "Post-process: announce success",
    "Post-process: done",
]
CSV_HEADER = "user_id,rank,item_id,score"


# ----------------------------------------------------------------------------------------------------------------
# The real template, resolved
# ----------------------------------------------------------------------------------------------------------------


def pipeline_of(app: PipelineApp, templates: dict[str, Any]) -> SynthesizedOrchestration:
    """The pipeline stack's state machine of `app` as the harness runs it (definition from its template)."""
    stack, data = app.pipeline_stack, app.data_stack
    logical_id = logical_id_of(stack.orchestration.state_machine)
    inputs = orchestration_inputs(
        stack,
        {
            "glue_job": stack.etl.job,
            "transformed_bucket": data.lake.transformed_bucket,
            "curated_bucket": data.lake.curated_bucket,
            "data_key": data.keys.data_key,
            "personalize_role": data.personalize_access.service_role,
            "dataset_arn": data.personalize.dataset_arn,
            "solution_arn_parameter": solution_arn_parameter_name(app.config, app.config.solutions[0].name),
            # What the data stack's parameter holds: the ARN of the solution it created.
            "solution_arn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/{data.personalize.solution_name}",
        },
    )
    return SynthesizedOrchestration(
        app.config,
        templates[stack.stack_name].to_json(),
        logical_id,
        inputs,
        other_templates={data.stack_name: templates[data.stack_name].to_json()},
        region=REGION,
    )


@pytest.fixture(scope="module")
def pipeline(default_app: PipelineApp, default_templates: dict[str, Any]) -> SynthesizedOrchestration:
    """The default app's pipeline stack's state machine as the harness runs it."""
    return pipeline_of(default_app, default_templates)


@dataclass(frozen=True)
class TemplateFunction:
    """One Lambda function of the template: what the harness needs to run its real handler in-process."""

    logical_id: str
    arn: str  # the fake ARN the resolved definition invokes
    handler: str  # e.g. postprocess.handler.process_file (asset root: lambda_src/)
    memory_mb: int
    timeout_seconds: int
    environment: dict[str, str]

    def python_handler(self) -> Callable[[Any, Any], Any]:
        module, _, name = self.handler.rpartition(".")
        return getattr(importlib.import_module(f"lambda_src.{module}"), name)


POST_PROCESS_FUNCTIONS = ("list", "process", "manifest")


def functions_of(pipeline: SynthesizedOrchestration, app: PipelineApp) -> dict[str, TemplateFunction]:
    """The functions the state machine invokes after preparing the run, by role, read from the template: the
    post-processing ones (list / process / manifest) and the model gate's (evaluate / accept / account)."""
    stack = app.pipeline_stack
    parts, gate = stack.post_processing, stack.model_gate
    result = {}
    roles = (
        ("list", parts.list_files),
        ("process", parts.process_file),
        ("manifest", parts.write_manifest),
        ("evaluate", gate.evaluate),
        ("accept", gate.accept),
        ("account", gate.account),
    )
    for role, construct in roles:
        logical_id = logical_id_of(construct.function)
        properties = pipeline.template["Resources"][logical_id]["Properties"]
        result[role] = TemplateFunction(
            logical_id=logical_id,
            arn=pipeline.cloud.arn(logical_id),
            handler=properties["Handler"],
            memory_mb=int(properties["MemorySize"]),
            timeout_seconds=int(properties["Timeout"]),
            environment={k: str(v) for k, v in pipeline.cloud.resolve(properties["Environment"]["Variables"]).items()},
        )
    return result


@pytest.fixture(scope="module")
def functions(pipeline: SynthesizedOrchestration, default_app: PipelineApp) -> dict[str, TemplateFunction]:
    return functions_of(pipeline, default_app)


@pytest.fixture(scope="module")
def alert_topic_arn(pipeline: SynthesizedOrchestration, default_app: PipelineApp) -> str:
    return pipeline.cloud.arn(logical_id_of(default_app.pipeline_stack.alerts.topic))


def accepted_versions_table(functions: dict[str, TemplateFunction]) -> str:
    """The accepted-version table's name, as the gate functions are given it (the data stack's table)."""
    return functions["evaluate"].environment[model_gate_handler.TABLE_ENV]


# ----------------------------------------------------------------------------------------------------------------
# Simulated Glue and Personalize
# ----------------------------------------------------------------------------------------------------------------

Recommend = Callable[[str, int], dict[str, Any]]  # (user id, numResults) -> the "output"/"error" part of a line


def items_for(user: str, count: int) -> tuple[list[str], list[float]]:
    """A deterministic recommender: MovieLens-like item ids and decreasing scores."""
    base = int(user) * 10
    return [str(base + rank) for rank in range(1, count + 1)], [round(0.9**rank, 4) for rank in range(count)]


def recommend_all(user: str, count: int) -> dict[str, Any]:
    items, scores = items_for(user, count)
    return {"output": {"recommendedItems": items, "scores": scores}, "error": None}


def error_for_all(user: str, count: int) -> dict[str, Any]:
    return {"error": f"Input user {user} not found in the solution version"}


@dataclass
class Scenario:
    """What Glue writes as batch input (file name -> user ids) and how Personalize answers it."""

    batch_input: dict[str, list[str]]
    recommend: Recommend = recommend_all
    drop_outputs: frozenset[str] = frozenset()  # input files whose .out the batch job does not write
    script: Callable[[OfflineStepFunctions], None] | None = None  # more scripting of the harness, before the run
    written_outputs: list[str] = field(default_factory=list)  # keys of the .out files written


@dataclass
class Run:
    """One executed run: the harness (after the execution ended), its result and the buckets' contents."""

    aws: OfflineStepFunctions
    result: ExecutionResult
    s3: Any
    curated: str
    transformed: str
    queue_url: str
    sqs: Any
    scenario: Scenario
    dynamodb: Any

    @property
    def run_id(self) -> str:
        return self.aws.glue.runs[0]["params"]["Arguments"]["--run_id"]

    @property
    def prefix(self) -> str:
        return f"runs/{self.run_id}/"

    def keys(self, under: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.curated, Prefix=self.prefix + under).get("Contents", [])
        return sorted(obj["Key"] for obj in listed)

    def text(self, key: str) -> str:
        return self.s3.get_object(Bucket=self.curated, Key=key)["Body"].read().decode("utf-8")

    def manifest(self) -> dict[str, Any]:
        return json.loads(self.text(self.prefix + "_manifest.json"))

    def notices(self) -> list[dict[str, Any]]:
        """SNS notifications delivered to the queue subscribed to the alert topic."""
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def invocations(self, function: TemplateFunction) -> list[dict[str, Any]]:
        return [event for arn, event in self.aws.lambdas.invocations if arn == function.arn]

    def s3_puts(self) -> list[str]:
        """Keys the handlers wrote (PutObject / CreateMultipartUpload), in call order."""
        return [
            c.params["Key"]
            for c in self.aws.calls
            if c.service == "s3" and c.operation in ("PutObject", "CreateMultipartUpload")
        ]


def _simulate_glue(aws: OfflineStepFunctions, s3: Any, transformed: str, scenario: Scenario) -> None:
    def on_start(params: dict[str, Any]) -> None:
        prefix = f"runs/{params['Arguments']['--run_id']}/"
        users = [user for file_users in scenario.batch_input.values() for user in file_users]
        interactions = "USER_ID,ITEM_ID,TIMESTAMP\n" + "".join(f"{u},{u}0,1162160236\n" for u in users)
        s3.put_object(Bucket=transformed, Key=f"{prefix}interactions/part-00000.csv", Body=interactions.encode())
        for name, file_users in scenario.batch_input.items():
            body = "".join(json.dumps({"userId": user}) + "\n" for user in file_users)
            s3.put_object(Bucket=transformed, Key=f"{prefix}batch-input/{name}", Body=body.encode())

    aws.glue.on_start = on_start


def _simulate_batch_output(aws: OfflineStepFunctions, s3: Any, scenario: Scenario) -> None:
    """Wraps the fake Personalize: when a batch job is first seen ACTIVE, its .out files appear."""
    fake = aws.personalize
    original = fake.handle
    written: set[str] = set()

    def split(uri: str) -> tuple[str, str]:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return bucket, prefix

    def handle(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        response = original(operation, params)
        if operation == "DescribeBatchInferenceJob" and response["batchInferenceJob"]["status"] == "ACTIVE":
            job = next(j for j in fake.jobs if j.arn == params["batchInferenceJobArn"])
            if job.arn not in written:
                written.add(job.arn)
                in_bucket, in_prefix = split(job.request["jobInput"]["s3DataSource"]["path"])
                out_bucket, out_prefix = split(job.request["jobOutput"]["s3DataDestination"]["path"])
                for obj in s3.list_objects_v2(Bucket=in_bucket, Prefix=in_prefix).get("Contents", []):
                    name = obj["Key"][len(in_prefix) :]
                    if name in scenario.drop_outputs:
                        continue
                    lines = s3.get_object(Bucket=in_bucket, Key=obj["Key"])["Body"].read().decode().splitlines()
                    out = ""
                    for line in lines:
                        request = json.loads(line)
                        answer = scenario.recommend(request["userId"], job.request["numResults"])
                        out += json.dumps({"input": request, **answer}) + "\n"
                    key = f"{out_prefix}{name}.out"
                    s3.put_object(Bucket=out_bucket, Key=key, Body=out.encode())
                    scenario.written_outputs.append(key)
        return response

    fake.handle = handle  # the harness looks the fake's handler up per call


def _clock_datetime(clock: VirtualClock) -> type[dt.datetime]:
    """`datetime` for the handlers' module: `now()` reads the virtual clock, like the rest of the run."""

    class ClockDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            moment = clock.now()
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

    return ClockDatetime


def _in_lambda(function: TemplateFunction, clock: VirtualClock) -> Callable[[Any, Any], Any]:
    """The real handler behind `function`, called with a context like Lambda's (Powertools reads it).

    One invocation at a time, as in one Lambda execution environment: the Map runs its iterations in threads,
    and the handlers' module state (Powertools' Metrics and Logger, the cached S3 client) is per environment.
    """
    handler = function.python_handler()
    environment = threading.Lock()

    def invoke(event: Any, harness_context: Any) -> Any:
        with environment:
            return call(event, harness_context)

    def call(event: Any, harness_context: Any) -> Any:
        started = clock.seconds
        context = types.SimpleNamespace(
            function_name=function.arn.rsplit(":", 1)[-1],
            memory_limit_in_mb=function.memory_mb,
            invoked_function_arn=function.arn,
            aws_request_id=harness_context.aws_request_id,
            get_remaining_time_in_millis=lambda: int((function.timeout_seconds - (clock.seconds - started)) * 1000),
        )
        return handler(event, context)

    return invoke


@contextlib.contextmanager
def executor(
    pipeline: SynthesizedOrchestration,
    functions: dict[str, TemplateFunction],
    alert_topic_arn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[Scenario], Run]]:
    """`execute(scenario)`: one full execution of the real state machine against that scenario."""
    # The functions share one environment (process-wide here, as each one's is in Lambda). The service name is
    # read once, when a handler module creates its Logger, so the functions' different names do not collide.
    environment = {"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
    for function in functions.values():
        for name, value in function.environment.items():
            if name != "POWERTOOLS_SERVICE_NAME":
                assert environment.setdefault(name, value) == value, f"{name} differs between the functions"
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    with pipeline.offline() as (aws, arn):
        # The handlers' client is cached per "execution environment": start from none, inside moto.
        monkeypatch.setattr(postprocess_handler, "_S3", None)
        monkeypatch.setattr(postprocess_handler, "datetime", _clock_datetime(aws.clock))
        monkeypatch.setattr(model_gate_handler, "_CLIENTS", {})
        for function in functions.values():
            aws.lambdas.register(function.arn, _in_lambda(function, aws.clock))
        # The test's own clients come from another session: their calls are neither faked nor logged.
        s3, sns, sqs = (_own_session().client(service, region_name=REGION) for service in ("s3", "sns", "sqs"))
        dynamodb = _own_session().client("dynamodb", region_name=REGION)
        create_accepted_versions_table(dynamodb, accepted_versions_table(functions))
        curated, transformed = pipeline.expected("curated_bucket"), pipeline.expected("transformed_bucket")
        for bucket in (curated, transformed):
            s3.create_bucket(Bucket=bucket)
        topic = sns.create_topic(Name=alert_topic_arn.rsplit(":", 1)[-1])["TopicArn"]
        assert topic == alert_topic_arn
        queue_url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

        def run(scenario: Scenario) -> Run:
            _simulate_glue(aws, s3, transformed, scenario)
            _simulate_batch_output(aws, s3, scenario)
            if scenario.script is not None:
                scenario.script(aws)
            result = aws.run(arn, name=EXECUTION)
            return Run(aws, result, s3, curated, transformed, queue_url, sqs, scenario, dynamodb)

        yield run


@pytest.fixture
def execute(
    pipeline: SynthesizedOrchestration,
    functions: dict[str, TemplateFunction],
    alert_topic_arn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[Scenario], Run]]:
    with executor(pipeline, functions, alert_topic_arn, monkeypatch) as run:
        yield run


def create_accepted_versions_table(dynamodb: Any, name: str) -> None:
    """The data stack's table in moto, with the key schema the stack gives it (checked in test_quality_gate)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@functools.lru_cache(maxsize=1)
def _own_session() -> boto3.session.Session:
    """One session for the test's clients (a new session reloads the service models, ~0.3 s)."""
    return boto3.session.Session()


def expected_names(pipeline: SynthesizedOrchestration) -> dict[str, str]:
    execution_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{pipeline.state_machine_name}:{EXECUTION}"
    prefixes = {
        "importJobName": pipeline.config.resource_name("import"),
        "solutionVersionName": pipeline.config.resource_name("train"),
        "batchInferenceJobName": pipeline.config.resource_name("batch"),
    }
    return run_names(EXECUTION, execution_arn, VirtualClock.iso(EPOCH), prefixes)


def failure_of(run: Run) -> str:
    return f"{run.result.status} {run.result.error}: {run.result.cause}"


# ----------------------------------------------------------------------------------------------------------------
# The definition under test
# ----------------------------------------------------------------------------------------------------------------


def test_the_definition_is_the_pipeline_stacks(
    pipeline: SynthesizedOrchestration, functions: dict[str, TemplateFunction], alert_topic_arn: str
) -> None:
    """What the other tests run: the pipeline template's machine, invoking that template's functions."""
    states = pipeline.definition["States"]
    assert pipeline.state_machine_name == "pbp-dev-batch-pipeline"
    assert states["Post-process: list output files"]["Parameters"]["FunctionName"] == functions["list"].arn
    each_file = states["Post-process: each output file"]
    assert each_file["ItemsPath"] == "$.outputFiles.files"
    flatten = each_file["ItemProcessor"]["States"]["Post-process: flatten file"]
    assert flatten["Resource"] == functions["process"].arn
    assert states["Post-process: write manifest"]["Parameters"]["FunctionName"] == functions["manifest"].arn
    assert states["Post-process: announce success"]["Parameters"]["TopicArn"] == alert_topic_arn
    assert {f.handler for f in functions.values()} == {
        "postprocess.handler.list_output_files",
        "postprocess.handler.process_file",
        "postprocess.handler.write_manifest",
        "model_gate.handler.evaluate",
        "model_gate.handler.accept",
        "model_gate.handler.account",
    }
    # The gate between training and batch inference, the accounting before the manifest, the acceptance after it.
    assert states["Quality gate: evaluate the model"]["Resource"] == functions["evaluate"].arn
    assert states["Post-process: account for the run"]["Resource"] == functions["account"].arn
    assert states["Post-process: accept the model version"]["Resource"] == functions["accept"].arn
    assert states["Training: job status?"]["Choices"][0]["Next"] == "Quality gate: evaluate the model"
    assert states["Quality gate: evaluate the model"]["Next"] == "Batch inference: start"
    assert states["Post-processing failed"]["Error"] == "PostProcessFailed"
    # The curated bucket of the data stack (resolved through its outputs), where the batch output goes.
    assert pipeline.expected("curated_bucket") in states["Prepare run"]["ResultSelector"]["batchOutputUri.$"]


# ----------------------------------------------------------------------------------------------------------------
# Scenarios
# ----------------------------------------------------------------------------------------------------------------


def test_happy_path_end_to_end(
    execute: Callable[[Scenario], Run],
    pipeline: SynthesizedOrchestration,
    functions: dict[str, TemplateFunction],
    alert_topic_arn: str,
) -> None:
    # Three users; Personalize knows two of them (the third line is an error line, as Personalize writes it).
    def recommend(user: str, count: int) -> dict[str, Any]:
        return error_for_all(user, count) if user == "9999" else recommend_all(user, count)

    scenario = Scenario(batch_input={"users.json": ["75", "78", "9999"]}, recommend=recommend)
    run = execute(scenario)
    aws, result = run.aws, run.result
    assert result.status == "SUCCEEDED", failure_of(run)

    # The machine that ran is the pipeline template's, under its real name; its post-processing ran, in order.
    sfn = _own_session().client("stepfunctions", region_name=REGION)
    machine_arn = sfn.describe_execution(executionArn=result.arn)["stateMachineArn"]
    machine = sfn.describe_state_machine(stateMachineArn=machine_arn)
    assert (machine["name"], json.loads(machine["definition"])) == (pipeline.state_machine_name, pipeline.definition)
    entered = result.states_entered
    assert [s for s in entered if s.startswith("Post-process")] == POST_PROCESS_STATES
    assert entered[-2:] == ["Summarize run", "Run succeeded"]
    assert set(entered) - {"Post-process: flatten file"} <= set(pipeline.definition["States"])

    # Personalize: import, training, batch inference, in order, with this execution's job names.
    names = expected_names(pipeline)
    run_id = names["runId"]
    assert run.run_id == run_id
    operations = [c.operation for c in aws.calls_to("personalize")]
    assert [op for i, op in enumerate(operations) if i == 0 or op != operations[i - 1]] == [
        "CreateDatasetImportJob",
        "DescribeDatasetImportJob",
        "CreateSolutionVersion",
        "DescribeSolutionVersion",  # polled by the state machine, then read by the quality gate
        "GetSolutionMetrics",
        "CreateBatchInferenceJob",
        "DescribeBatchInferenceJob",
    ]
    (import_call,) = aws.calls_to("personalize", "CreateDatasetImportJob")
    (train_call,) = aws.calls_to("personalize", "CreateSolutionVersion")
    (batch_call,) = aws.calls_to("personalize", "CreateBatchInferenceJob")
    assert import_call.params["jobName"] == names["importJobName"]
    assert train_call.params["name"] == names["solutionVersionName"]
    # The solution is the one the data stack's SSM parameter names, read at the start of this run.
    assert train_call.params["solutionArn"] == pipeline.expected("solution_arn")
    assert aws.personalize.job("train").arn.startswith(pipeline.expected("solution_arn") + "/")
    assert batch_call.params["jobName"] == names["batchInferenceJobName"]
    # The gate accepted the candidate (a first run: the floor only), so the batch job uses it.
    assert batch_call.params["solutionVersionArn"] == aws.personalize.job("train").arn
    output_uri = f"s3://{run.curated}/{run.prefix}batch-output/"
    assert batch_call.params["jobInput"]["s3DataSource"]["path"] == f"s3://{run.transformed}/{run.prefix}batch-input/"
    assert batch_call.params["jobOutput"]["s3DataDestination"]["path"] == output_uri
    import_arn, version_arn, batch_arn = (aws.personalize.job(kind).arn for kind in ("import", "train", "batch"))

    # Post-processing started only after the batch job was seen ACTIVE: list, flatten the one file, manifest.
    batch_job = aws.personalize.job("batch")
    invokes = [c for c in aws.calls if c.service == "lambda" and c.operation == "Invoke"]
    post = [c for c in invokes if c.params["FunctionName"] in {functions[r].arn for r in POST_PROCESS_FUNCTIONS}]
    assert [c.params["FunctionName"] for c in post] == [functions[r].arn for r in ("list", "process", "manifest")]
    assert post[0].at >= batch_job.detected_at
    assert scenario.written_outputs == [f"{run.prefix}batch-output/users.json.out"]
    (out_key,) = scenario.written_outputs
    size = run.s3.head_object(Bucket=run.curated, Key=out_key)["ContentLength"]
    assert run.invocations(functions["process"]) == [
        {"bucket": run.curated, "key": out_key, "output_prefix": run.prefix, "size": size}
    ]

    # The flattened recommendations (25 per known user, numResults of the default config) and the error line.
    assert run.keys("recommendations/") == [f"{run.prefix}recommendations/users.json.csv"]
    csv_lines = run.text(f"{run.prefix}recommendations/users.json.csv").splitlines()
    assert csv_lines[:3] == [CSV_HEADER, "75,1,751,1.0", "75,2,752,0.9"]
    assert csv_lines[26:28] == ["78,1,781,1.0", "78,2,782,0.9"]
    assert csv_lines[-1] == "78,25,805,0.0798"
    assert len(csv_lines) == 1 + 2 * 25
    (error_line,) = run.text(f"{run.prefix}errors/users.json.jsonl").splitlines()
    assert json.loads(error_line) == {
        "line": 3,
        "kind": "error",
        "error": "Input user 9999 not found in the solution version",
        "input": {"userId": "9999"},
    }

    # The manifest: counts, ARNs, the run; then _SUCCESS, written after it.
    manifest = run.manifest()
    assert {k: manifest[k] for k in ("status", "failure", "run_id", "execution_name", "execution_arn", "arns")} == {
        "status": "SUCCEEDED",
        "failure": None,
        "run_id": run_id,
        "execution_name": EXECUTION,
        "execution_arn": result.arn,
        "arns": {"datasetImportJob": import_arn, "solutionVersion": version_arn, "batchInferenceJob": batch_arn},
    }
    assert {k: manifest[k] for k in ("lines", "users_with_recommendations", "items_written", "errored_lines")} == {
        "lines": 3,
        "users_with_recommendations": 2,
        "items_written": 50,
        "errored_lines": 1,
    }
    assert manifest["output_files"] == [
        {
            "source": f"{run.prefix}batch-output/users.json.out",
            "recommendations": f"{run.prefix}recommendations/users.json.csv",
            "errors": f"{run.prefix}errors/users.json.jsonl",
            "lines": 3,
            "users_with_recommendations": 2,
            "items_written": 50,
            "errored_lines": 1,
        }
    ]
    assert manifest["timings"]["started_at"] == "2026-01-04T03:00:00.000Z"
    assert 0 < manifest["timings"]["duration_seconds"] <= aws.clock.seconds
    assert f"{run.prefix}_SUCCESS" in run.keys()
    assert run.text(f"{run.prefix}_SUCCESS") == ""
    puts = run.s3_puts()
    assert puts.index(f"{run.prefix}_manifest.json") < puts.index(f"{run.prefix}_SUCCESS")

    # The success notice: the manifest's summary, published to the alert topic (and delivered by moto SNS).
    manifest_uri = f"s3://{run.curated}/{run.prefix}_manifest.json"
    message = summary_of(manifest, manifest_uri, f"s3://{run.curated}/{run.prefix}_SUCCESS")["message"]
    assert message.startswith(
        f"Run {run_id}: 2 users with recommendations, 50 items (25.0 per user), 1 errored lines, 1 file(s), "
    )
    first_line, *accounting_lines = message.splitlines()
    assert first_line.endswith(f". Manifest: {manifest_uri}")
    assert accounting_lines[:2] == [
        f"Model: ACCEPTED {version_arn}.",
        f"Reason: {manifest['model']['reason']}",
    ]
    assert manifest["model"]["reason"].startswith(f"Accepted {version_arn}: first run (no accepted version yet)")
    assert accounting_lines[2] == "Usage: training 0.083 h, Glue 1,200 DPU-seconds."
    assert accounting_lines[3] == "Estimated cost:"
    assert accounting_lines[-1].startswith("estimated total: 0.1467 USD (without personalize_training, ")
    (publish,) = aws.calls_to("sns", "Publish")
    subject = "Personalize pipeline run succeeded"
    assert publish.params == {"TopicArn": alert_topic_arn, "Message": message, "Subject": subject}
    assert publish.at > post[-1].at
    (notice,) = run.notices()
    assert (notice["TopicArn"], notice["Subject"], notice["Message"]) == (alert_topic_arn, subject, message)

    # The execution's output names the jobs and where the output is.
    assert result.output == {
        "status": "SUCCEEDED",
        "runId": run_id,
        "glueJobRunId": aws.glue.runs[0]["Id"],
        "datasetImportJobArn": import_arn,
        "solutionVersionArn": version_arn,
        "batchInferenceJobArn": batch_arn,
        "outputPrefix": output_uri,
        "modelDecision": "ACCEPTED",
        "modelDecisionReason": manifest["model"]["reason"],
        "usedFallback": False,
        "batchSolutionVersionArn": version_arn,
        "trainingHours": 0.083,
        "glueDpuSeconds": 1200.0,
        "estimatedCost": manifest["cost_estimate"],
        "manifestUri": manifest_uri,
        "acceptance": {
            "recorded": True,
            "reason": f"{version_arn} (run {run_id}) is now the last accepted version",
            "acceptedVersionArn": version_arn,
            "acceptedRunId": run_id,
        },
    }


def test_two_output_files_are_flattened_by_two_map_iterations(
    execute: Callable[[Scenario], Run], functions: dict[str, TemplateFunction]
) -> None:
    scenario = Scenario(batch_input={"part-00000.json": ["75", "78"], "part-00001.json": ["127", "170", "175"]})
    run = execute(scenario)
    assert run.result.status == "SUCCEEDED", failure_of(run)

    outs = [f"{run.prefix}batch-output/part-0000{i}.json.out" for i in (0, 1)]
    assert sorted(scenario.written_outputs) == outs
    assert sorted(event["key"] for event in run.invocations(functions["process"])) == outs
    assert run.result.states_entered.count("Post-process: flatten file") == 2
    assert sum(e["type"] == "MapIterationSucceeded" for e in run.result.events) == 2
    assert run.keys("recommendations/") == [f"{run.prefix}recommendations/part-0000{i}.json.csv" for i in (0, 1)]
    second = run.text(f"{run.prefix}recommendations/part-00001.json.csv").splitlines()
    assert (second[1], second[-1]) == ("127,1,1271,1.0", "175,25,1775,0.0798")
    assert len(second) == 1 + 3 * 25

    manifest = run.manifest()
    assert manifest["status"] == "SUCCEEDED"
    files = manifest["output_files"]
    assert [f["source"] for f in files] == outs
    assert [f["lines"] for f in files] == [2, 3]
    for total in ("lines", "users_with_recommendations", "items_written", "errored_lines"):
        assert manifest[total] == sum(f[total] for f in files), total
    assert (manifest["lines"], manifest["items_written"], manifest["errored_lines"]) == (5, 125, 0)
    (notice,) = run.notices()
    assert "5 users with recommendations, 125 items (25.0 per user), 0 errored lines, 2 file(s)" in notice["Message"]
    assert f"{run.prefix}_SUCCESS" in run.keys()


def test_every_line_errored_fails_the_run(execute: Callable[[Scenario], Run]) -> None:
    scenario = Scenario(batch_input={"users.json": ["75", "78", "127"]}, recommend=error_for_all)
    run = execute(scenario)

    assert (run.result.status, run.result.error) == ("FAILED", "PostProcessFailed"), failure_of(run)
    assert run.result.cause.startswith(f"Post-processing of run {run.run_id} failed: ")
    assert "AllLinesErrored" in run.result.cause
    assert "all 3 line(s) errored (0 malformed)" in run.result.cause
    assert run.result.states_entered[-2:] == ["Post-process: write manifest", "Post-processing failed"]
    # The manifest records the failure; no _SUCCESS, no success notice.
    manifest = run.manifest()
    assert manifest["status"] == "FAILED"
    assert manifest["failure"]["error"] == "AllLinesErrored"
    assert f"{run.prefix}_SUCCESS" not in run.keys()
    assert not run.aws.calls_to("sns")
    assert run.notices() == []
    assert len(run.text(f"{run.prefix}errors/users.json.jsonl").splitlines()) == 3


@pytest.mark.parametrize(
    "batch_input, dropped, reason",
    [
        (
            {"part-00000.json": ["75", "78"], "part-00001.json": ["127"]},
            {"part-00001.json"},
            "1 batch input file(s) have no .out file, e.g. {prefix}batch-output/part-00001.json.out",
        ),
        ({"users.json": ["75", "78"]}, {"users.json"}, "no .out file in the batch output and no file was processed"),
    ],
    ids=["an-input-file-without-its-out", "no-out-file-at-all"],
)
def test_missing_output_fails_the_run(
    execute: Callable[[Scenario], Run],
    functions: dict[str, TemplateFunction],
    batch_input: dict[str, list[str]],
    dropped: set[str],
    reason: str,
) -> None:
    scenario = Scenario(batch_input=batch_input, drop_outputs=frozenset(dropped))
    run = execute(scenario)

    assert (run.result.status, run.result.error) == ("FAILED", "PostProcessFailed"), failure_of(run)
    assert "MissingOutputFiles" in run.result.cause
    assert reason.format(prefix=run.prefix) in run.result.cause
    # The Map flattened what there was (nothing, or the one file); the manifest step found the gap.
    assert len(run.invocations(functions["process"])) == len(batch_input) - len(dropped)
    assert run.result.states_entered[-2:] == ["Post-process: write manifest", "Post-processing failed"]
    manifest = run.manifest()
    assert (manifest["status"], manifest["failure"]["error"]) == ("FAILED", "MissingOutputFiles")
    assert f"{run.prefix}_SUCCESS" not in run.keys()
    assert not run.aws.calls_to("sns")


def _refuse_the_notice(aws: OfflineStepFunctions) -> None:
    def publish(_params: dict[str, Any]) -> dict[str, Any]:
        raise ServiceError("KMSThrottling", "Rate exceeded")

    aws.answer("sns", "Publish", publish)


def test_a_refused_success_notice_does_not_fail_a_finished_run_with_a_raw_sns_error(
    execute: Callable[[Scenario], Run],
) -> None:
    run = execute(Scenario(batch_input={"users.json": ["75", "78"]}, script=_refuse_the_notice))
    # The data is complete and marked so, whatever the notice did.
    assert f"{run.prefix}_SUCCESS" in run.keys()
    assert run.result.states_entered[-1] != "Post-process: announce success"
    assert not (run.result.error or "").startswith("SNS."), failure_of(run)
    assert run.result.status == "SUCCEEDED", failure_of(run)
    assert "Post-process: success notice not sent" in run.result.states_entered
    # The first attempt and three retries before giving up (throttling is worth another try).
    assert len(run.aws.calls_to("sns", "Publish")) == 4
