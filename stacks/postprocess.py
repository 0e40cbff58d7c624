"""The last mile of a run: flatten Personalize's batch output, write the run manifest, say so.

Per solution (`SolutionOutputs`, inside the solution's branch), after its batch jobs: list the solution's
`.out` files (failing, BatchJobFailed, when any of its jobs did not end ACTIVE) and fan out over them (one
Lambda invocation per file, streaming, constant memory) into the kind's folder. Then, once for the run
(`PostProcessingStage`): account, write `_manifest.json` of every solution (and `_SUCCESS` only when all
succeeded), record each accepted model version, and either publish the completion event and a short summary
to the alert topic, or fail the run naming the failed solutions.

The per-solution fan-out is an inline Map: the Glue job writes the batch input as few files (at most 5
million users each), so a solution has a few dozen `.out` files even at 100 million users, well inside an
inline Map's payload and history budget. A distributed Map would only add child executions to pay and watch.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_contracts import flatten_capacity, run_layout
from pipeline_contracts.solutions import batch_output_entry
from stacks.config import PipelineConfig, SolutionSpec
from stacks.dashboard import POSTPROCESS_METRICS_NAMESPACE
from stacks.functions import PipelineFunction, powertools_layer
# Re-exported: the layer's version and parameter are checked against requirements-dev.txt by the tests.
from stacks.functions import POWERTOOLS_LAYER_PARAMETER, POWERTOOLS_VERSION  # noqa: F401
from stacks.model_gate import ModelGate
from stacks.nag import acknowledge, acknowledge_wildcard
from stacks.orchestration.function_errors import readable_function_error
from stacks.orchestration.ledger import promote_ledger
from stacks.orchestration.stage import Stage, fail_state
from stacks.run_lease import RunLease

JsonPath = sfn.JsonPath
MAP_CONCURRENCY = 10
FAILED_ERROR = "PostProcessFailed"
SOLUTIONS_FAILED_ERROR = "SolutionsFailed"
NOTICE_RETRY_ERRORS = ["SNS.ThrottledException", "SNS.KMSThrottlingException", "SNS.InternalErrorException"]


class RunPostProcessing(Construct):
    """The three post-processing functions and their least-privilege roles.

    `stage(scope)` builds the stage that runs after the batch job: pass it as the state machine's
    `post_process` hook. Attributes: `functions` (list), `list_files`, `process_file`, `write_manifest`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        curated_bucket: s3.IBucket,
        transformed_bucket: s3.IBucket,
        data_key: kms.IKey,
        logs_key: kms.IKey,
        alert_topic: sns.ITopic,
        model_gate: ModelGate,
        run_lease: RunLease,
    ) -> None:
        """`run_lease`: the overlap guard's lease, given back before the run ends in "Solutions failed"."""
        super().__init__(scope, construct_id)
        self._model_gate, self._run_lease = model_gate, run_lease
        self._reports_metadata_imports = bool(config.metadata_datasets)
        self._promotes_ledger, self._data_key = config.etl_incremental, data_key
        self._curated_bucket = curated_bucket
        self._transformed_bucket = transformed_bucket
        self._alert_topic = alert_topic
        self.list_files, self.process_file, self.write_manifest = self._functions(config, data_key, logs_key)
        self.functions = [self.list_files.function, self.process_file.function, self.write_manifest.function]
        self._grant_access(config, data_key=data_key)

    def _functions(
        self, config: PipelineConfig, data_key: kms.IKey, logs_key: kms.IKey
    ) -> tuple[PipelineFunction, PipelineFunction, PipelineFunction]:
        """The list, process and manifest functions, sharing one environment and the Powertools layer."""
        powertools = powertools_layer(self)
        environment = {
            "OUTPUT_KMS_KEY_ID": data_key.key_arn,
            "POWERTOOLS_SERVICE_NAME": config.resource_name("postprocess"),
            "POWERTOOLS_METRICS_NAMESPACE": POSTPROCESS_METRICS_NAMESPACE,
        }

        def function(
            construct_id: str, handler: str, description: str, memory: int, timeout: Duration
        ) -> PipelineFunction:
            return PipelineFunction(
                self,
                construct_id,
                handler=f"postprocess.handler.{handler}",
                description=description,
                logs_key=logs_key,
                memory_size=memory,
                timeout=timeout,
                environment=environment,
                layers=[powertools],
                tracing=lambda_.Tracing.ACTIVE,
            )

        list_files = function(
            "ListOutputFiles", "list_output_files", "Lists a run's batch output files", 256, Duration.minutes(1)
        )
        process_file = function(
            "ProcessFile",
            "process_file",
            "Flattens one batch output file into recommendations CSV and error lines (streaming)",
            # One vCPU for the CPU-bound flattening, 15 minutes: what the segment bound of the config assumes.
            flatten_capacity.PROCESS_FILE_MEMORY_MB,
            Duration.seconds(flatten_capacity.PROCESS_FILE_TIMEOUT_SECONDS),
        )
        write_manifest = function(
            "WriteManifest", "write_manifest", "Writes a run's _manifest.json and _SUCCESS", 256, Duration.minutes(2)
        )
        return list_files, process_file, write_manifest

    def _grant_access(self, config: PipelineConfig, *, data_key: kms.IKey) -> None:
        """Each function's S3 actions on exactly its run entries, the data key for the writers, and X-Ray's
        wildcard acknowledged."""
        curated_bucket, transformed_bucket = self._curated_bucket, self._transformed_bucket

        # Exact actions on exact run prefixes (bucket grants would add List*/GetBucket*/ReEncrypt*).
        def every_run(*entries: str) -> list[str]:
            """The curated-bucket objects of `entries` in any run (a folder entry: everything in it)."""
            patterns = (run_layout.run_key("*", entry) + ("*" if entry.endswith("/") else "") for entry in entries)
            return [curated_bucket.arn_for_objects(pattern) for pattern in patterns]

        self._allow(self.list_files, ["s3:ListBucket"], [curated_bucket.bucket_arn])
        self._allow(self.process_file, ["s3:GetObject"], every_run(run_layout.BATCH_OUTPUT))
        writes = ["s3:PutObject", "s3:AbortMultipartUpload"]
        # The output folders of the configured solutions' kinds (recommendations/, related-items/, segments/).
        output_folders = dict.fromkeys(spec.output_kind.output_folder for spec in config.solutions)
        self._allow(self.process_file, writes, every_run(*output_folders, run_layout.ERRORS))
        self._allow(self.write_manifest, ["s3:ListBucket"], [curated_bucket.bucket_arn, transformed_bucket.bucket_arn])
        self._allow(self.write_manifest, ["s3:PutObject"], every_run(run_layout.MANIFEST, run_layout.SUCCESS))
        self._allow(self.write_manifest, ["s3:DeleteObject"], every_run(run_layout.SUCCESS))
        # The solutions' batch-job plans (each job's expected .out files).
        self._allow(
            self.write_manifest,
            ["s3:GetObject"],
            [transformed_bucket.arn_for_objects(run_layout.run_key("*", run_layout.BATCH_JOBS) + "*")],
        )
        # Multipart uploads under SSE-KMS need Decrypt as well as GenerateDataKey.
        for writer in (self.process_file, self.write_manifest):
            data_key.grant(writer.role, "kms:Decrypt", "kms:GenerateDataKey")
        for part in (self.list_files, self.process_file, self.write_manifest):
            acknowledge(
                part.role,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) accepts no narrower resource.",
            )

    def _allow(self, part: PipelineFunction, actions: list[str], resources: list[str]) -> None:
        part.role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
        for resource in resources:
            if "*" in str(Stack.of(self).resolve(resource)):
                acknowledge_wildcard(
                    part.role,
                    resource,
                    "Run folders are named per execution (runs/<run>/); the pattern is one folder kind of "
                    "one bucket, for the actions this step needs.",
                )

    def solution_stage(self, scope: Construct, spec: SolutionSpec) -> SolutionOutputs:
        """A solution's post-processing, after its batch jobs (pass this method as the state machine's
        `solution_outputs`)."""
        return SolutionOutputs(
            scope,
            f"Outputs-{spec.name}",
            spec=spec,
            list_files=self.list_files.function,
            process_file=self.process_file.function,
            curated_bucket=self._curated_bucket,
        )

    def stage(self, scope: Construct) -> PostProcessingStage:
        """The run-level post-processing stage of the state machine (pass this method as its `post_process`)."""
        return PostProcessingStage(
            scope,
            "PostProcessing",
            write_manifest=self.write_manifest.function,
            transformed_bucket=self._transformed_bucket,
            curated_bucket=self._curated_bucket,
            alert_topic=self._alert_topic,
            model_gate=self._model_gate,
            run_lease=self._run_lease,
            reports_metadata_imports=self._reports_metadata_imports,
            ledger_key=self._data_key if self._promotes_ledger else None,
        )


