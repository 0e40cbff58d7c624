"""What the stateful stack promises: encrypted private buckets, Personalize access pinned to this
account, rotated keys, and data that survives a stack deletion unless config says otherwise."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from tests.support.cdk_app import synth, templates_of
from tests.support.templates import bucket_policy_statements, grants, logical_id, resources, role_statements


def _data_bucket_ids(template: Template) -> list[str]:
    return sorted(bucket_id for bucket_id in resources(template, "AWS::S3::Bucket") if "AccessLogs" not in bucket_id)


def test_three_data_buckets_and_an_access_log_bucket(data_template: Template) -> None:
    data_template.resource_count_is("AWS::S3::Bucket", 4)
    assert [name[len("DataLake") :].rstrip("0123456789ABCDEF") for name in _data_bucket_ids(data_template)] == [
        "Curated",
        "Raw",
        "Transformed",
    ]


def test_every_data_bucket_is_encrypted_with_the_data_key(data_template: Template) -> None:
    data_key = logical_id(data_template, "AWS::KMS::Key", "/Keys/DataKey/")
    for bucket_id in _data_bucket_ids(data_template):
        properties = resources(data_template, "AWS::S3::Bucket")[bucket_id]["Properties"]
        (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": {"Fn::GetAtt": [data_key, "Arn"]},
        }, bucket_id
        assert rule["BucketKeyEnabled"] is True


def test_every_bucket_is_private_versioned_and_logged(data_template: Template) -> None:
    buckets = resources(data_template, "AWS::S3::Bucket")
    log_bucket = logical_id(data_template, "AWS::S3::Bucket", "/DataLake/AccessLogs/")
    for bucket_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, bucket_id
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}, bucket_id
        rule_ids = {rule["Id"] for rule in properties["LifecycleConfiguration"]["Rules"]}
        assert {"ExpireNoncurrentVersions", "AbortIncompleteMultipartUploads"} <= rule_ids, bucket_id
        if bucket_id != log_bucket:
            assert properties["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket}


def test_every_bucket_denies_plain_http(data_template: Template) -> None:
    for bucket_id in resources(data_template, "AWS::S3::Bucket"):
        denies = [
            statement
            for statement in bucket_policy_statements(data_template, bucket_id)
            if statement["Effect"] == "Deny"
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            and statement["Action"] == "s3:*"
        ]
        assert len(denies) == 1, bucket_id


@pytest.mark.parametrize(
    ("bucket", "object_action", "sid"),
    [("Transformed", "s3:GetObject", "PersonalizeReadsRunInputs"), ("Curated", "s3:PutObject", "PersonalizeWritesRunOutputs")],
)
def test_personalize_bucket_statements_are_pinned_to_this_account(
    data_template: Template, bucket: str, object_action: str, sid: str
) -> None:
    bucket_id = logical_id(data_template, "AWS::S3::Bucket", f"/DataLake/{bucket}/")
    statements = {s.get("Sid"): s for s in bucket_policy_statements(data_template, bucket_id)}
    same_account = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    objects, listing = statements[f"{sid}Objects"], statements[f"{sid}Listing"]
    for statement in (objects, listing):
        assert statement["Principal"] == {"Service": "personalize.amazonaws.com"}
        assert statement["Condition"] == same_account
        assert statement["Effect"] == "Allow"
    assert objects["Action"] == object_action
    assert objects["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/runs/*"]]}
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}


def test_raw_bucket_is_not_open_to_personalize(data_template: Template) -> None:
    bucket_id = logical_id(data_template, "AWS::S3::Bucket", "/DataLake/Raw/")
    assert all("Service" not in s.get("Principal", {}) for s in bucket_policy_statements(data_template, bucket_id))


def test_personalize_role_trust_has_confused_deputy_conditions(data_template: Template) -> None:
    data_template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "personalize.amazonaws.com"},
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                            "ArnLike": {
                                "aws:SourceArn": {
                                    "Fn::Join": [
                                        "",
                                        ["arn:", {"Ref": "AWS::Partition"}, ":personalize:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":*"],
                                    ]
                                }
                            },
                        },
                    }
                ]
            }
        },
    )


def test_personalize_role_policy_is_exactly_its_buckets_and_key(data_template: Template) -> None:
    role_id = logical_id(data_template, "AWS::IAM::Role", "/PersonalizeAccess/ServiceRole/")
    (policy,) = [p for p in resources(data_template, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]]
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]

    def arn(bucket: str, suffix: str = "") -> str:
        bucket_id = logical_id(data_template, "AWS::S3::Bucket", f"/DataLake/{bucket}/")
        value = {"Fn::GetAtt": [bucket_id, "Arn"]}
        return json.dumps({"Fn::Join": ["", [value, suffix]]} if suffix else value, sort_keys=True)

    data_key = json.dumps({"Fn::GetAtt": [logical_id(data_template, "AWS::KMS::Key", "/Keys/DataKey/"), "Arn"]})
    assert grants(role_statements(data_template, role_id)) == {
        "s3:GetObject": {arn("Transformed", "/runs/*")},
        "s3:PutObject": {arn("Curated", "/runs/*")},
        "s3:ListBucket": {arn("Transformed"), arn("Curated")},
        **{action: {data_key} for action in ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:ListGrants")},
    }


def test_keys_rotate_and_let_personalize_and_logs_in(data_template: Template) -> None:
    keys = resources(data_template, "AWS::KMS::Key")
    assert len(keys) == 3
    assert all(key["Properties"]["EnableKeyRotation"] is True for key in keys.values())
    data_key = keys[logical_id(data_template, "AWS::KMS::Key", "/Keys/DataKey/")]
    statements = {s.get("Sid"): s for s in data_key["Properties"]["KeyPolicy"]["Statement"]}
    key_actions = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:ListGrants"]
    service = statements["PersonalizeServiceUsesDataKey"]
    assert service["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert service["Action"] == key_actions
    assert service["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # The role is granted on its own side (a key policy naming a role of the same deployment can be
    # rejected by KMS at first deploy); the account statement of the key policy delegates to IAM.
    assert "PersonalizeRoleUsesDataKey" not in statements
    role_id = logical_id(data_template, "AWS::IAM::Role", "/PersonalizeAccess/ServiceRole/")
    data_key_arn = {"Fn::GetAtt": [logical_id(data_template, "AWS::KMS::Key", "/Keys/DataKey/"), "Arn"]}
    assert {"Action": key_actions, "Effect": "Allow", "Resource": data_key_arn} in role_statements(data_template, role_id)

    logs_key = keys[logical_id(data_template, "AWS::KMS::Key", "/Keys/LogsKey/")]
    logs = {s.get("Sid"): s for s in logs_key["Properties"]["KeyPolicy"]["Statement"]}["AllowCloudWatchLogsOfThisAccount"]
    assert logs["Principal"] == {"Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}}
    assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["ArnLike"]


def test_outputs_name_buckets_key_and_role(data_template: Template) -> None:
    # PublishOutput* are CDK's outputs for the pipeline stack's (weak) cross-stack references.
    documented = {name for name in data_template.find_outputs("*") if not name.startswith("PublishOutput")}
    assert documented == {
        "RawBucketName",
        "TransformedBucketName",
        "CuratedBucketName",
        "AccessLogsBucketName",
        "DataKeyArn",
        "PersonalizeRoleArn",
        "DatasetGroupArn",
        "SolutionArns",
        "SolutionArnParameterNames",
        "AcceptedVersionsTableName",
    }


def test_data_is_retained_and_stack_protected_by_default(default_app, data_template: Template) -> None:
    for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource_id, resource in resources(data_template, resource_type).items():
            assert resource["DeletionPolicy"] == "Retain", resource_id
            assert resource["UpdateReplacePolicy"] == "Retain", resource_id
    data_template.resource_count_is("Custom::S3AutoDeleteObjects", 0)
    assert default_app.data_stack.termination_protection is True


def test_destroy_policy_deletes_data_and_drops_protection(tmp_path) -> None:
    pipeline = synth(tmp_path, data_removal_policy="DESTROY")
    template = templates_of(pipeline)[pipeline.data_stack.stack_name]
    for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource_id, resource in resources(template, resource_type).items():
            assert resource["DeletionPolicy"] == "Delete", resource_id
    template.resource_count_is("Custom::S3AutoDeleteObjects", 4)
    template.has_resource_properties("AWS::KMS::Key", {"PendingWindowInDays": 7})
    assert pipeline.data_stack.termination_protection is False
