"""What Amazon Personalize may touch: its service role, the bucket policies and the key policy.

Personalize reads its input and writes batch output as the service, under the role we pass it;
S3 and KMS check both the role's policy and the resource policy, so each statement exists on
both sides, and every resource-side statement is pinned to this account (confused deputy).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from pipeline_contracts.run_layout import RUNS_PREFIX
from stacks.nag import acknowledge_wildcard

PERSONALIZE_PRINCIPAL = "personalize.amazonaws.com"
READ_ACTIONS = ("s3:GetObject",)
WRITE_ACTIONS = ("s3:PutObject",)
LIST_ACTIONS = ("s3:ListBucket",)
KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants")


class PersonalizeAccess(Construct):
    """The Personalize service role and the resource policies that let it read input and write output.

    Attributes:
        service_role: passed to Personalize (dataset group, import and batch inference jobs).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        data_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        personalize_arns_of_this_account = Stack.of(self).format_arn(service="personalize", resource="*")
        self.service_role = iam.Role(
            self,
            "ServiceRole",
            description="Assumed by Amazon Personalize to read the pipeline's input and write batch output",
            assumed_by=iam.ServicePrincipal(
                PERSONALIZE_PRINCIPAL,
                conditions={
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": personalize_arns_of_this_account},
                },
            ),
        )

        # S3 does not reliably see an aws:SourceArn for Personalize's reads, so the bucket side
        # is pinned with aws:SourceAccount only (the role's trust policy has both).
        source_account = {"StringEquals": {"aws:SourceAccount": account}}
        service = iam.ServicePrincipal(PERSONALIZE_PRINCIPAL)
        for bucket, object_actions, sid in (
            (input_bucket, READ_ACTIONS, "PersonalizeReadsRunInputs"),
            (output_bucket, WRITE_ACTIONS, "PersonalizeWritesRunOutputs"),
        ):
            for statement in self._bucket_statements(bucket, object_actions):
                self.service_role.add_to_principal_policy(statement)
            acknowledge_wildcard(
                self.service_role,
                bucket.arn_for_objects(f"{RUNS_PREFIX}*"),
                f"Each run reads or writes objects under {RUNS_PREFIX}<execution>/ whose names are only known at run "
                "time; the wildcard covers the run prefix only, with one object action (no listing wildcard).",
            )
            statements = self._bucket_statements(bucket, object_actions)
            for suffix, statement in zip(("Objects", "Listing"), statements, strict=True):
                statement.sid = f"{sid}{suffix}"
                statement.add_principals(service)
                statement.add_conditions(source_account)
                bucket.add_to_resource_policy(statement)

        # The role's side: its own policy, honoured because the key policy delegates to IAM (the
        # account statement). Naming the role in the key policy instead would make KMS reject the
        # key policy whenever the new role is not yet visible to it (MalformedPolicyDocument).
        data_key.grant(self.service_role, *KEY_ACTIONS)
        # The service itself is named in the key policy, pinned to this account.
        data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeServiceUsesDataKey",
                principals=[service],
                actions=list(KEY_ACTIONS),
                resources=["*"],
                conditions=source_account,
            )
        )

    @staticmethod
    def _bucket_statements(bucket: s3.IBucket, object_actions: tuple[str, ...]) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(actions=list(object_actions), resources=[bucket.arn_for_objects(f"{RUNS_PREFIX}*")]),
            # Personalize lists the bucket to find the files of a folder; a listing shows key
            # names only, and an s3:prefix condition would break its undocumented probes.
            iam.PolicyStatement(actions=list(LIST_ACTIONS), resources=[bucket.bucket_arn]),
        ]