class SolutionOutputs(Stage):
    """One solution's output files: list them (the function fails, BatchJobFailed, naming every job that did not
    end ACTIVE, with Personalize's reason) -> inline Map flattening each file. Reads `$.run.id` and `$.batchJobs`;
    writes `$.outputFiles` and `$.processedFiles`. Runs inside the solution's branch: its wrapper catches every
    error, so nothing here has a catch of its own.

    The Map stays inline: a solution has one output file per input file, a few dozen at 100 million users
    (5 million users per file), and each file is one Lambda invocation (about 8 history events).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: SolutionSpec,
        list_files: lambda_.IFunction,
        process_file: lambda_.IFunction,
        curated_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        name = spec.name
        listing = tasks.LambdaInvoke(
            self,
            f"{name} post-process: list output files",
            lambda_function=list_files,
            payload=sfn.TaskInput.from_object(
                {
                    "batch_output_uri": JsonPath.format(
                        run_layout.run_uri(curated_bucket.bucket_name, "{}", batch_output_entry(name)),
                        JsonPath.string_at("$.run.id"),
                    ),
                    "kind": spec.output_kind.name,
                    "jobs": JsonPath.list_at("$.batchJobs"),
                }
            ),
            result_selector={
                "count": JsonPath.number_at("$.Payload.count"),
                "files": JsonPath.list_at("$.Payload.files"),
            },
            result_path="$.outputFiles",
        )
        each_file = sfn.Map(
            self,
            f"{name} post-process: each output file",
            items_path="$.outputFiles.files",
            max_concurrency=MAP_CONCURRENCY,
            result_path="$.processedFiles",
        )
        each_file.item_processor(
            tasks.LambdaInvoke(
                self,
                f"{name} post-process: flatten file",
                lambda_function=process_file,
                # The item itself is the function's event (no Parameters: the whole input is passed).
                payload_response_only=True,
            )
        )
        listing.next(each_file)
        self._set_flow(listing, each_file)


class PostProcessingStage(Stage):
    """After every solution: account -> manifest -> accept each model version -> every solution succeeded?
    -> (yes) completion event -> success notification; (no) the run lease is given back, then Fail "Solutions
    failed" (SolutionsFailed, the manifest's message naming each failed solution and its cause). Any error of
    account or manifest -> Fail "Post-processing failed".

    Reads `$.run`, `$.glue`, `$.import`, `$.solutions`; writes `$.accounting`, `$.manifest`, `$.acceptance`,
    `$.completionEvent` (and `$.postProcessError` / `$.noticeError` on the failure paths). A model version becomes
    accepted only after the manifest is written, and only for a solution whose output succeeded; the notice goes
    out only when the versions are recorded and the event sent.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        write_manifest: lambda_.IFunction,
        transformed_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        alert_topic: sns.ITopic,
        model_gate: ModelGate,
        run_lease: RunLease,
        reports_metadata_imports: bool = False,
        ledger_key: kms.IKey | None = None,
    ) -> None:
        """`transformed_bucket` holds the run's batch input and plans (the manifest checks each job's expected
        output files); `alert_topic` receives the success notice; `model_gate` accounts for the run, records the
        accepted versions and publishes the completion event; `run_lease` is given back on the "Solutions failed"
        end (the success end gives it back in the run summary); `reports_metadata_imports`: the run imports Items /
        Users datasets, so the manifest says which were imported and which skipped (`$.import.metadata` exists
        only then); `ledger_key` (etl_incremental: the data key): the success path first promotes the run's ETL
        ledger (`stacks/orchestration/ledger.py`)."""
        super().__init__(scope, construct_id)
        self._reports_metadata_imports = reports_metadata_imports
        self._failed = fail_state(
            self,
            "Post-processing failed",
            error=FAILED_ERROR,
            cause="Post-processing of run {} failed: {}",
            values=[JsonPath.string_at("$.run.id"), JsonPath.string_at("$.postProcessError.Cause")],
        )
        self._read_failure = readable_function_error(
            self, "Post-processing failure", error_path="$.postProcessError", then=self._failed
        )
        first = self._failing(model_gate.account_task(self))
        done = sfn.Pass(self, "Post-process: done")
        solutions_failed = fail_state(
            self,
            "Solutions failed",
            error=SOLUTIONS_FAILED_ERROR,
            cause="{}",
            values=[JsonPath.string_at("$.manifest.message")],
        )
        published = model_gate.completion_event(self, curated_bucket)
        published.next(self._announce(alert_topic, done)).next(done)
        succeeded: sfn.IChainable = published
        if ledger_key is not None:
            promote, none_proposed = promote_ledger(self, transformed_bucket=transformed_bucket, data_key=ledger_key)
            promote.next(published)
            none_proposed.next(published)
            succeeded = promote
        (
            first.next(self._write_manifest(write_manifest, transformed_bucket))
            .next(model_gate.accept_map(self))
            .next(
                sfn.Choice(self, "Post-process: every solution succeeded?")
                .when(sfn.Condition.string_equals("$.manifest.status", "SUCCEEDED"), succeeded)
                .otherwise(run_lease.release_then(self, "Post-process: release run lease", solutions_failed))
            )
        )
        self._set_flow(first, done)

    def _failing(self, task: sfn.TaskStateBase) -> sfn.TaskStateBase:
        task.add_catch(self._read_failure, errors=["States.ALL"], result_path="$.postProcessError")
        return task

    def _write_manifest(self, function: lambda_.IFunction, transformed_bucket: s3.IBucket) -> sfn.TaskStateBase:
        return self._failing(
            tasks.LambdaInvoke(
                self,
                "Post-process: write manifest",
                lambda_function=function,
                payload=sfn.TaskInput.from_object(
                    {
                        "batch_output_uri": JsonPath.string_at("$.run.batchOutputUri"),
                        "run_id": JsonPath.string_at("$.run.id"),
                        "execution_name": JsonPath.execution_name,
                        "execution_arn": JsonPath.execution_id,
                        "started_at": JsonPath.execution_start_time,
                        "arns": {"datasetImportJob": JsonPath.string_at("$.import.Arn")},
                        "input_bucket": transformed_bucket.bucket_name,
                        "solutions": JsonPath.list_at("$.solutions"),
                        "accounting": JsonPath.object_at("$.accounting"),
                        # The import and training modes with their reasons, for the manifest and the notice.
                        "modes": JsonPath.object_at("$.modes"),
                        **(
                            {"metadata_imports": JsonPath.object_at("$.import.metadata")}
                            if self._reports_metadata_imports
                            else {}
                        ),
                    }
                ),
                result_selector={
                    "status": JsonPath.string_at("$.Payload.status"),
                    "manifest": JsonPath.string_at("$.Payload.manifest"),
                    "successMarker": JsonPath.string_at("$.Payload.success_marker"),
                    "usersWithRecommendations": JsonPath.number_at("$.Payload.users_with_recommendations"),
                    "erroredLines": JsonPath.number_at("$.Payload.errored_lines"),
                    "message": JsonPath.string_at("$.Payload.message"),
                    "subject": JsonPath.string_at("$.Payload.subject"),
                    "failedSolutions": JsonPath.list_at("$.Payload.failed_solutions"),
                    "solutions": JsonPath.list_at("$.Payload.solutions"),
                },
                result_path="$.manifest",
            )
        )

    def _announce(self, alert_topic: sns.ITopic, done: sfn.IChainable) -> tasks.SnsPublish:
        notify = tasks.SnsPublish(
            self,
            "Post-process: announce success",
            topic=alert_topic,
            subject=JsonPath.string_at("$.manifest.subject"),
            message=sfn.TaskInput.from_json_path_at("$.manifest.message"),
            result_path=JsonPath.DISCARD,
        )
        # The run's data is complete and marked (_SUCCESS) before the notice: a notice that cannot be
        # sent after retries is recorded in the run's history and output, but does not fail the run.
        notify.add_retry(errors=NOTICE_RETRY_ERRORS, interval=Duration.seconds(5), max_attempts=3, backoff_rate=2)
        notify.add_catch(
            sfn.Pass(self, "Post-process: success notice not sent").next(done),
            errors=["States.ALL"],
            result_path="$.noticeError",
        )
        return notify
