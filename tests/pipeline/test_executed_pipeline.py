"""The real pipeline stack's state machine, executed end to end offline, post-processing included.

The definition is the one of the default app's pipeline stack (`pipeline_template`), resolved with the data
stack's outputs, and runs in the offline harness (`pipeline_rehearsal/`): Glue and Personalize are
scripted fakes on a virtual clock, while the Lambda functions are the REAL handlers, found from the template
(`pipeline_rehearsal/functions.py`: each function's `Handler` string, memory, timeout and environment) and
invoked in-process under the fake ARNs the definition uses. S3, SNS, SQS and DynamoDB are moto's.

The default configuration has one solution, named `solution` (SOLUTION): its branch of "Solutions" trains it,
judges it (quality gate), plans and runs its batch jobs (one job here: the input is small) and flattens their
output into `recommendations/solution/`; the run-level post-processing then accounts, writes the manifest (with
a `solutions` section per solution), records the accepted version and announces the run.

What the fakes simulate, so that post-processing has real data to work on:
- Glue (StartJobRun): writes the run's interactions and its batch-input JSON-lines file(s) into the
  transformed bucket, `runs/<run>/batch-input/<file>` (and, for a configuration with other kinds of solutions,
  their items and queries).
- Personalize (the first Describe of a batch job that reports ACTIVE, `FakePersonalize.on_active`):
  `BatchOutputWriter` reads every file of the job's input and writes `<file>.out` under its output path
  (`batch-output/<solution>/part-0001/`), one output line per input line, the way the batch job does. A scenario
  decides each user's line (recommendations or an error) and may leave files out.
The success notice goes to moto SNS (the notices topic created under the definition's fake ARN) and is read
back from an SQS queue subscribed to it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from lambda_src.model_gate import handler as model_gate_handler
from lambda_src.postprocess import handler as postprocess_handler
from lambda_src.postprocess.manifest import summary_of_solutions
from lambda_src.run_names.naming import run_names
from pipeline_contracts.job_names import numbered_job_name
from pipeline_contracts.solutions import batch_input_entry, query_files
from stacks.app_factory import PipelineApp
from stacks.orchestration.solutions import solution_job_name_prefixes
from pipeline_rehearsal.deployment import create_accepted_versions_table
from pipeline_rehearsal.deployment import SynthesizedOrchestration, app_orchestration
from pipeline_rehearsal import (
    ACCOUNT,
    EPOCH,
    BatchOutputWriter,
    ExecutionResult,
    FakeJob,
    OfflineStepFunctions,
    ServiceError,
    VirtualClock,
    clock_datetime,
    default_batch_answer,
)
from pipeline_rehearsal.functions import TemplateFunction, shared_environment
from tests.support.lambda_context import apply_environment
from tests.support.templates import logical_id_of, past_function_error_reader

REGION = "us-east-1"
EXECUTION = "weekly-2026-01-04"
SOLUTION = "solution"  # the default configuration's one solution (a config without `solutions`)
CSV_HEADER = "user_id,rank,item_id,score"
# The functions the state machine invokes after preparing the run, by role (their handler strings).
ROLES = {
    "list": "postprocess.handler.list_output_files",
    "process": "postprocess.handler.process_file",
    "manifest": "postprocess.handler.write_manifest",
    "evaluate": "model_gate.handler.evaluate",
    "accept": "model_gate.handler.accept",
    "account": "model_gate.handler.account",
    "plan": "batch_plan.handler.plan_batch_jobs",
}
POST_PROCESS_FUNCTIONS = ("list", "process", "manifest")


def post_process_states(solution: str) -> list[str]:
    """The states a successful run enters after the solution's batch jobs, in order (one output file)."""
    return [
        f"{solution} post-process: list output files",
        f"{solution} post-process: each output file",
        f"{solution} post-process: flatten file",
        "Post-process: account for the run",
        "Post-process: write manifest",
        "Post-process: accept each model version",
        "Post-process: accept the model version",
        "Post-process: every solution succeeded?",
        "Post-process: publish completion event",
        "Post-process: announce success",
        "Post-process: done",
    ]


# ----------------------------------------------------------------------------------------------------------------
# The real template, resolved
# ----------------------------------------------------------------------------------------------------------------


