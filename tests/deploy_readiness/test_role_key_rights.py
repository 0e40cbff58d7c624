"""Every role handed to a service together with a KMS key holds the KMS actions that service
documents for that use, and the key lets IAM policies grant its use.

The (role, key, use) triples are derived from the templates:
- a Glue job's role and the keys of the job's security configuration (S3, CloudWatch Logs, job
  bookmarks);
- a Personalize dataset group's role and the dataset group's key;
- every role allowed to read or write objects of a bucket, and the bucket's default SSE-KMS key.
(Roles that send to an encrypted topic or queue are checked with the other senders in
test_publishers.)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from tests.deploy_readiness.conftest import SynthesizedApp
from tests.deploy_readiness.model import AppModel, Res, allows_action, as_list

# Glue Developer Guide, "Setting up encryption in AWS Glue": the job role's rights on the key of
# each part of a security configuration.
GLUE_DATA_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
GLUE_LOGS_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")
# Personalize Developer Guide, "Giving Amazon Personalize permission to use your AWS KMS key".
PERSONALIZE_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants")
# S3 User Guide, SSE-KMS permissions: reading needs Decrypt; writing needs GenerateDataKey, and
# Decrypt too for multipart uploads (which Spark and the SDKs use for large objects).
S3_READ_KEY_ACTIONS = ("kms:Decrypt",)
S3_WRITE_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


@dataclass(frozen=True)
class KeyUse:
    what: str
    role: Res
    key: Res
    actions: tuple[str, ...]


def key_uses(model: AppModel) -> list[KeyUse]:
    return [*_glue_uses(model), *_personalize_uses(model), *_bucket_uses(model)]


def _glue_uses(model: AppModel) -> list[KeyUse]:
    uses = []
    for job, resource in model.resources("AWS::Glue::Job"):
        properties = resource["Properties"]
        configuration = _security_configuration(model, job.stack, properties.get("SecurityConfiguration"))
        if configuration is None:
            continue
        role = model.target(job.stack, properties["Role"])
        encryption = model.properties(configuration)["EncryptionConfiguration"]
        parts = [(f"S3 {e['S3EncryptionMode']}", e, GLUE_DATA_KEY_ACTIONS) for e in encryption.get("S3Encryptions", [])]
        parts.append(("CloudWatch Logs", encryption.get("CloudWatchEncryption", {}), GLUE_LOGS_KEY_ACTIONS))
        parts.append(("job bookmarks", encryption.get("JobBookmarksEncryption", {}), GLUE_DATA_KEY_ACTIONS))
        for part, settings, actions in parts:
            key = model.target(configuration.stack, settings.get("KmsKeyArn"))
            if key is not None:
                uses.append(KeyUse(f"Glue job {job} ({part})", role, key, actions))
    return uses


def _security_configuration(model: AppModel, stack: str, value: object) -> Res | None:
    if value is None:
        return None
    by_reference = model.target(stack, value)
    if by_reference is not None:
        return by_reference
    return next(c for c, r in model.resources("AWS::Glue::SecurityConfiguration") if model.render(c.stack, r["Properties"]["Name"]) == value)


def _personalize_uses(model: AppModel) -> list[KeyUse]:
    return [
        KeyUse(f"Personalize dataset group {group}", model.target(group.stack, r["Properties"]["RoleArn"]), key, PERSONALIZE_KEY_ACTIONS)
        for group, r in model.resources("AWS::Personalize::DatasetGroup")
        if (key := model.target(group.stack, r["Properties"].get("KmsKeyArn"))) is not None
    ]


def _bucket_uses(model: AppModel) -> list[KeyUse]:
    uses = []
    for bucket, key in _bucket_keys(model):
        objects = model.arn_of(bucket) + "/"
        for policy, resource in model.resources("AWS::IAM::Policy"):
            statements = [
                s for s in as_list(resource["Properties"]["PolicyDocument"]["Statement"])
                if any(model.render(policy.stack, r).startswith(objects) for r in as_list(s.get("Resource", [])))
            ]
            actions = _s3_key_actions(statements)
            for role_ref in resource["Properties"].get("Roles", []) if actions else []:
                uses.append(KeyUse(f"objects of {bucket}", model.target(policy.stack, role_ref), key, actions))
    return uses


def _bucket_keys(model: AppModel) -> list[tuple[Res, Res]]:
    found = []
    for bucket, resource in model.resources("AWS::S3::Bucket"):
        for rule in resource["Properties"].get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
            key = model.target(bucket.stack, rule["ServerSideEncryptionByDefault"].get("KMSMasterKeyID"))
            if key is not None:
                found.append((bucket, key))
    return found


def _s3_key_actions(statements: list[dict]) -> tuple[str, ...]:
    writes = any(allows_action(s, "s3:PutObject") for s in statements)
    reads = any(allows_action(s, "s3:GetObject") for s in statements)
    return S3_WRITE_KEY_ACTIONS if writes else S3_READ_KEY_ACTIONS if reads else ()


def problems(model: AppModel) -> list[str]:
    found = []
    for use in key_uses(model):
        key_arn = model.arn_of(use.key)
        found += [f"{use.what}: role {use.role} lacks {action} on {use.key}" for action in use.actions if not model.role_allows(use.role, action, key_arn)]
        found += [] if model.key_delegates_to_account(use.key) else [f"{use.what}: key {use.key} does not let IAM policies grant its use"]
    return found


def test_every_role_handed_a_key_holds_what_its_service_needs(variant: SynthesizedApp) -> None:
    uses = key_uses(variant.model)
    assert {use.what.split()[0] for use in uses} == {"Glue", "Personalize", "objects"}
    assert problems(variant.model) == []


def test_the_check_catches_the_glue_role_without_rights_on_the_logs_key(variant: SynthesizedApp) -> None:
    model = variant.model
    (logs,) = [use for use in key_uses(model) if use.what.endswith("(CloudWatch Logs)")]
    templates = copy.deepcopy(model.templates)
    for policy, resource in AppModel(templates).resources("AWS::IAM::Policy"):
        document = resource["Properties"]["PolicyDocument"]
        document["Statement"] = [
            s for s in as_list(document["Statement"])
            if not any(model.render(policy.stack, r) == model.arn_of(logs.key) for r in as_list(s.get("Resource", [])))
        ]
    assert problems(AppModel(templates)) == [f"{logs.what}: role {logs.role} lacks {action} on {logs.key}" for action in GLUE_LOGS_KEY_ACTIONS]
