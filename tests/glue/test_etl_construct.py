"""The RatingsEtl construct: the Glue job, its security configuration, its role's scope, and a
cdk-nag AwsSolutions check with no unacknowledged finding."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.config import PipelineConfig
from stacks.etl import GLUE_LOGS_KEY_ACTIONS, RatingsEtl
from tests.support.templates import as_list, logical_id_of, role_statements

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

CUSTOM = PipelineConfig(
    prefix="etl",
    environment="test",
    raw_prefix="incoming/ml/",
    raw_delimiter=",",
    raw_has_header=False,
    raw_user_column="0",
    raw_item_column="1",
    raw_rating_column="2",
    raw_timestamp_column="3",
    raw_timestamp_unit="s",
    raw_encoding="latin-1",
    min_rating=4.0,
    glue_worker_type="G.2X",
    glue_worker_count=5,
    glue_timeout_minutes=120,
)


class DataResources(cdk.Stack):
    """What the etl construct is handed: two KMS buckets (with access logs) and two keys."""

    def __init__(self, scope: Any, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.data_key = kms.Key(self, "DataKey", enable_key_rotation=True)
        self.logs_key = kms.Key(self, "LogsKey", enable_key_rotation=True)
        access_logs = s3.Bucket(self, "AccessLogs", enforce_ssl=True, encryption=s3.BucketEncryption.S3_MANAGED)
        cdk.Validations.of(access_logs).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-S1", reason="Test scaffolding: the access-log bucket does not log itself.")
        )
        self.raw, self.transformed = (
            s3.Bucket(
                self,
                name,
                encryption=s3.BucketEncryption.KMS,
                encryption_key=self.data_key,
                enforce_ssl=True,
                server_access_logs_bucket=access_logs,
                server_access_logs_prefix=f"{name}/",
            )
            for name in ("Raw", "Transformed")
        )


def _etl(scope: Any, data: DataResources, config: PipelineConfig, construct_id: str = "Etl") -> RatingsEtl:
    return RatingsEtl(
        scope,
        construct_id,
        config=config,
        raw_bucket=data.raw,
        transformed_bucket=data.transformed,
        data_key=data.data_key,
        logs_key=data.logs_key,
    )


class UnacknowledgedEtl(RatingsEtl):
    """A control: the construct without its acknowledgments, whose findings must surface."""

    def _acknowledge_findings(self, *args: Any) -> None:
        return None


class EtlStack(cdk.Stack):
    """The construct in a stack of its own, given resources of another stack (as the pipeline does)."""

    def __init__(self, scope: Any, construct_id: str, *, data: DataResources, construct: type[RatingsEtl] = RatingsEtl) -> None:
        super().__init__(scope, construct_id)
        self.etl = construct(
            self,
            "Etl",
            config=PipelineConfig(),
            raw_bucket=data.raw,
            transformed_bucket=data.transformed,
            data_key=data.data_key,
            logs_key=data.logs_key,
        )


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One app, synthesized once with cdk-nag's AwsSolutions checks: the construct with the default
    and a custom config next to its buckets (EtlTest), in a stack of its own (EtlTestCross, as the
    pipeline uses it), and a control without acknowledgments (EtlTestControl), whose findings make
    the synth fail by design. The templates are on disk before the validation runs."""
    outdir = tmp_path_factory.mktemp("etl-cdk")
    app = cdk.App(outdir=str(outdir))
    data = DataResources(app, "EtlTest")
    default, custom = _etl(data, data, PipelineConfig()), _etl(data, data, CUSTOM, "CustomEtl")
    EtlStack(app, "EtlTestCross", data=data)
    EtlStack(app, "EtlTestControl", data=data, construct=UnacknowledgedEtl)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="ValidationFailed"):  # the control's findings
        app.synth()
    violations: dict[str, set[str]] = {}
    for plugin in json.loads((outdir / "validation-report.json").read_text())["pluginReports"]:
        for violation in plugin["violations"]:
            for construct in violation["violatingConstructs"]:
                violations.setdefault(construct["constructPath"], set()).add(violation["ruleName"])
    template = Template.from_json(json.loads((outdir / "EtlTest.template.json").read_text()))
    return {"data": data, "default": default, "custom": custom, "template": template, "outdir": outdir, "violations": violations}


def _job(stacks: dict[str, Any], which: str) -> dict[str, Any]:
    return stacks["template"].to_json()["Resources"][logical_id_of(stacks[which].job)]["Properties"]


def _statements(stacks: dict[str, Any], which: str) -> list[dict[str, Any]]:
    return role_statements(stacks["template"], logical_id_of(stacks[which].role))