def functions_of(pipeline: SynthesizedOrchestration) -> dict[str, TemplateFunction]:
    """The template's functions (real handlers) the tests look at, by role (ROLES)."""
    return {role: pipeline.functions[handler] for role, handler in ROLES.items()}


@pytest.fixture(scope="module")
def pipeline(default_app: PipelineApp, default_templates: dict[str, Any]) -> SynthesizedOrchestration:
    """The default app's pipeline stack's state machine as the harness runs it."""
    return app_orchestration(default_app, default_templates, region=REGION)


@pytest.fixture(scope="module")
def functions(pipeline: SynthesizedOrchestration) -> dict[str, TemplateFunction]:
    return functions_of(pipeline)


@pytest.fixture(scope="module")
def notices_topic_arn(pipeline: SynthesizedOrchestration, default_app: PipelineApp) -> str:
    return pipeline.cloud.arn(logical_id_of(default_app.pipeline_stack.notices.topic))


def accepted_versions_table(pipeline: SynthesizedOrchestration) -> str:
    """The accepted-version table's name, as the gate functions are given it (the data stack's table)."""
    return pipeline.functions[ROLES["evaluate"]].environment[model_gate_handler.TABLE_ENV]


def state_names(states: dict[str, Any]) -> set[str]:
    """Every state of a definition's `States`, those of Parallel branches and Map processors included."""
    names = set(states)
    for state in states.values():
        for branch in state.get("Branches", ()):
            names |= state_names(branch["States"])
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            names |= state_names(processor["States"])
    return names


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
    """What Glue writes as batch input of the users' solutions (file name -> user ids) and how Personalize
    answers it (the lines of other solutions' inputs, items or queries, get `default_batch_answer`)."""

    batch_input: dict[str, list[str]]
    recommend: Recommend = recommend_all
    drop_outputs: frozenset[str] = frozenset()  # input files whose .out the batch job does not write
    script: Callable[[OfflineStepFunctions], None] | None = None  # more scripting of the harness, before the run

    def answer(self, job: FakeJob, request: dict[str, Any]) -> dict[str, Any]:
        """`BatchOutputWriter`'s answer: the scenario's for a user line, the harness's default otherwise."""
        if "userId" in request and job.kind == "batch":
            return self.recommend(request["userId"], int(job.request["numResults"]))
        return default_batch_answer(job, request)


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
    writer: BatchOutputWriter
    config: Any  # the deployment's PipelineConfig
    lease_table: str  # the overlap guard's run-lease table

    @property
    def run_id(self) -> str:
        """This run's id: its output's (runs one after another share the harness), else the harness's first run's."""
        output = self.result.output
        if isinstance(output, dict) and output.get("runId"):
            return str(output["runId"])
        return self.aws.glue.runs[0]["params"]["Arguments"]["--run_id"]

    @property
    def prefix(self) -> str:
        return f"runs/{self.run_id}/"

    @property
    def written_outputs(self) -> list[str]:
        """Keys of the .out files the batch jobs wrote, in order."""
        return self.writer.written

    def keys(self, under: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.curated, Prefix=self.prefix + under).get("Contents", [])
        return sorted(obj["Key"] for obj in listed)

    def text(self, key: str) -> str:
        return self.s3.get_object(Bucket=self.curated, Key=key)["Body"].read().decode("utf-8")

    def manifest(self) -> dict[str, Any]:
        return json.loads(self.text(self.prefix + "_manifest.json"))

    def section(self, solution: str = SOLUTION) -> dict[str, Any]:
        """The manifest's section of one solution."""
        return self.manifest()["solutions"][solution]

    def notices(self) -> list[dict[str, Any]]:
        """SNS notifications delivered to the queue subscribed to the notices topic."""
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def invocations(self, function: TemplateFunction) -> list[dict[str, Any]]:
        return self.aws.lambdas.invocations_of(function.arn)

    def s3_puts(self) -> list[str]:
        """Keys the handlers wrote (PutObject / CreateMultipartUpload), in call order."""
        return [
            c.params["Key"]
            for c in self.aws.calls
            if c.service == "s3" and c.operation in ("PutObject", "CreateMultipartUpload")
        ]

    def batch_creates(self, solution: str = SOLUTION) -> list[Any]:
        """The Create calls of one solution's batch jobs (told apart by their job-name prefix)."""
        base = self.config.resource_name(f"batch-{solution}") + "-"
        return [
            c
            for c in self.aws.calls_to("personalize", "CreateBatchInferenceJob", "CreateBatchSegmentJob")
            if c.params["jobName"].startswith(base)
        ]


