"""The incremental ETL's two steps in the state machine (etl_incremental; the ledger: pipeline_contracts/etl_ledger.py).

    Transform: full rebuild asked?   the execution input's `full_rebuild` (a boolean; `pipeline_cli start
                                     --full-rebuild`) -> `$.etl.fullRebuild` "true" / "false", the Glue job's
                                     `--full_rebuild` argument
    Post-process: promote the ETL ledger   on the success path only (every solution succeeded, the versions
                                     accepted), before the completion event: S3 CopyObject of
                                     runs/<run>/_ledger.json to state/ledger.json, so the next run reads what this one
                                     did not. A failed run promotes nothing: the next run starts from the last
                                     successful ledger and reads this run's new objects again.

A promotion that still fails after its retries fails the run (`LedgerNotPromoted`) although its output is
published, as a model version that cannot be recorded does: the next run would otherwise read this run's objects
again unnoticed (harmless: an INCREMENTAL import drops identical records). A redrive repeats just that step.

IAM (the state machine's role): s3:GetObject on runs/*/_ledger.json, s3:PutObject on state/ledger.json only, and the
data key for the SSE-KMS objects. No function: one SDK call.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_contracts import run_layout
from stacks.model_gate import _failed_after_publishing

JsonPath = sfn.JsonPath
LEDGER_NOT_PROMOTED_ERROR = "LedgerNotPromoted"
FULL_REBUILD_INPUT = "full_rebuild"  # the execution input's field
FULL_REBUILD_PATH = "$.etl.fullRebuild"  # what the Glue job's --full_rebuild reads
# S3 names the missing source of CopyObject NoSuchKey; Step Functions adds "Exception" to S3's error names.
NO_PROPOSED_LEDGER_ERROR = "S3.NoSuchKeyException"
PROMOTE_RETRY_ERRORS = ["S3.S3Exception", "S3.SdkClientException", "States.Timeout"]


def full_rebuild_choice(scope: Construct, then: sfn.IChainable) -> sfn.Choice:
    """"Transform: full rebuild asked?": `$.etl.fullRebuild` "true" when the execution input's `full_rebuild` is the
    boolean true, "false" otherwise (absent, false, or any other value), then `then`."""
    asked = f"$.{FULL_REBUILD_INPUT}"

    def flag(value: str) -> sfn.Pass:
        state = sfn.Pass(
            scope,
            f"Transform: full rebuild {value}",
            result=sfn.Result.from_object({"fullRebuild": value}),
            result_path="$.etl",
        )
        state.next(then)
        return state

    return (
        sfn.Choice(scope, "Transform: full rebuild asked?")
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_present(asked),
                sfn.Condition.is_boolean(asked),
                sfn.Condition.boolean_equals(asked, True),
            ),
            flag("true"),
        )
        .otherwise(flag("false"))
    )


def promotion_wildcard_reasons(incremental: bool, transformed_bucket: s3.IBucket) -> dict[str, str]:
    """The promotion's IAM wildcard with the reason cdk-nag is told (on the state machine's role), if it runs."""
    if not incremental:
        return {}
    return {
        transformed_bucket.arn_for_objects(run_layout.run_key("*", run_layout.PROPOSED_LEDGER)): (
            "Run folders are named per execution (runs/<run>/); the pattern is each run's proposed ETL ledger only, "
            "read to copy it to state/ledger.json."
        )
    }


def promote_ledger(
    scope: Construct, *, transformed_bucket: s3.IBucket, data_key: kms.IKey
) -> tuple[tasks.CallAwsService, sfn.Pass]:
    """"Post-process: promote the ETL ledger" (its catch ends the run in LedgerNotPromoted), and the state its
    missing source leads to (both go on to what follows)."""
    proposed = run_layout.run_key("{}", run_layout.PROPOSED_LEDGER)
    copy = tasks.CallAwsService(
        scope,
        "Post-process: promote the ETL ledger",
        service="s3",
        action="copyObject",
        iam_action="s3:PutObject",
        iam_resources=[transformed_bucket.arn_for_objects(run_layout.LEDGER_KEY)],
        additional_iam_statements=[
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[transformed_bucket.arn_for_objects(run_layout.run_key("*", run_layout.PROPOSED_LEDGER))],
            ),
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[data_key.key_arn]),
        ],
        parameters={
            "Bucket": transformed_bucket.bucket_name,
            "Key": run_layout.LEDGER_KEY,
            "CopySource": JsonPath.format(
                f"{transformed_bucket.bucket_name}/{proposed}", JsonPath.string_at("$.run.id")
            ),
        },
        result_selector={"promoted": True, "ETag": JsonPath.string_at("$.CopyObjectResult.ETag")},
        result_path="$.ledger",
    )
    copy.add_retry(errors=PROMOTE_RETRY_ERRORS, interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
    not_promoted = _failed_after_publishing(
        scope, "ledger not promoted", LEDGER_NOT_PROMOTED_ERROR,
        "its ETL ledger could not be promoted (the next run reads the raw objects of this run again)", "$.ledgerError",
    )
    # No proposed ledger: the Glue job did not run incrementally (a job deployed before etl_incremental); the next
    # run starts from the last promoted ledger, as after a failed run. Recorded in the state, not an error.
    none_proposed = sfn.Pass(
        scope,
        "Post-process: no ETL ledger proposed",
        parameters={"promoted": False, "reason": JsonPath.string_at("$.ledgerError.Cause")},
        result_path="$.ledger",
    )
    copy.add_catch(none_proposed, errors=[NO_PROPOSED_LEDGER_ERROR], result_path="$.ledgerError")
    copy.add_catch(not_promoted, errors=["States.ALL"], result_path="$.ledgerError")
    return copy, none_proposed