def test_job_is_a_glue_5_pyspark_job_with_the_configured_capacity(stacks: dict[str, Any]) -> None:
    for which, worker_type, workers, timeout in (("default", "G.1X", 2, 60), ("custom", "G.2X", 5, 120)):
        job = _job(stacks, which)
        assert job["Command"]["Name"] == "glueetl" and job["Command"]["PythonVersion"] == "3"
        assert job["Command"]["ScriptLocation"]["Fn::Join"][1][-1].endswith(".py")
        assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == ("5.0", worker_type, workers, timeout)
        assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1} and job["MaxRetries"] == 0
        assert job["SecurityConfiguration"] == {"Ref": logical_id_of(stacks[which].security_configuration)}
        assert job["Role"] == {"Fn::GetAtt": [logical_id_of(stacks[which].role), "Arn"]}
    assert _job(stacks, "default")["Name"] == "pbp-dev-ratings-etl"


def _s3_uri(stacks: dict[str, Any], bucket: s3.IBucket, prefix: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["s3://", {"Ref": logical_id_of(bucket)}, prefix]]}


def test_default_arguments_carry_the_contract_from_buckets_and_config(stacks: dict[str, Any]) -> None:
    data = stacks["data"]
    expected = {
        "default": {
            "--input_uri": _s3_uri(stacks, data.raw, "/ratings/"),
            "--output_uri": _s3_uri(stacks, data.transformed, "/runs/"),
            "--min_rating": "3.5",
            "--delimiter": "tab",
            "--has_header": "true",
            "--user_column": "userID",
            "--item_column": "movieID",
            "--rating_column": "rating",
            "--timestamp_column": "timestamp",
            "--timestamp_unit": "ms",
            "--encoding": "utf-8",
        },
        "custom": {
            "--input_uri": _s3_uri(stacks, data.raw, "/incoming/ml/"),
            "--output_uri": _s3_uri(stacks, data.transformed, "/runs/"),
            "--min_rating": "4",
            "--delimiter": ",",
            "--has_header": "false",
            "--user_column": "0",
            "--item_column": "1",
            "--rating_column": "2",
            "--timestamp_column": "3",
            "--timestamp_unit": "s",
            "--encoding": "latin-1",
        },
    }
    for which, contract in expected.items():
        arguments = _job(stacks, which)["DefaultArguments"]
        assert {key: arguments.get(key) for key in contract} == contract
        assert "--run_id" not in arguments  # passed per run by the state machine
        assert arguments["--enable-auto-scaling"] == "true"
        assert "--enable-continuous-cloudwatch-log" not in arguments  # Glue 5.0 logs in real time anyway
        assert arguments["--job-bookmark-option"] == "job-bookmark-disable"
        assert arguments["--extra-py-files"]["Fn::Join"][1][-1].endswith(".zip")


def test_extra_py_files_zip_holds_only_the_glue_modules_the_job_imports_and_their_contracts(stacks: dict[str, Any]) -> None:
    manifest = json.loads((stacks["outdir"] / "EtlTest.assets.json").read_text())
    sources = [entry["source"] for entry in manifest["files"].values()]
    (archive,) = [source for source in sources if source.get("packaging") == "zip"]
    root = stacks["outdir"] / archive["path"]
    assert sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()) == [
        "glue_src/__init__.py",
        "glue_src/arguments.py",
        "glue_src/counts.py",
        "glue_src/incremental.py",
        "glue_src/inputs.py",
        "glue_src/layouts.py",
        "glue_src/ledger_store.py",
        "glue_src/limits.py",
        "glue_src/messages.py",
        "glue_src/metadata.py",
        "glue_src/metadata_sources.py",
        "glue_src/outputs.py",
        "glue_src/rows.py",
        "glue_src/summary.py",
        "glue_src/transform.py",
        "pipeline_contracts/__init__.py",
        "pipeline_contracts/etl_ledger.py",
        "pipeline_contracts/event_types.py",
        "pipeline_contracts/metadata_datasets.py",
        "pipeline_contracts/run_layout.py",
        "pipeline_contracts/solutions.py",  # batch_input_entry: the folder of each batch input
    ]  # not job.py (the script asset), nor the local runner or the sample
    (script,) = [source for source in sources if source["path"].endswith(".py")]
    assert (stacks["outdir"] / script["path"]).read_text() == (Path(__file__).parents[2] / "glue_src" / "job.py").read_text()


