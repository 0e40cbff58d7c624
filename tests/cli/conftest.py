"""Fixtures for the operator CLI tests: a moto-backed pipeline stack and a CLI runner.

moto's CloudFormation puts a state machine declared in a template into its plain Step Functions
backend, not the executing one, so the state machine is created through the API and the stack
(real moto CloudFormation) exports its ARN as a literal output, as the CDK stack will.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator
from moto import mock_aws

from pipeline_cli.__main__ import main
from pipeline_contracts.event_types import INTERACTIONS_FIELDS

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "pbp-dev-pipeline"
CURATED_BUCKET = "pbp-dev-curated-bucket"


# One botocore session for every test: its loader caches the parsed service models, which
# otherwise cost ~0.3 s of JSON parsing per test.
_CORE_SESSION = botocore.session.get_session()


def fake_session() -> boto3.Session:
    """Explicit fake credentials: the CLI must never depend on the developer's environment."""
    return boto3.Session(
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        botocore_session=_CORE_SESSION,
    )


@dataclass
class Deployed:
    session: boto3.Session
    state_machine_arn: str

    def start_direct(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution behind the CLI's back (to get inputs the CLI never sends)."""
        sfn = self.session.client("stepfunctions")
        return sfn.start_execution(stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload))[
            "executionArn"
        ]

    def wait_direct(self, execution_arn: str) -> str:
        sfn = self.session.client("stepfunctions")
        for _ in range(500):
            status = sfn.describe_execution(executionArn=execution_arn)["status"]
            if status != "RUNNING":
                return status
            time.sleep(0.01)
        raise AssertionError("execution did not finish")


@pytest.fixture
def moto_aws() -> Iterator[None]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


class WaitGate:
    """Holds moto's Wait states until the CLI has polled a given number of times inside one.

    moto's interpreter really sleeps in Wait states, and on a busy machine a fixed sleep either
    wastes time or is too short for the CLI to see the state running. The gate makes the
    interleaving deterministic: a Wait state blocks until `polls` sleeps of the CLI's poll loop
    (passed to `main` as `sleep`) have happened after the state was entered, then ends at once.
    """

    def __init__(self, polls: int = 2, timeout: float = 10.0) -> None:
        self.polls = polls
        self.timeout = timeout
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.sleeps_inside = 0

    def wait_state(self, wait_seconds: int) -> None:
        if wait_seconds > 0:
            self.entered.set()
            self.opened.wait(self.timeout)

    def sleep(self, seconds: float) -> None:
        if self.entered.is_set():
            self.sleeps_inside += 1
            if self.sleeps_inside >= self.polls:
                self.opened.set()
        time.sleep(0.005)


@pytest.fixture
def wait_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[WaitGate]:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    gate = WaitGate()
    monkeypatch.setattr(WaitFunction, "_wait_interval", lambda self, env, wait_seconds: gate.wait_state(wait_seconds))
    yield gate
    gate.opened.set()  # never leave an interpreter thread blocked


