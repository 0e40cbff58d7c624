"""Customer managed KMS keys: one for the data, one for logs, one for alerts and queues."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.publishers import alarms_key_statement, eventbridge_key_statement


class EncryptionKeys(Construct):
    """Keys with rotation on. Separate keys keep the blast radius of a key policy small: whoever
    may decrypt logs or alerts does not thereby read the interaction data.

    Attributes:
        data_key: the buckets, Personalize (dataset group, batch jobs) and Glue's S3 output.
        logs_key: CloudWatch Logs log groups (functions, state machine, Glue job logs).
        alerts_key: the SNS alert and notices topics and the schedule's dead-letter queue.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        # A destroyed dev stack still leaves a key for 7 days (the minimum), so data encrypted
        # under it can be recovered by cancelling the deletion.
        pending_window = Duration.days(7) if removal_policy == RemovalPolicy.DESTROY else None
        self.data_key = self._key(
            "DataKey",
            f"alias/{name_prefix}-data",
            "Interaction data and recommendations",
            removal_policy,
            pending_window,
        )
        self.logs_key = self._key(
            "LogsKey", f"alias/{name_prefix}-logs", "Pipeline logs", removal_policy, pending_window
        )
        self.alerts_key = self._key(
            "AlertsKey", f"alias/{name_prefix}-alerts", "Pipeline alerts and queues", removal_policy, pending_window
        )
        self._let_cloudwatch_logs_use(self.logs_key)
        self._let_alert_publishers_use(self.alerts_key, name_prefix)

    def _key(
        self,
        construct_id: str,
        alias: str,
        purpose: str,
        removal_policy: RemovalPolicy,
        pending_window: Duration | None,
    ) -> kms.Key:
        return kms.Key(
            self,
            construct_id,
            alias=alias,
            description=f"personalize-batch-pipeline: {purpose}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
            pending_window=pending_window,
        )

    def _let_cloudwatch_logs_use(self, key: kms.Key) -> None:
        # CloudWatch Logs encrypts with the key on the log group's behalf; the encryption
        # context condition limits it to log groups of this account and region.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )

    def _let_alert_publishers_use(self, key: kms.Key, name_prefix: str) -> None:
        # Alarms and EventBridge publish to the encrypted alert topic as services, not as an IAM
        # role of ours, so only the key policy can let them (scoping: stacks/publishers.py).
        key.add_to_resource_policy(alarms_key_statement(self, name_prefix))
        key.add_to_resource_policy(eventbridge_key_statement())