def test_security_configuration_encrypts_s3_logs_and_bookmarks_with_kms(stacks: dict[str, Any]) -> None:
    data = stacks["data"]
    data_key = {"Fn::GetAtt": [logical_id_of(data.data_key), "Arn"]}
    logs_key = {"Fn::GetAtt": [logical_id_of(data.logs_key), "Arn"]}
    stacks["template"].has_resource_properties(
        "AWS::Glue::SecurityConfiguration",
        {
            "Name": "pbp-dev-etl",
            "EncryptionConfiguration": {
                "S3Encryptions": [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": data_key}],
                "CloudWatchEncryption": {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": logs_key},
                "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": data_key},
            },
        },
    )


def test_role_is_glue_only_with_no_managed_policies(stacks: dict[str, Any]) -> None:
    role = stacks["template"].to_json()["Resources"][logical_id_of(stacks["default"].role)]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role and "Policies" not in role


def _object_resources(statement: dict[str, Any], bucket_id: str) -> list[str]:
    """The key patterns of `<bucket>/<pattern>` resources of one statement."""
    patterns = []
    for resource in as_list(statement["Resource"]):
        parts = resource.get("Fn::Join", ["", []])[1] if isinstance(resource, dict) else []
        if parts[:1] == [{"Fn::GetAtt": [bucket_id, "Arn"]}]:
            patterns.append(parts[1])
    return patterns


def test_role_reads_only_the_raw_prefix_and_writes_only_runs(stacks: dict[str, Any]) -> None:
    data = stacks["data"]
    raw, transformed = logical_id_of(data.raw), logical_id_of(data.transformed)
    for which, raw_prefix in (("default", "/ratings/*"), ("custom", "/incoming/ml/*")):
        statements = _statements(stacks, which)
        for statement in statements:
            actions = as_list(statement["Action"])
            assert "s3:*" not in actions and "*" not in actions and statement["Effect"] == "Allow"
            assert all(pattern == raw_prefix for pattern in _object_resources(statement, raw)), statement
            assert all(pattern == "/runs/*" for pattern in _object_resources(statement, transformed)), statement
            writes = [action for action in actions if action.startswith(("s3:Put", "s3:Delete", "s3:Abort"))]
            if writes:  # writes only to transformed runs/* objects and the bucket itself (ListBucket)
                assert _object_resources(statement, raw) == [] and _object_resources(statement, transformed) == ["/runs/*"]
            if statement["Resource"] == "*":
                assert actions == ["cloudwatch:PutMetricData"]
                assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}
        reads = [s for s in statements if "s3:GetObject*" in as_list(s["Action"])]
        assert sorted(p for s in reads for p in _object_resources(s, raw)) == [raw_prefix]
        assert sorted(p for s in reads for p in _object_resources(s, transformed)) == ["/runs/*"]


def test_role_uses_the_data_key_and_the_logs_key_and_writes_only_glue_job_logs(stacks: dict[str, Any]) -> None:
    data_key = {"Fn::GetAtt": [logical_id_of(stacks["data"].data_key), "Arn"]}
    logs_key = {"Fn::GetAtt": [logical_id_of(stacks["data"].logs_key), "Arn"]}
    statements = _statements(stacks, "default")
    kms_statements = [s for s in statements if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert kms_statements and all(s["Resource"] in (data_key, logs_key) for s in kms_statements)
    (on_logs_key,) = [s for s in kms_statements if s["Resource"] == logs_key]
    assert sorted(on_logs_key["Action"]) == sorted(GLUE_LOGS_KEY_ACTIONS)
    (logs,) = [s for s in statements if any(a.startswith("logs:") for a in as_list(s["Action"]))]
    assert sorted(logs["Action"]) == ["logs:AssociateKmsKey", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"]["Fn::Join"][1][-1] == ":log-group:/aws-glue/jobs*"


def test_security_configuration_is_deleted_with_the_stack(stacks: dict[str, Any]) -> None:
    resource = stacks["template"].to_json()["Resources"][logical_id_of(stacks["default"].security_configuration)]
    assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Delete", "Delete")


def test_cdk_nag_aws_solutions_reports_nothing_unacknowledged_for_the_construct(stacks: dict[str, Any]) -> None:
    assert {path: rules for path, rules in stacks["violations"].items() if not path.startswith("EtlTestControl/")} == {}


def test_cdk_nag_check_is_live_the_control_without_acknowledgments_fails(stacks: dict[str, Any]) -> None:
    control = "EtlTestControl/Etl/Role/DefaultPolicy/Resource"
    assert set(stacks["violations"]) == {control}
    assert {rule.split("[")[0] for rule in stacks["violations"][control]} == {"AwsSolutions-IAM5"}