@pytest.fixture
def deploy(moto_aws: None) -> Callable[..., Deployed]:
    """Create a state machine from `definition` and a CloudFormation stack exporting its ARN."""

    def _deploy(definition: dict[str, Any], outputs: dict[str, Any] | None = None, stack: str = STACK) -> Deployed:
        session = fake_session()
        arn = session.client("stepfunctions").create_state_machine(
            name="pbp-dev-pipeline",
            definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline",
        )["stateMachineArn"]
        if outputs is None:
            outputs = {
                "StateMachineArn": {"Value": arn},
                "CuratedBucketName": {"Value": CURATED_BUCKET},
                "AlertTopicArn": {"Value": {"Ref": "AlertTopic"}},
            }
        template = {"Resources": {"AlertTopic": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
        session.client("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))
        return Deployed(session, arn)

    return _deploy


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run `main(argv, session=...)` and capture what it printed."""

    def _run(argv: list[str], session: boto3.Session | None = None, **kwargs: Any) -> Result:
        capsys.readouterr()
        code = main(argv, session=session, **kwargs)
        captured = capsys.readouterr()
        return Result(int(code), captured.out, captured.err)

    return _run


# --- state machine definitions in the pipeline's shape (no real integrations) -------------
# State names mix the real ones of stacks/orchestration.py ("List running executions",
# "Import: describe job", "Summarize run", ...) with plain ones ("Transform (Glue)", "Import: wait").

RUN_ID = "20261122T030000Z-run-0123456789"
SKIP_REASON = "Another execution of this state machine is still running: arn:aws:states:us-east-1:123456789012:execution:pbp-dev-pipeline:run-0"
SUMMARY = {
    "status": "SUCCEEDED",
    "runId": RUN_ID,
    "datasetImportJobArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-import-job/pbp-dev-import-run",
    "solutionVersionArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/pbp-dev/abcdef12",
    "batchInferenceJobArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:batch-inference-job/pbp-dev-batch-run",
    "outputPrefix": f"s3://{CURATED_BUCKET}/runs/{RUN_ID}/batch-output/",
    # The model quality gate's part of the output (stacks/model_gate.py summary_fields): a fallback run.
    "modelDecision": "REJECTED",
    "modelDecisionReason": "Rejected arn:x: precision_at_25 = 0.01 is below the floor 0.02 (rule: ...)",
    "usedFallback": True,
    "trainingHours": 1.25,
    "glueDpuSeconds": 1200.0,
    "estimatedCost": {"currency": "USD", "total": 0.146667, "complete": False, "unpriced": ["personalize_training"]},
}
SKIP_STATES: dict[str, Any] = {
    "Skip: another run is active": {
        "Type": "Pass",
        "Result": {"status": "SKIPPED", "reason": SKIP_REASON},
        "Next": "Skipped",
    },
    "Skipped": {"Type": "Succeed"},
}


def pipeline_definition(batch_state: dict[str, Any] | None = None, import_wait_seconds: int = 0) -> dict[str, Any]:
    """Guard -> naming -> ETL -> choose modes -> import (Wait + Task-like Pass) -> training -> quality gate -> a new unmapped
    state -> batch inference -> post-processing -> summary. Input `{"skip": true}` takes the guard's
    skip branch (the CLI always sends `{}`; tests start such runs directly)."""
    batch = batch_state or {"Type": "Pass", "Next": "Post-process (flatten)"}
    return {
        "StartAt": "List running executions",
        "States": {
            "List running executions": {"Type": "Pass", "Next": "Other runs active?"},
            "Other runs active?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.skip", "IsPresent": True, "Next": "Skip: another run is active"}],
                "Default": "Prepare run",
            },
            **SKIP_STATES,
            "Prepare run": {"Type": "Pass", "Next": "Transform (Glue)"},
            "Transform (Glue)": {"Type": "Pass", "Next": "Transform done"},
            "Transform done": {"Type": "Pass", "Next": "Choose modes"},
            "Choose modes": {"Type": "Pass", "Next": "Import: wait"},
            "Import: wait": {"Type": "Wait", "Seconds": import_wait_seconds, "Next": "Import: describe job"},
            "Import: describe job": {"Type": "Pass", "Next": "Training: wait"},
            "Training: wait": {"Type": "Wait", "Seconds": 0, "Next": "Training: job status?"},
            "Training: job status?": {"Type": "Pass", "Next": "Quality gate: evaluate the model"},
            "Quality gate: evaluate the model": {"Type": "Pass", "Next": "NotifyOps"},
            "NotifyOps": {"Type": "Pass", "Next": "BatchInference"},
            "BatchInference": batch,
            "Post-process (flatten)": {"Type": "Pass", "Next": "Summarize run"},
            "Summarize run": {"Type": "Pass", "Result": SUMMARY, "Next": "Run succeeded"},
            "Run succeeded": {"Type": "Succeed"},
        },
    }


def _solution_branch(name: str, fail_training: bool) -> dict[str, Any]:
    """One solution's branch with the fixed state names (issue 13): wrapper Parallel whose catch leads to
    `<name>: failed`."""
    training_status = (
        {"Type": "Fail", "Error": "TrainingFailed", "Cause": f"{name}: solution version CREATE FAILED"}
        if fail_training
        else {"Type": "Pass", "Next": f"{name} quality gate: evaluate the model"}
    )
    body = {
        "StartAt": f"{name}: read solution ARN",
        "States": {
            f"{name}: read solution ARN": {"Type": "Pass", "Next": f"{name} training: wait"},
            f"{name} training: wait": {"Type": "Wait", "Seconds": 0, "Next": f"{name} training: job status?"},
            f"{name} training: job status?": training_status,
            f"{name} quality gate: evaluate the model": {"Type": "Pass", "Next": f"{name} batch: plan jobs"},
            f"{name} batch: plan jobs": {"Type": "Pass", "Next": f"{name} post-process: flatten file"},
            f"{name} post-process: flatten file": {"Type": "Pass", "Next": f"{name}: succeeded"},
            f"{name}: succeeded": {
                "Type": "Pass",
                "Result": {"name": name, "status": "SUCCEEDED", "gate": {"decision": "ACCEPTED", "usedFallback": False}},
                "End": True,
            },
        },
    }
    return {
        "StartAt": f"Solution {name}",
        "States": {
            f"Solution {name}": {
                "Type": "Parallel",
                "Branches": [body],
                "OutputPath": "$[0]",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": f"{name}: failed"}],
                "End": True,
            },
            f"{name}: failed": {
                "Type": "Pass",
                "Result": {"name": name, "status": "FAILED", "gate": None},
                "End": True,
            },
        },
    }


def solutions_definition(failing: tuple[str, ...] = ()) -> dict[str, Any]:
    """The several-solutions shape: Guard -> prepare -> ETL -> import -> Parallel "Solutions" (users, segments)
    -> post-process -> every solution succeeded? -> Summarize run / Fail "Solutions failed"."""
    names = ("users", "segments")
    return {
        "StartAt": "List running executions",
        "States": {
            "List running executions": {"Type": "Pass", "Next": "Prepare run"},
            "Prepare run": {"Type": "Pass", "Next": "Transform (Glue)"},
            "Transform (Glue)": {"Type": "Pass", "Next": "Import: describe job"},
            "Import: describe job": {"Type": "Pass", "Result": {"anyFailed": bool(failing)}, "Next": "Solutions"},
            "Solutions": {
                "Type": "Parallel",
                "Branches": [_solution_branch(name, name in failing) for name in names],
                "ResultPath": "$.solutions",
                "Next": "Post-process: account for the run",
            },
            "Post-process: account for the run": {"Type": "Pass", "Next": "Post-process: every solution succeeded?"},
            # The decision is the manifest's in the real machine; here it is fixed by `failing` (a CLI test).
            "Post-process: every solution succeeded?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.anyFailed", "BooleanEquals": True, "Next": "Solutions failed"}],
                "Default": "Summarize run",
            },
            "Solutions failed": {
                "Type": "Fail",
                "Error": "SolutionsFailed",
                "Cause": "1 of 2 solutions failed: " + ", ".join(f"{n} (TrainingFailed)" for n in failing),
            },
            "Summarize run": {"Type": "Pass", "Parameters": {"status": "SUCCEEDED", "solutions.$": "$.solutions"},
                              "Next": "Run succeeded"},
            "Run succeeded": {"Type": "Succeed"},
        },
    }


FAILING_BATCH = {
    "Type": "Fail",
    "Error": "BatchInferenceFailed",
    "Cause": "Batch inference job arn:x ended CREATE FAILED: [Personalize] input s3://bucket/in.json is not valid JSON lines",
}

SKIPPING_DEFINITION: dict[str, Any] = {
    "StartAt": "List running executions",
    "States": {"List running executions": {"Type": "Pass", "Next": "Skip: another run is active"}, **SKIP_STATES},
}


# --- doctor: answers for the calls moto does not implement --------------------------------


@dataclass(frozen=True)
class AwsError:
    """A scripted error answer, as AWS sends it (code, message, HTTP status)."""

    code: str
    message: str = ""
    status: int = 400


Reply = Any  # a response dict, an AwsError, or a callable(params) -> either


class ScriptedAws:
    """Answers chosen operations from a script and lets every other call through to moto.

    botocore's `Stubber` answers a fixed *sequence* of calls; the doctor's calls depend on which
    checks run (a skipped check makes none), so replies here are keyed by operation instead,
    optionally computed from the parameters. Like the Stubber, every reply is validated against
    the service model's output shape, so a reply AWS could not send fails the test.
    """

    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], Reply] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def set(self, service: str, operation: str, reply: Reply) -> None:
        self.replies[(service, operation)] = reply

    def attach(self, session: boto3.Session) -> boto3.Session:
        """Make `session`'s clients answer from the script (the shared botocore session stays clean)."""
        create = session.client

        def client(service: str, *args: Any, **kwargs: Any) -> Any:
            made = create(service, *args, **kwargs)
            made.meta.events.register_first("before-parameter-build", self._keep_params)
            made.meta.events.register_first("before-call", self._answer)
            return made

        session.client = client  # type: ignore[method-assign]
        return session

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # before-call sees the serialized request; the API parameters are only seen before that
        context["scripted_params"] = dict(params)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        service = model.service_model.service_name
        key = (service, model.name)
        if key not in self.replies:
            return None  # moto answers
        params = context["scripted_params"]
        self.calls.append((service, model.name, params))
        reply = self.replies[key]
        if callable(reply):
            reply = reply(params)
        if isinstance(reply, AwsError):
            error = {"Error": {"Code": reply.code, "Message": reply.message}}
            return AWSResponse(None, reply.status, {}, None), {
                **error,
                "ResponseMetadata": {"HTTPStatusCode": reply.status},
            }
        report = ParamValidator().validate(reply, model.output_shape)
        if report.has_errors():
            raise AssertionError(
                f"scripted {service}.{model.name} reply does not fit the model:\n{report.generate_report()}"
            )
        return AWSResponse(None, 200, {}, None), {**reply, "ResponseMetadata": {"HTTPStatusCode": 200}}


# --- doctor: a healthy deployment, built in moto plus the scripted calls ------------------

DATA_STACK = "pbp-dev-data"
RAW_BUCKET = "pbp-dev-raw-bucket"
RAW_PREFIX = "ratings/"
GLUE_JOB = "pbp-dev-ratings-etl"
GLUE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/pbp-dev-glue"
DATA_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SOLUTION_PARAMETER = "/pbp/dev/personalize/solution-arn"
DATASET_GROUP_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/pbp-dev"
SOLUTION_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/pbp-dev-solution"
SCHEDULE_NAME = "pbp-dev-pipeline"
FILTER_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:filter/pbp-dev-unrated-0123abcd"
FUNCTION_NAMES = ("pbp-dev-run-names", "pbp-dev-postprocess-flatten")
RAW_FILES = {
    "ratings/part-1.dat": b"userID\tmovieID\trating\ttimestamp\n" + b"75\t3\t1\t1162160236000\n" * 100,
    "ratings/part-2.dat": b"75\t32\t4.5\t1162160624000\n" * 50,
}
PERSONALIZE_QUOTAS = (
    ("L-A1B2C3D4", "Concurrent dataset import jobs in progress", 5.0),
    ("L-B2C3D4E5", "Concurrent solution versions in progress", 20.0),
    ("L-C3D4E5F6", "Concurrent batch inference jobs in progress", 5.0),
)
_ASSUME_LAMBDA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@dataclass
class DoctorWorld:
    """A healthy deployment: moto holds what moto implements, `script` answers the rest."""

    session: boto3.Session
    script: ScriptedAws
    layer_arn: str
    topic_arn: str

    def client(self, service: str) -> Any:
        return self.session.client(service)


def _stack(session: boto3.Session, name: str, resources: dict[str, Any], outputs: dict[str, str]) -> None:
    template = {"Resources": resources, "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
    session.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def _functions(session: boto3.Session) -> str:
    """Two functions sharing one layer (moto refuses layers it does not hold, so it is published)."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    role = session.client("iam").create_role(RoleName="pbp-dev-functions", AssumeRolePolicyDocument=_ASSUME_LAMBDA)
    lam = session.client("lambda")
    layer = lam.publish_layer_version(LayerName="AWSLambdaPowertoolsPythonV3", Content={"ZipFile": code.getvalue()})
    for name in FUNCTION_NAMES:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Handler="index.handler",
            Role=role["Role"]["Arn"],
            Code={"ZipFile": code.getvalue()},
            Layers=[layer["LayerVersionArn"]],
        )
    return str(layer["LayerVersionArn"])


def _stack_resources(topic_arn: str) -> dict[str, Any]:
    """moto's CloudFormation does not create Scheduler schedules or Glue jobs, so the pipeline
    stack's resource list is scripted; the resources themselves live in moto."""
    now = datetime(2026, 11, 20, tzinfo=timezone.utc)
    rows = [(f"Fn{i}", name, "AWS::Lambda::Function") for i, name in enumerate(FUNCTION_NAMES)]
    rows += [("Schedule", SCHEDULE_NAME, "AWS::Scheduler::Schedule"), ("AlertTopic", topic_arn, "AWS::SNS::Topic")]
    rows += [("unratedFilter", FILTER_ARN, "Custom::PersonalizeFilter")]  # the data stack's (one list serves both)
    return {
        "StackResourceSummaries": [
            {
                "LogicalResourceId": logical,
                "PhysicalResourceId": physical,
                "ResourceType": kind,
                "LastUpdatedTimestamp": now,
                "ResourceStatus": "CREATE_COMPLETE",
            }
            for logical, physical, kind in rows
        ]
    }


def interactions_schema(fields: tuple[str, ...]) -> str:
    """A DescribeSchema `schema` text with these field names (the types do not matter to the doctor)."""
    return json.dumps({"type": "record", "name": "Interactions", "fields": [{"name": f, "type": "string"} for f in fields]})


def _personalize_script(script: ScriptedAws) -> None:
    created = datetime(2026, 11, 1, tzinfo=timezone.utc)
    script.set("personalize", "ListDatasetGroups", {"datasetGroups": []})
    script.set(
        "personalize",
        "DescribeDatasetGroup",
        {"datasetGroup": {"datasetGroupArn": DATASET_GROUP_ARN, "name": "pbp-dev", "status": "ACTIVE"}},
    )
    script.set(
        "personalize",
        "DescribeFilter",
        lambda params: {"filter": {"filterArn": params["filterArn"], "name": "pbp-dev-unrated-0123abcd", "status": "ACTIVE"}},
    )
    schema_arn = f"arn:aws:personalize:{REGION}:{ACCOUNT}:schema/pbp-dev-interactions-schema-events"
    script.set(
        "personalize",
        "DescribeDataset",
        lambda params: {"dataset": {"datasetArn": params["datasetArn"], "schemaArn": schema_arn, "status": "ACTIVE"}},
    )
    script.set(
        "personalize",
        "DescribeSchema",
        {"schema": {"schemaArn": schema_arn, "schema": interactions_schema(INTERACTIONS_FIELDS)}},
    )
    script.set(
        "personalize",
        "DescribeSolution",
        lambda params: {
            "solution": {
                "solutionArn": params["solutionArn"],
                "name": "pbp-dev-solution",
                "status": "ACTIVE",
                "performAutoTraining": False,
                "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization",
                "creationDateTime": created,
            }
        },
    )
    finished = {"status": "ACTIVE", "creationDateTime": created}
    script.set("personalize", "ListDatasetImportJobs", {"datasetImportJobs": [{"jobName": "old", **finished}]})
    script.set("personalize", "ListSolutionVersions", {"solutionVersions": [{**finished}]})
    script.set("personalize", "ListBatchInferenceJobs", {"batchInferenceJobs": [{"jobName": "old", **finished}]})
    script.set(
        "service-quotas",
        "ListServiceQuotas",
        {
            "Quotas": [
                {"ServiceCode": "personalize", "QuotaCode": code, "QuotaName": name, "Value": value, "Adjustable": True}
                for code, name, value in PERSONALIZE_QUOTAS
            ]
        },
    )
    script.set("service-quotas", "ListAWSDefaultServiceQuotas", {"Quotas": []})


def allowed(params: dict[str, Any]) -> dict[str, Any]:
    """The policy simulator's answer when identity policies allow the action."""
    return {
        "EvaluationResults": [
            {
                "EvalActionName": params["ActionNames"][0],
                "EvalResourceName": params["ResourceArns"][0],
                "EvalDecision": "allowed",
            }
        ],
        "IsTruncated": False,
    }


def doctor_session() -> boto3.Session:
    """Like `fake_session`, but on a botocore session of its own: every boto3 session registers
    its S3 client customisations on the botocore session, and a second registration on the
    shared one breaks the next S3 client. The parsed service models are shared all the same."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _CORE_SESSION.get_component("data_loader"))
    return boto3.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing", botocore_session=core
    )


@pytest.fixture
def healthy(moto_aws: None) -> DoctorWorld:
    script = ScriptedAws()
    session = script.attach(doctor_session())
    layer_arn = _functions(session)
    sns = session.client("sns")
    topic_arn = sns.create_topic(Name="pbp-dev-alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint="ops@example.com")
    s3 = session.client("s3")
    s3.create_bucket(Bucket=RAW_BUCKET)
    for key, body in RAW_FILES.items():
        s3.put_object(Bucket=RAW_BUCKET, Key=key, Body=body)
    s3.put_object(Bucket=RAW_BUCKET, Key="ratings/_SUCCESS", Body=b"")
    session.client("glue").create_job(
        Name=GLUE_JOB,
        Role=GLUE_ROLE,
        Command={"Name": "glueetl", "ScriptLocation": "s3://assets/job.py"},
        DefaultArguments={"--input_uri": f"s3://{RAW_BUCKET}/{RAW_PREFIX}"},
    )
    session.client("scheduler").create_schedule(
        Name=SCHEDULE_NAME,
        ScheduleExpression="cron(0 3 ? * SUN *)",
        ScheduleExpressionTimezone="Europe/Berlin",
        State="ENABLED",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:pbp-dev-pipeline",
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/pbp-dev-scheduler",
        },
    )
    _stack(
        session,
        STACK,
        {"Marker": {"Type": "AWS::SNS::Topic"}},
        {
            "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:pbp-dev-pipeline",
            "AlertTopicArn": topic_arn,
            "GlueJobName": GLUE_JOB,
            "SolutionArnParameterNames": SOLUTION_PARAMETER,
        },
    )
    solution_parameter = {"Type": "String", "Name": SOLUTION_PARAMETER, "Value": SOLUTION_ARN}
    _stack(
        session,
        DATA_STACK,
        {"SolutionArnParameter": {"Type": "AWS::SSM::Parameter", "Properties": solution_parameter}},
        {
            "RawBucketName": RAW_BUCKET,
            "DataKeyArn": DATA_KEY_ARN,
            "DatasetGroupArn": DATASET_GROUP_ARN,
            "SolutionArns": SOLUTION_ARN,
            "SolutionArnParameterNames": SOLUTION_PARAMETER,
        },
    )
    script.set("cloudformation", "ListStackResources", _stack_resources(topic_arn))
    script.set("lambda", "GetLayerVersionByArn", lambda params: {"LayerVersionArn": params["Arn"], "Version": 1})
    script.set("iam", "SimulatePrincipalPolicy", allowed)
    _personalize_script(script)
    return DoctorWorld(session, script, layer_arn, topic_arn)
