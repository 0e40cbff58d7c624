"""The Glue ETL job that turns raw ratings into Personalize inputs (`glue_src/`), with its own
least-privilege role and a KMS security configuration."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from pipeline_contracts.run_layout import LEDGER_KEY
from pipeline_contracts.run_layout import RUNS_PREFIX as OUTPUT_PREFIX  # runs/<run_id>/... of the transformed bucket
from pipeline_contracts.event_types import ALL_EVENT_TYPES, NO_COLUMN, NO_EVENT_TYPES
from pipeline_contracts.metadata_datasets import DISABLED as DISABLED_DATASET
from pipeline_contracts.solutions import ITEM_AFFINITY_ITEMS_PER_JOB
from stacks.bundling import copied_files, imported_modules, with_contracts
from stacks.config import PipelineConfig
from stacks.nag import acknowledge, acknowledge_wildcard

GLUE_SRC = Path(__file__).resolve().parent.parent / "glue_src"
JOB_SCRIPT = GLUE_SRC / "job.py"
GLUE_PACKAGE = GLUE_SRC.name  # job.py imports the transform and the Items / Users metadata from it
# Glue's log groups (output/error logs), named after the job, role and security configuration by
# Glue at run time: /aws-glue/jobs/..., /aws-glue/jobs-...
GLUE_LOG_GROUPS = "/aws-glue/jobs*"
# What the Glue documentation asks the job role to hold on the key of a security configuration's
# CloudWatch Logs encryption.
GLUE_LOGS_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")
# cdk.json holds a tab as "\t" (config decodes it); the job argument spells whitespace as a word
# so that no console, CLI or template round trip can strip it.
_DELIMITER_ARGUMENT = {"\t": "tab", " ": "space"}


def metadata_prefixes(config: PipelineConfig) -> list[str]:
    """The raw prefixes of the configured Items / Users sources, each once."""
    return sorted({source.prefix for spec in config.metadata_datasets for source in spec.sources})


def delimiter_argument(delimiter: str) -> str:
    return _DELIMITER_ARGUMENT.get(delimiter, delimiter)


# The batch inputs the job writes as files of id lines (attribute queries are per solution: `--item_attribute_queries`).
_LINE_INPUT_KINDS = ("users", "items")


def batch_input_arguments(config: PipelineConfig) -> dict[str, str]:
    """The job arguments that choose the batch inputs of the configured solutions (README "Solutions"):

    `--batch_inputs`: users and/or items, the shared id-line inputs some solution reads (users first);
    `--batch_items_top_n`: which items (0 = every item with a kept interaction);
    `--batch_items_per_file`: 500 when an item_affinity solution reads the items (one batch segment job takes at
    most 500 items, and planning makes a job of each file), 0 (no cap beyond the job's own) otherwise;
    `--item_attribute_queries`: {solution: [query, ...]} of the item_attribute_affinity solutions, "{}" if none."""
    kinds = set(config.batch_input_kinds)
    item_affinity = any(spec.output_kind.name == "item_affinity" for spec in config.solutions)
    queries = {spec.name: list(spec.queries) for spec in config.solutions if spec.input_kind == "item_attributes"}
    return {
        "--batch_inputs": ",".join(kind for kind in _LINE_INPUT_KINDS if kind in kinds),
        "--batch_items_top_n": str(config.batch_items_top_n),
        "--batch_items_per_file": str(ITEM_AFFINITY_ITEMS_PER_JOB if item_affinity else 0),
        "--item_attribute_queries": json.dumps(queries, separators=(",", ":")),
    }


def incremental_arguments(config: PipelineConfig, transformed_bucket: s3.IBucket) -> dict[str, str]:
    """With etl_incremental: the ledger's location and the rebuild cadence (`--full_rebuild` comes per run from the
    state machine); nothing otherwise, so a deployment without the feature keeps its arguments."""
    if not config.etl_incremental:
        return {}
    return {
        "--incremental": "true",
        "--ledger_uri": f"s3://{transformed_bucket.bucket_name}/{LEDGER_KEY}",
        "--full_rebuild_every_days": str(config.etl_full_rebuild_every_days),
    }


class RatingsEtl(Construct):
    """A Glue 5.0 PySpark job (`glue_src/job.py` + the `transform` module) reading
    `s3://<raw>/<raw_prefix>` and writing `s3://<transformed>/runs/<run_id>/`.

    The state machine passes `--run_id` per run; every other argument is a DefaultArgument
    from the config. Attributes: `job`, `role`, `security_configuration`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        raw_bucket: s3.IBucket,
        transformed_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = self._job_role(
            config, raw_bucket=raw_bucket, transformed_bucket=transformed_bucket, data_key=data_key, logs_key=logs_key
        )
        self.security_configuration = self._security_configuration(config, data_key=data_key, logs_key=logs_key)
        self.job = self._job(config, raw_bucket=raw_bucket, transformed_bucket=transformed_bucket)
        self._acknowledge_findings(raw_bucket, transformed_bucket, config)

    def _job_role(
        self,
        config: PipelineConfig,
        *,
        raw_bucket: s3.IBucket,
        transformed_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
    ) -> iam.Role:
        """The job's role: its data, its keys, its log groups and its metrics, nothing else."""
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description="Glue ratings ETL: reads raw ratings, writes the run's Personalize inputs",
        )
        # Data: read the raw prefix only, read/write (overwrite on a re-run) the runs/ prefix only.
        # The bucket grants add the data key (SSE-KMS) for exactly these operations.
        raw_bucket.grant_read(role, f"{config.raw_prefix}*")
        # Items / Users metadata: each configured source's prefix, nothing else of the raw bucket.
        for prefix in metadata_prefixes(config):
            raw_bucket.grant_read(role, f"{prefix}*")
        transformed_bucket.grant_read_write(role, f"{OUTPUT_PREFIX}*")
        if config.etl_incremental:
            # The last successful run's ledger (its history is under runs/, read above); the state machine
            # promotes a run's ledger, never the job.
            transformed_bucket.grant_read(role, LEDGER_KEY)
        # The security configuration encrypts S3 output (SSE-KMS) and job bookmarks (CSE-KMS)
        # with the data key: Glue calls KMS as the job role.
        data_key.grant(role, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        # Logs: Glue creates its log groups as the job role and associates the logs key with
        # them; the job's log writes are encrypted with that key as the job role, which needs
        # these rights on it (Glue's "encrypting data written by Glue" setup for CloudWatch Logs).
        logs_key.grant(role, *GLUE_LOGS_KEY_ACTIONS)
        log_groups = cdk.Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=GLUE_LOG_GROUPS,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueJobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                resources=[log_groups],
            )
        )
        # Job metrics (--enable-metrics, observability metrics) go to the Glue namespace;
        # PutMetricData has no resource-level permissions, the namespace condition scopes it.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GlueJobMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
            )
        )
        return role

    def _security_configuration(
        self, config: PipelineConfig, *, data_key: kms.IKey, logs_key: kms.IKey
    ) -> glue.SecurityConfiguration:
        """The job's encryption: S3 output (SSE-KMS) and bookmarks (CSE-KMS) with the data key, logs with the logs
        key."""
        security_configuration = glue.SecurityConfiguration(
            self,
            "SecurityConfiguration",
            security_configuration_name=config.resource_name("etl"),
            s3_encryption=glue.S3Encryption.kms(data_key),
            cloud_watch_encryption=glue.CloudWatchEncryption.kms(logs_key),
            job_bookmarks_encryption=glue.JobBookmarksEncryption.client_side_kms(data_key),
        )
        # The L2 keeps CloudFormation's default (Retain) under a fixed name: a destroyed stack
        # would leave it behind and the next deploy would fail with AlreadyExists. It holds no
        # data, only settings, so it goes with the stack.
        security_configuration.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        return security_configuration

    def _job(
        self, config: PipelineConfig, *, raw_bucket: s3.IBucket, transformed_bucket: s3.IBucket
    ) -> glue.PySparkEtlJob:
        """The job, its script and modules as assets, its arguments from the config."""
        # Assets, each read by the role by its exact key. The modules go in a zip with the
        # glue_src/ package (the modules job.py imports, directly or through each other) and the
        # pipeline_contracts/ modules they import at its root: Glue puts --extra-py-files zips on
        # sys.path, so job.py imports `glue_src.transform` as it does locally (a plain .py asset
        # would be renamed to <hash>.py).
        script = s3_assets.Asset(self, "Script", path=str(JOB_SCRIPT))
        module = s3_assets.Asset(
            self,
            "TransformModule",
            path=str(GLUE_SRC),
            bundling=copied_files(with_contracts(imported_modules([JOB_SCRIPT], GLUE_PACKAGE))),
            asset_hash_type=cdk.AssetHashType.OUTPUT,
        )

        job = glue.PySparkEtlJob(
            self,
            "Job",
            job_name=config.resource_name("ratings-etl"),
            description="Raw ratings -> Personalize interactions CSV, batch-input users, quarantine, summary",
            role=self.role,
            script=glue.Code.from_bucket(script.bucket, script.s3_object_key),
            extra_python_files=[glue.Code.from_bucket(module.bucket, module.s3_object_key)],
            glue_version=glue.GlueVersion.V5_0,
            worker_configuration=glue.WorkerConfiguration(
                worker_type=config.glue_worker,
                number_of_workers=config.glue_worker_count,
            ),
            timeout=Duration.minutes(config.glue_timeout_minutes),
            max_concurrent_runs=1,
            max_retries=0,  # the state machine decides about retries
            # Glue 5.0 logs in real time on its own; the L2 would otherwise add the legacy
            # --enable-continuous-cloudwatch-log argument, which does nothing there.
            continuous_logging=glue.ContinuousLoggingProps(enabled=False),
            security_configuration=self.security_configuration,
            default_arguments=self.default_arguments(config, raw_bucket, transformed_bucket),
        )
        # The L2 offers Flex only as another class (PySparkFlexEtlJob); the execution class is one property of the
        # same job, so it is set on the CfnJob from the config's mapping (stacks/config.py GLUE_EXECUTION_CLASSES).
        cfn_job = job.node.default_child
        assert isinstance(cfn_job, glue.CfnJob)
        cfn_job.execution_class = config.glue_execution.value
        return job

    @staticmethod
    def default_arguments(
        config: PipelineConfig, raw_bucket: s3.IBucket, transformed_bucket: s3.IBucket
    ) -> dict[str, str]:
        """Every job argument but --run_id (passed per run by the state machine)."""
        return {
            "--input_uri": f"s3://{raw_bucket.bucket_name}/{config.raw_prefix}",
            "--output_uri": f"s3://{transformed_bucket.bucket_name}/{OUTPUT_PREFIX}",
            "--min_rating": f"{config.min_rating:g}",
            "--delimiter": delimiter_argument(config.raw_delimiter),
            "--has_header": "true" if config.raw_has_header else "false",
            "--user_column": config.raw_user_column,
            "--item_column": config.raw_item_column,
            "--rating_column": config.raw_rating_column or NO_COLUMN,
            "--event_type_column": config.raw_event_type_column or NO_COLUMN,
            "--default_event_type": config.default_event_type,
            "--event_value_column": config.raw_event_value_column or NO_COLUMN,
            "--keep_event_types": ",".join(config.keep_event_types) or ALL_EVENT_TYPES,
            "--max_age_days": str(config.raw_max_age_days),
            # The event types solutions train on alone (`event_type`): the training minimum is checked per type.
            "--trained_event_types": ",".join(
                sorted({spec.event_type for spec in config.solutions if spec.event_type})
            ) or NO_EVENT_TYPES,
            "--timestamp_column": config.raw_timestamp_column,
            "--timestamp_unit": config.raw_timestamp_unit,
            "--encoding": config.raw_encoding,
            "--metadata_root_uri": f"s3://{raw_bucket.bucket_name}/",
            **{
                f"--{kind}_dataset": json.dumps(spec.as_json(), separators=(",", ":")) if spec else DISABLED_DATASET
                for kind, spec in (("items", config.items_dataset), ("users", config.users_dataset))
            },
            **batch_input_arguments(config),
            **incremental_arguments(config, transformed_bucket),
            "--enable-auto-scaling": "true",
            # No bookmarks: every run reads the whole raw prefix, or with etl_incremental what the ledger says (a
            # bookmark commits when the Glue job succeeds, not the run; see pipeline_contracts/etl_ledger.py).
            "--job-bookmark-option": "job-bookmark-disable",
        }

    def _acknowledge_findings(
        self, raw_bucket: s3.IBucket, transformed_bucket: s3.IBucket, config: PipelineConfig
    ) -> None:
        """Acknowledges, on the role's policy, each cdk-nag AwsSolutions-IAM5 finding it has by design."""
        policy = self.role.node.find_child("DefaultPolicy")
        findings = {
            "Action::s3:GetObject*": (
                "S3 read grant (GetObject, GetObjectVersion, ...) limited to the raw prefix, the runs/ prefix "
                "and the two script objects."
            ),
            "Action::s3:GetBucket*": (
                "S3 read grant: bucket metadata (location, versioning) of the raw, transformed and asset buckets, "
                "which Spark's S3 client reads."
            ),
            "Action::s3:List*": (
                "S3 read grant: Spark lists the raw prefix and the runs/ prefix it writes; no other bucket is listed."
            ),
            "Action::s3:DeleteObject*": (
                "S3 write grant: a re-run of the same run id overwrites runs/<run_id>/ and Spark's committer "
                "deletes its temporary files; limited to runs/*."
            ),
            "Action::s3:Abort*": "S3 write grant: aborting multipart uploads of the job's own output under runs/*.",
            "Action::kms:ReEncrypt*": (
                "On the data key (bucket grant, to write SSE-KMS objects) and the logs key (Glue's documented "
                "job-role rights for encrypted CloudWatch logs); only those two keys."
            ),
            "Action::kms:GenerateDataKey*": (
                "On the data key (bucket grant, to write SSE-KMS objects) and the logs key (Glue's documented "
                "job-role rights for encrypted CloudWatch logs); only those two keys."
            ),
            "Resource::*": (
                "cloudwatch:PutMetricData has no resource-level permissions; the statement is limited by the "
                "cloudwatch:namespace = Glue condition."
            ),
            f"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{GLUE_LOG_GROUPS}": (
                "Glue names the job's log groups at run time from the job, role and security configuration "
                "(/aws-glue/jobs/<config>-role/<role>/output|error); limited to Glue job log groups of this account "
                "and region."
            ),
        }
        for finding, reason in findings.items():
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
        for bucket, pattern, purpose in (
            (raw_bucket, f"{config.raw_prefix}*", "reads every raw file of the prefix"),
            *(
                (raw_bucket, f"{prefix}*", "reads every raw metadata file of the prefix")
                for prefix in metadata_prefixes(config)
            ),
            (transformed_bucket, f"{OUTPUT_PREFIX}*", "writes the run's outputs under runs/<run_id>/"),
        ):
            acknowledge_wildcard(
                policy,
                bucket.arn_for_objects(pattern),
                f"Objects under {pattern} of one bucket only: the job {purpose}, "
                "file names chosen by Spark at run time.",
            )
