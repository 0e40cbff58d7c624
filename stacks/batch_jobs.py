"""Batch-job planning: the two `lambda_src/batch_plan` functions and the states that call them.

A solution's batch input can exceed what one Personalize job reads (1 GB, 1000 files, 50 million records per
file), and batch jobs of one type share a quota of 5 in progress per region. `plan_batch_jobs` splits the input
into jobs and sets how many may run at once (`$.plan.max_concurrency`, the solution's share of the quota); it
writes `_plan.json` and `_jobs.json` under `runs/<id>/batch-jobs/<solution>/`, the latter read by the
solution's Distributed Map. `place_job_input` copies a job's files into its own part folder when the job reads a
subset of a shared input folder (a no-op otherwise).

Least privilege (each function its own role): plan lists the run's batch input folders and writes its plan
files; place reads the batch input and the plan, and writes and clears the part folders. Both encrypt with the
data key (the transformed bucket is SSE-KMS).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_contracts import run_layout
from pipeline_contracts.solutions import batch_input_entry
from stacks.config import PipelineConfig, SolutionSpec
from stacks.functions import PipelineFunction
from stacks.nag import acknowledge_wildcard

JsonPath = sfn.JsonPath
# The Glue job writes at most this many users per batch input file (README, "Batch input"); a file without a
# record count is assumed to hold this many when the plan checks Personalize's 50-million-records-per-file limit.
RECORDS_PER_FILE_MAX = 5_000_000
# What `plan_batch_jobs` returns besides the inline job list, kept in the state data (the list itself can grow
# with the input, so the Distributed Map reads it from `jobs_key` instead).
PLAN_FIELDS = (
    "solution", "job_type", "jobs_count", "files", "bytes", "records", "copies", "max_concurrency", "waves",
    "input_bucket", "output_bucket", "plan_key", "jobs_key",
)  # fmt: skip


class BatchJobPlanning(Construct):
    """The planning functions with least-privilege roles, and the states a solution's batch step needs.

    Attributes: `plan`, `place` (PipelineFunction), `functions` (their lambda functions), `transformed_bucket`
    (where the plans are: the Distributed Maps read `_jobs.json` from it).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        transformed_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        layers: list[lambda_.ILayerVersion],
    ) -> None:
        super().__init__(scope, construct_id)
        self._config, self._curated = config, curated_bucket
        self.transformed_bucket = transformed_bucket
        self.plan, self.place = self._functions(config, data_key=data_key, logs_key=logs_key, layers=layers)
        self.functions = [self.plan.function, self.place.function]
        # The batch input folders the configured solutions read (batch-input/, batch-input-items/,
        # batch-input-queries/<solution>/), and the plans' folder.
        inputs = [
            run_layout.run_key("*", batch_input_entry(kind, "*").rstrip("*/") + "/")
            for kind in config.batch_input_kinds
        ]
        batch_jobs = run_layout.run_key("*", run_layout.BATCH_JOBS)
        self._grant_plan(config, inputs=inputs, batch_jobs=batch_jobs, data_key=data_key)
        self._grant_place(inputs=inputs, batch_jobs=batch_jobs, data_key=data_key)

    def _functions(
        self, config: PipelineConfig, *, data_key: kms.IKey, logs_key: kms.IKey, layers: list[lambda_.ILayerVersion]
    ) -> tuple[PipelineFunction, PipelineFunction]:
        """plan_batch_jobs and place_job_input, sharing one environment."""
        environment = {
            "OUTPUT_KMS_KEY_ID": data_key.key_arn,
            "POWERTOOLS_SERVICE_NAME": config.resource_name("batch-plan"),
        }
        plan = PipelineFunction(
            self,
            "Plan",
            handler="batch_plan.handler.plan_batch_jobs",
            description="Splits a solution's batch input into Personalize jobs within the limits and quotas",
            logs_key=logs_key,
            memory_size=256,
            timeout=Duration.minutes(2),
            environment=environment,
            layers=layers,
        )
        place = PipelineFunction(
            self,
            "Place",
            handler="batch_plan.handler.place_job_input",
            description="Copies one batch job's input files into its own folder (server-side)",
            logs_key=logs_key,
            memory_size=512,
            # Up to 1000 server-side copies of at most 1 GB in total, 8 at a time.
            timeout=Duration.minutes(10),
            environment=environment,
            layers=layers,
        )
        return plan, place

    def _grant_plan(self, config: PipelineConfig, *, inputs: list[str], batch_jobs: str, data_key: kms.IKey) -> None:
        """plan lists the run's batch input (ListBucket narrowed by prefix), writes _plan.json and _jobs.json."""
        transformed_bucket = self.transformed_bucket
        self._allow(
            self.plan,
            ["s3:ListBucket"],
            [transformed_bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [folder + "*" for folder in inputs]}},
        )
        self._allow(self.plan, ["s3:PutObject"], [transformed_bucket.arn_for_objects(batch_jobs + "*")])
        summaries = transformed_bucket.arn_for_objects(run_layout.run_key("*", run_layout.SUMMARY))
        self._allow(self.plan, ["s3:GetObject"], [summaries])
        # A kind with its own per-job limit (item affinity: 500 items, item-attribute affinity: 10 queries): the
        # plan counts the lines of its input files that the ETL's summary does not count.
        counted = dict.fromkeys(
            run_layout.run_key("*", batch_input_entry(spec.input_kind, spec.name))
            for spec in config.solutions
            if spec.output_kind.max_job_records is not None
        )
        if counted:
            self._allow(self.plan, ["s3:GetObject"], [transformed_bucket.arn_for_objects(f + "*") for f in counted])
        data_key.grant(self.plan.role, "kms:Decrypt", "kms:GenerateDataKey")  # SSE-KMS writes (multipart) need both

    def _grant_place(self, *, inputs: list[str], batch_jobs: str, data_key: kms.IKey) -> None:
        """place reads the plan and the input files, copies into and clears the part folders."""
        transformed_bucket = self.transformed_bucket
        self._allow(
            self.place,
            ["s3:ListBucket"],
            [transformed_bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [batch_jobs + "*"]}},
        )
        self._allow(
            self.place,
            ["s3:GetObject"],
            [transformed_bucket.arn_for_objects(folder + "*") for folder in [*inputs, batch_jobs]],
        )
        self._allow(
            self.place, ["s3:PutObject", "s3:DeleteObject"], [transformed_bucket.arn_for_objects(batch_jobs + "*")]
        )
        # A copy decrypts the source and encrypts the target with the data key.
        data_key.grant(self.place.role, "kms:Decrypt", "kms:GenerateDataKey")

    @staticmethod
    def _allow(
        part: PipelineFunction, actions: list[str], resources: list[str], conditions: dict[str, Any] | None = None
    ) -> None:
        statement = iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions)
        part.role.add_to_principal_policy(statement)
        for resource in resources:
            if "*" in resource:
                acknowledge_wildcard(
                    part.role,
                    resource,
                    "Run folders are named per execution (runs/<run>/); the pattern is the batch input or batch-job "
                    "folders of one bucket, for the actions this step needs.",
                )

    def plan_task(self, scope: Construct, spec: SolutionSpec, *, job_name_base: str) -> tasks.LambdaInvoke:
        """"<name> batch: plan jobs" -> `$.plan` (the plan's totals and keys, without the inline job list).
        `job_name_base`: the JSONPath of the solution's batch job name of the run (the jobs are numbered from it)."""
        job_type = spec.job_type
        payload: dict[str, Any] = {
            "input_bucket": self.transformed_bucket.bucket_name,
            "output_bucket": self._curated.bucket_name,
            "run_prefix": JsonPath.format(run_layout.run_prefix("{}"), JsonPath.string_at("$.run.id")),
            "solution": spec.name,
            "source_prefix": JsonPath.format(
                run_layout.run_key("{}", batch_input_entry(spec.input_kind, spec.name)), JsonPath.string_at("$.run.id")
            ),
            "job_type": job_type,
            "records_per_file_max": RECORDS_PER_FILE_MAX,
            "solutions_sharing_quota": len(self._config.solutions_of_job_type(job_type)),
            "job_name_base": JsonPath.string_at(job_name_base),
            # The ETL's per-file line counts: jobs are packed by them instead of by bounds.
            "summary_key": JsonPath.format(
                run_layout.run_key("{}", run_layout.SUMMARY), JsonPath.string_at("$.run.id")
            ),
        }
        if spec.output_kind.max_job_records is not None:
            payload["max_job_records"] = spec.output_kind.max_job_records
        return tasks.LambdaInvoke(
            scope,
            f"{spec.name} batch: plan jobs",
            lambda_function=self.plan.function,
            payload=sfn.TaskInput.from_object(payload),
            result_selector={field: JsonPath.string_at(f"$.Payload.{field}") for field in PLAN_FIELDS},
            result_path="$.plan",
        )

    def place_task(self, scope: Construct, spec: SolutionSpec) -> tasks.LambdaInvoke:
        """"<name> batch job: place input" (in a child execution: its input is one job item) -> `$.placed`."""
        return tasks.LambdaInvoke(
            scope,
            f"{spec.name} batch job: place input",
            lambda_function=self.place.function,
            payload=sfn.TaskInput.from_object(
                {
                    "input_bucket": JsonPath.string_at("$.inputBucket"),
                    "plan_key": JsonPath.string_at("$.planKey"),
                    "part": JsonPath.number_at("$.job.part"),
                }
            ),
            payload_response_only=True,
            result_path="$.placed",
        )