def _write_batch_input(
    pipeline: SynthesizedOrchestration, s3: Any, transformed: str, scenario: Scenario
) -> Callable[[dict[str, Any]], None]:
    """Glue's `on_start`: interactions and the scenario's users; items and queries for other kinds of solutions."""

    def on_start(params: dict[str, Any]) -> None:
        prefix = f"runs/{params['Arguments']['--run_id']}/"
        users = [user for file_users in scenario.batch_input.values() for user in file_users]
        # As the Glue job writes them: EVENT_TYPE default_event_type, EVENT_VALUE empty (no raw_event_value_column).
        interactions = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n" + "".join(
            f"{u},{u}0,1162160236,rating,\n" for u in users
        )
        bodies = {"interactions/part-00000.csv": interactions}
        for name, file_users in scenario.batch_input.items():
            bodies[batch_input_entry("users", SOLUTION) + name] = "".join(
                json.dumps({"userId": user}) + "\n" for user in file_users
            )
        for spec in pipeline.config.solutions:
            folder = batch_input_entry(spec.input_kind, spec.name)
            if spec.input_kind == "items":
                bodies[folder + "part-00000.json"] = "".join(json.dumps({"itemId": f"{u}0"}) + "\n" for u in users)
            elif spec.input_kind == "item_attributes":
                for name, queries in query_files(spec.queries).items():
                    bodies[folder + name] = "".join(json.dumps({"itemAttributes": q}) + "\n" for q in queries)
        for key, body in bodies.items():
            s3.put_object(Bucket=transformed, Key=prefix + key, Body=body.encode("utf-8"))

    return on_start


@contextlib.contextmanager
def executor(
    pipeline: SynthesizedOrchestration, notices_topic_arn: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Scenario], Run]]:
    """`execute(scenario, name=EXECUTION, execution_input=None)`: one full execution of the real state machine against that scenario
    (executions one after another share the harness: Personalize keeps the jobs of the earlier ones).

    `pipeline.offline()` registers every function of the template as its real handler (with fresh cached
    clients) and creates the buckets and each solution's parameter; this adds the accepted-version table, the
    notices topic with a queue subscribed to it, and the scenario's Glue and Personalize."""
    # The functions share one environment (process-wide here, as each one's is in Lambda).
    apply_environment(shared_environment(pipeline.functions, REGION), monkeypatch)
    with pipeline.offline() as (aws, arn):
        monkeypatch.setattr(postprocess_handler, "datetime", clock_datetime(aws.clock))
        # The test's own clients: their calls are neither faked nor logged.
        s3, sns, sqs = (aws.client(service) for service in ("s3", "sns", "sqs"))
        create_accepted_versions_table(aws.client("dynamodb"), accepted_versions_table(pipeline))
        curated, transformed = pipeline.expected("curated_bucket"), pipeline.expected("transformed_bucket")
        topic = sns.create_topic(Name=notices_topic_arn.rsplit(":", 1)[-1])["TopicArn"]
        assert topic == notices_topic_arn
        queue_url = sqs.create_queue(QueueName="notices-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

        def run(scenario: Scenario, name: str = EXECUTION, execution_input: Any = None) -> Run:
            aws.glue.on_start = _write_batch_input(pipeline, s3, transformed, scenario)
            writer = BatchOutputWriter(s3, answer=scenario.answer, drop=scenario.drop_outputs)
            aws.personalize.on_active = writer
            if scenario.script is not None:
                scenario.script(aws)
            result = aws.run(arn, name=name, input=execution_input)
            return Run(
                aws, result, s3, curated, transformed, queue_url, sqs, scenario, writer, pipeline.config,
                pipeline.lease_table,
            )  # fmt: skip

        yield run


@pytest.fixture
def execute(
    pipeline: SynthesizedOrchestration, notices_topic_arn: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Scenario], Run]]:
    with executor(pipeline, notices_topic_arn, monkeypatch) as run:
        yield run


def expected_names(pipeline: SynthesizedOrchestration) -> dict[str, str]:
    """run_names' answer for this execution, plus the one solution's training and (first) batch job names."""
    execution_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{pipeline.state_machine_name}:{EXECUTION}"
    prefixes = {"importJobName": pipeline.config.resource_name("import"), **solution_job_name_prefixes(pipeline.config)}
    names = run_names(EXECUTION, execution_arn, VirtualClock.iso(EPOCH), prefixes)
    return {
        **names,
        "solutionVersionName": names[f"train_{SOLUTION}"],
        "batchJobName": numbered_job_name(names[f"batch_{SOLUTION}"], 1),
    }


def failure_of(run: Run) -> str:
    return f"{run.result.status} {run.result.error}: {run.result.cause}"


# ----------------------------------------------------------------------------------------------------------------
# The definition under test
# ----------------------------------------------------------------------------------------------------------------


def test_the_definition_is_the_pipeline_stacks(
    pipeline: SynthesizedOrchestration, functions: dict[str, TemplateFunction], notices_topic_arn: str
) -> None:
    """What the other tests run: the pipeline template's machine, invoking that template's functions."""
    states = pipeline.definition["States"]
    assert pipeline.state_machine_name == "pbp-dev-batch-pipeline"
    assert [spec.name for spec in pipeline.config.solutions] == [SOLUTION]
    # The one solution's branch: training -> gate -> batch plan -> batch jobs -> its output files.
    (branch,) = states["Solutions"]["Branches"]
    # The branch runs in a child execution of its own (one item, STANDARD), which holds the solution's wrapper.
    assert branch["StartAt"] == f"{SOLUTION}: hand over"
    child = branch["States"][f"{SOLUTION}: own history"]
    assert child["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    child_states = child["ItemProcessor"]["States"]
    assert child["ItemProcessor"]["StartAt"] == f"Solution {SOLUTION}"
    wrapper = child_states[f"Solution {SOLUTION}"]
    assert past_function_error_reader(child_states, wrapper["Catch"][0]["Next"]) == f"{SOLUTION}: failed"
    (body,) = wrapper["Branches"]
    inner = body["States"]
    listing = inner[f"{SOLUTION} post-process: list output files"]
    assert listing["Parameters"]["FunctionName"] == functions["list"].arn
    each_file = inner[f"{SOLUTION} post-process: each output file"]
    assert each_file["ItemsPath"] == "$.outputFiles.files"
    flatten = each_file["ItemProcessor"]["States"][f"{SOLUTION} post-process: flatten file"]
    assert flatten["Resource"] == functions["process"].arn
    assert inner[f"{SOLUTION} quality gate: evaluate the model"]["Resource"] == functions["evaluate"].arn
    gate = f"{SOLUTION} quality gate: evaluate the model"
    assert inner[f"{SOLUTION} training: job status?"]["Choices"][0]["Next"] == gate
    assert inner[gate]["Next"] == f"{SOLUTION} batch: plan jobs"
    assert inner[f"{SOLUTION} batch: plan jobs"]["Parameters"]["FunctionName"] == functions["plan"].arn
    # The run-level post-processing: accounting before the manifest, the acceptance after it.
    assert states["Solutions"]["Next"] == "Post-process: account for the run"
    assert states["Post-process: account for the run"]["Resource"] == functions["account"].arn
    assert states["Post-process: write manifest"]["Parameters"]["FunctionName"] == functions["manifest"].arn
    accept = states["Post-process: accept each model version"]["ItemProcessor"]["States"]
    assert accept["Post-process: accept the model version"]["Resource"] == functions["accept"].arn
    assert states["Post-process: announce success"]["Parameters"]["TopicArn"] == notices_topic_arn
    assert {f.handler for f in functions.values()} == set(ROLES.values())
    assert states["Post-processing failed"]["Error"] == "PostProcessFailed"
    assert states["Solutions failed"]["Error"] == "SolutionsFailed"
    # The curated bucket of the data stack (resolved through its outputs), where the batch output goes.
    assert pipeline.expected("curated_bucket") in states["Prepare run"]["ResultSelector"]["batchOutputUri.$"]


# ----------------------------------------------------------------------------------------------------------------
# Scenarios
# ----------------------------------------------------------------------------------------------------------------


def test_happy_path_end_to_end(
    execute: Callable[[Scenario], Run],
    pipeline: SynthesizedOrchestration,
    functions: dict[str, TemplateFunction],
    notices_topic_arn: str,
) -> None:
    # Three users; Personalize knows two of them (the third line is an error line, as Personalize writes it).
    def recommend(user: str, count: int) -> dict[str, Any]:
        return error_for_all(user, count) if user == "9999" else recommend_all(user, count)

    scenario = Scenario(batch_input={"users.json": ["75", "78", "9999"]}, recommend=recommend)
    run = execute(scenario)
    aws, result = run.aws, run.result
    assert result.status == "SUCCEEDED", failure_of(run)

    # The machine that ran is the pipeline template's, under its real name; its post-processing ran, in order.
    sfn = aws.client("stepfunctions")
    machine_arn = sfn.describe_execution(executionArn=result.arn)["stateMachineArn"]
    machine = sfn.describe_state_machine(stateMachineArn=machine_arn)
    assert (machine["name"], json.loads(machine["definition"])) == (pipeline.state_machine_name, pipeline.definition)
    entered = result.all_states_entered  # the solution's states run in its own child execution
    after_jobs = entered[entered.index(f"{SOLUTION} batch: each job") + 1 :]
    in_child = [s for s in after_jobs if s.startswith(f"{SOLUTION} post-process")]
    in_parent = [s for s in result.states_entered if s.lower().startswith("post-process")]
    assert in_child + in_parent == post_process_states(SOLUTION)
    assert result.states_entered[-3:] == ["Summarize run", "Release run lease", "Run succeeded"]
    assert_lease_released(run)
    assert f"{SOLUTION}: succeeded" in entered and f"{SOLUTION}: failed" not in entered
    assert set(entered) <= state_names(pipeline.definition["States"])

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
    # One batch job (the input is small): part 1 of the solution's batch name.
    assert batch_call.params["jobName"] == names["batchJobName"]
    # The gate accepted the candidate (a first run: the floor only), so the batch job uses it.
    assert batch_call.params["solutionVersionArn"] == aws.personalize.job("train").arn
    output_uri = f"s3://{run.curated}/{run.prefix}batch-output/"
    # The job reads the whole batch input in place; its output goes to the solution's part folder.
    assert batch_call.params["jobInput"]["s3DataSource"]["path"] == f"s3://{run.transformed}/{run.prefix}batch-input/"
    assert batch_call.params["jobOutput"]["s3DataDestination"]["path"] == f"{output_uri}{SOLUTION}/part-0001/"
    import_arn, version_arn, batch_arn = (aws.personalize.job(kind).arn for kind in ("import", "train", "batch"))

    # Post-processing started only after the batch job was seen ACTIVE: list, flatten the one file, manifest.
    batch_job = aws.personalize.job("batch")
    invokes = [c for c in aws.calls if c.service == "lambda" and c.operation == "Invoke"]
    post = [c for c in invokes if c.params["FunctionName"] in {functions[r].arn for r in POST_PROCESS_FUNCTIONS}]
    assert [c.params["FunctionName"] for c in post] == [functions[r].arn for r in ("list", "process", "manifest")]
    assert post[0].at >= batch_job.detected_at
    out_key = f"{run.prefix}batch-output/{SOLUTION}/part-0001/users.json.out"
    assert run.written_outputs == [out_key]
    size = run.s3.head_object(Bucket=run.curated, Key=out_key)["ContentLength"]
    assert run.invocations(functions["process"]) == [
        {
            "bucket": run.curated,
            "key": out_key,
            "output_prefix": run.prefix,
            "size": size,
            "kind": "user_recommendations",
        }
    ]

    # The flattened recommendations (25 per known user, numResults of the default config) and the error line,
    # in the solution's folder of its kind, one sub-folder per job.
    csv_key = f"{run.prefix}recommendations/{SOLUTION}/part-0001/users.json.csv"
    errors_key = f"{run.prefix}errors/{SOLUTION}/part-0001/users.json.jsonl"
    assert run.keys("recommendations/") == [csv_key]
    csv_lines = run.text(csv_key).splitlines()
    assert csv_lines[:3] == [CSV_HEADER, "75,1,751,1.0", "75,2,752,0.9"]
    assert csv_lines[26:28] == ["78,1,781,1.0", "78,2,782,0.9"]
    assert csv_lines[-1] == "78,25,805,0.0798"
    assert len(csv_lines) == 1 + 2 * 25
    (error_line,) = run.text(errors_key).splitlines()
    assert json.loads(error_line) == {
        "line": 3,
        "kind": "error",
        "error": "Input user 9999 not found in the solution version",
        "input": {"userId": "9999"},
    }

    # The manifest: run-wide counts and ARNs, and the solution's section; then _SUCCESS, written after it.
    manifest = run.manifest()
    assert {k: manifest[k] for k in ("status", "failure", "run_id", "execution_name", "execution_arn", "arns")} == {
        "status": "SUCCEEDED",
        "failure": None,
        "run_id": run_id,
        "execution_name": EXECUTION,
        "execution_arn": result.arn,
        "arns": {"datasetImportJob": import_arn},
    }
    file_entry = {
        "source": out_key,
        "recommendations": csv_key,
        "errors": errors_key,
        "lines": 3,
        "users_with_recommendations": 2,
        "items_written": 50,
        "errored_lines": 1,
    }
    assert {k: manifest[k] for k in ("lines", "users_with_recommendations", "items_written", "errored_lines")} == {
        "lines": 3,
        "users_with_recommendations": 2,
        "items_written": 50,
        "errored_lines": 1,
    }
    assert manifest["output_files"] == [file_entry]
    assert (list(manifest["solutions"]), manifest["failed_solutions"]) == ([SOLUTION], [])
    section = manifest["solutions"][SOLUTION]
    assert {k: v for k, v in section.items() if k != "model"} == {
        "kind": "user_recommendations",
        "job_type": "batch_inference",
        "status": "SUCCEEDED",
        "failure": None,
        "solution_arn": pipeline.expected("solution_arn"),
        "solution_version_arn": version_arn,
        "training_hours": 0.083,
        "plan_key": f"{run.prefix}batch-jobs/{SOLUTION}/_plan.json",
        "filter_arn": None,  # the default configuration has no filter
        "batch_jobs": [{"part": 1, "job_name": names["batchJobName"], "arn": batch_arn, "status": "ACTIVE"}],
        "outputs": {
            "folder": f"{run.prefix}recommendations/{SOLUTION}/",
            "files": [file_entry],
            "lines": 3,
            "rows": 50,
            "keys_answered": 2,
            "errors": 1,
            "malformed_lines": 0,
        },
        # The default configuration trains FULL (test_run_modes_executed.py covers the modes over runs).
        "training": {"mode": "FULL", "reason": "training_mode is FULL"},
    }
    model = section["model"]
    assert (model["decision"], model["used_fallback"], model["batch_solution_version_arn"]) == (
        "ACCEPTED",
        False,
        version_arn,
    )
    assert model["reason"].startswith(f"Accepted {version_arn}: first run (no accepted version yet)")
    assert manifest["timings"]["started_at"] == "2026-01-04T03:00:00.000Z"
    assert 0 < manifest["timings"]["duration_seconds"] <= aws.clock.seconds
    assert f"{run.prefix}_SUCCESS" in run.keys()
    assert run.text(f"{run.prefix}_SUCCESS") == ""
    puts = run.s3_puts()
    assert puts.index(f"{run.prefix}_manifest.json") < puts.index(f"{run.prefix}_SUCCESS")

    # The success notice: the manifest's summary, published to the notices topic (and delivered by moto SNS).
    manifest_uri = f"s3://{run.curated}/{run.prefix}_manifest.json"
    summary = summary_of_solutions(manifest, manifest_uri, f"s3://{run.curated}/{run.prefix}_SUCCESS", gates={})
    message = summary["message"]
    first_line, solution_line, manifest_line, modes_line, *accounting_lines = message.splitlines()
    assert first_line.startswith(
        f"Run {run_id}: 1 solution(s) succeeded: 3 lines, 50 rows, 1 errored lines, 1 file(s), "
    )
    assert solution_line == (
        f"- {SOLUTION} (user_recommendations): 2 of 3 lines answered, 50 rows, 1 errored, 1 file(s) in "
        f"{run.prefix}recommendations/{SOLUTION}/; model ACCEPTED"
    )
    assert manifest_line == f"Manifest: {manifest_uri}"
    assert modes_line == "Modes: imports interactions FULL; training solution FULL."
    assert accounting_lines[0] == "Usage: training 0.083 h, Glue 1,200 DPU-seconds."
    assert accounting_lines[1] == "Estimated cost:"
    assert accounting_lines[-1].startswith("estimated total: 0.1467 USD (without personalize_training, ")
    (publish,) = aws.calls_to("sns", "Publish")
    subject = "Personalize pipeline run succeeded"
    assert publish.params == {"TopicArn": notices_topic_arn, "Message": message, "Subject": subject}
    assert publish.at > post[-1].at
    (notice,) = run.notices()
    assert (notice["TopicArn"], notice["Subject"], notice["Message"]) == (notices_topic_arn, subject, message)

    # The execution's output names the jobs, where the output is, each solution's status and gate decision, and the
    # modes the run chose (the default configuration's FULL).
    output = result.output
    full_training = {"mode": "FULL", "reason": "training_mode is FULL"}
    gate = output["solutions"][0]["gate"]
    assert (gate["decision"], gate["solutionVersionArn"], gate["usedFallback"]) == ("ACCEPTED", version_arn, False)
    assert {**output, "solutions": [{**s, "gate": None} for s in output["solutions"]]} == {
        "status": "SUCCEEDED",
        "runId": run_id,
        "glueJobRunId": aws.glue.runs[0]["Id"],
        "datasetImportJobArn": import_arn,
        "solutions": [{"name": SOLUTION, "status": "SUCCEEDED", "gate": None, "training": full_training}],
        "outputPrefix": output_uri,
        "modes": {"imports": {"interactions": {"mode": "FULL", "reason": "import_mode is FULL"}},
                  "training": {SOLUTION: full_training}},
        "trainingHours": 0.083,
        "glueDpuSeconds": 1200.0,
        "estimatedCost": manifest["cost_estimate"],
        "manifestUri": manifest_uri,
        "acceptance": [
            {
                "recorded": True,
                "reason": f"{version_arn} (run {run_id}) is now the last accepted version",
                "acceptedVersionArn": version_arn,
                "acceptedRunId": run_id,
            }
        ],
    }


def test_two_output_files_are_flattened_by_two_map_iterations(
    execute: Callable[[Scenario], Run], functions: dict[str, TemplateFunction]
) -> None:
    scenario = Scenario(batch_input={"part-00000.json": ["75", "78"], "part-00001.json": ["127", "170", "175"]})
    run = execute(scenario)
    assert run.result.status == "SUCCEEDED", failure_of(run)

    # One batch job read both files (part 1), and wrote one .out per input file.
    part = f"{run.prefix}batch-output/{SOLUTION}/part-0001/"
    outs = [f"{part}part-0000{i}.json.out" for i in (0, 1)]
    assert len(run.batch_creates()) == 1
    assert sorted(run.written_outputs) == outs
    assert sorted(event["key"] for event in run.invocations(functions["process"])) == outs
    assert run.result.all_states_entered.count(f"{SOLUTION} post-process: flatten file") == 2
    iterations = [
        event["mapIterationSucceededEventDetails"]["name"]
        for event in run.result.child_events  # the solution's files are flattened in its child execution
        if event["type"] == "MapIterationSucceeded"
    ]
    assert iterations.count(f"{SOLUTION} post-process: each output file") == 2
    folder = f"{run.prefix}recommendations/{SOLUTION}/part-0001/"
    assert run.keys("recommendations/") == [f"{folder}part-0000{i}.json.csv" for i in (0, 1)]
    second = run.text(f"{folder}part-00001.json.csv").splitlines()
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
    outputs = manifest["solutions"][SOLUTION]["outputs"]
    assert outputs["files"] == files
    assert (outputs["lines"], outputs["rows"], outputs["keys_answered"], outputs["errors"]) == (5, 125, 5, 0)
    (notice,) = run.notices()
    assert "1 solution(s) succeeded: 5 lines, 125 rows, 0 errored lines, 2 file(s)" in notice["Message"]
    line = f"- {SOLUTION} (user_recommendations): 5 of 5 lines answered, 125 rows, 0 errored, 2 file(s)"
    assert line in notice["Message"]
    assert f"{run.prefix}_SUCCESS" in run.keys()


def assert_lease_released(run: Run) -> None:
    """The run gave the overlap guard's lease back: one delete, conditioned on this execution holding it, after which
    the table holds no lease."""
    (delete,) = run.aws.calls_to("dynamodb", "DeleteItem")
    assert delete.params["ExpressionAttributeValues"] == {":holder": {"S": run.result.arn}}
    assert run.aws.client("dynamodb").scan(TableName=run.lease_table)["Items"] == []


def _failed_run_ends_naming_the_solution(run: Run, error: str) -> dict[str, Any]:
    """The run's ending when the one solution failed: the manifest is written (FAILED, its section naming the
    `error`), nothing is accepted, the run fails SolutionsFailed with the manifest's message; no _SUCCESS, no
    notice, no completion event. Returns the solution's section."""
    assert (run.result.status, run.result.error) == ("FAILED", "SolutionsFailed"), failure_of(run)
    cause = run.result.cause
    assert cause.startswith(f"Run {run.run_id} FAILED: 1 of 1 solution(s) failed: {SOLUTION}: "), cause
    assert f"\n- {SOLUTION} (user_recommendations): FAILED, {error}\n" in cause
    assert f"\nManifest: s3://{run.curated}/{run.prefix}_manifest.json" in cause
    assert run.result.states_entered[-6:] == [
        "Post-process: write manifest",
        "Post-process: accept each model version",
        "Post-process: accept the model version",
        "Post-process: every solution succeeded?",
        "Post-process: release run lease",
        "Solutions failed",
    ]
    assert_lease_released(run)
    manifest = run.manifest()
    assert (manifest["status"], manifest["failure"]["error"], manifest["failed_solutions"]) == (
        "FAILED",
        "SolutionsFailed",
        [SOLUTION],
    )
    assert manifest["failure"]["cause"] in cause
    section = manifest["solutions"][SOLUTION]
    assert (section["status"], section["failure"]["error"]) == ("FAILED", error)
    assert f"{run.prefix}_SUCCESS" not in run.keys()
    assert not run.aws.calls_to("sns") and not run.aws.calls_to("events")
    assert run.notices() == []
    # The acceptance step ran (see the states above) and recorded nothing: the solution's output failed.
    assert not run.aws.calls_to("dynamodb", "TransactWriteItems")
    return section


def test_every_line_errored_fails_the_run(execute: Callable[[Scenario], Run]) -> None:
    scenario = Scenario(batch_input={"users.json": ["75", "78", "127"]}, recommend=error_for_all)
    run = execute(scenario)

    section = _failed_run_ends_naming_the_solution(run, "AllLinesErrored")
    assert f"{SOLUTION}: all 3 line(s) errored (0 malformed)" in run.result.cause
    assert section["failure"]["cause"].startswith(f"{SOLUTION}: all 3 line(s) errored (0 malformed)")
    # The solution's branch succeeded (its jobs and files did); the manifest's checks failed it.
    assert f"{SOLUTION}: succeeded" in run.result.all_states_entered
    assert (section["outputs"]["lines"], section["outputs"]["errors"]) == (3, 3)
    errors = run.text(f"{run.prefix}errors/{SOLUTION}/part-0001/users.json.jsonl").splitlines()
    assert len(errors) == 3


@pytest.mark.parametrize(
    "batch_input, dropped, reason",
    [
        (
            {"part-00000.json": ["75", "78"], "part-00001.json": ["127"]},
            {"part-00001.json"},
            "1 batch input file(s) have no .out file, e.g. {prefix}batch-output/solution/part-0001/part-00001.json.out",
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

    section = _failed_run_ends_naming_the_solution(run, "MissingOutputFiles")
    assert f"{SOLUTION}: {reason.format(prefix=run.prefix)} (MissingOutputFiles)" in run.result.cause
    assert section["failure"]["cause"] == f"{SOLUTION}: {reason.format(prefix=run.prefix)}"
    # The Map flattened what there was (nothing, or the one file); the manifest step found the gap.
    assert len(run.invocations(functions["process"])) == len(batch_input) - len(dropped)
    assert len(section["outputs"]["files"]) == len(batch_input) - len(dropped)


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
