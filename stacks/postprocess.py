"""The last mile of a run: flatten Personalize's batch output, write the run manifest, say so.

After the batch inference job is ACTIVE, the state machine lists the run's `.out` files, fans out
over them (one Lambda invocation per file, streaming, constant memory), writes `_manifest.json` and
then `_SUCCESS`, and publishes a short summary to the alert topic.

The fan-out is an inline Map: the Glue job writes the batch input as few files (at most 5 million
users each, and Personalize accepts at most 1 GB of input, about 40 million users), so a run has a
handful of `.out` files, well inside an inline Map's payload and history budget. A distributed Map
would only add child executions to pay and watch.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_contracts import run_layout
from stacks.config import PipelineConfig
from stacks.dashboard import POSTPROCESS_METRICS_NAMESPACE
from stacks.functions import PipelineFunction
from stacks.model_gate import ModelGate
from stacks.nag import acknowledge, acknowledge_wildcard
from stacks.orchestration.stage import Stage, fail_state

JsonPath = sfn.JsonPath
# The Powertools layer is resolved at deploy time from AWS's public parameter for the version the
# tests run against (requirements-dev.txt), so the deployed library is the tested one.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/x86_64/python3.13/{POWERTOOLS_VERSION}"
# One full vCPU: the flattening is CPU-bound (about 60-100k lines/s, benchmarks/postprocess.py).
PROCESS_FILE_MEMORY_MB = 1769
MAP_CONCURRENCY = 10
FAILED_ERROR = "PostProcessFailed"
NOTICE_RETRY_ERRORS = ["SNS.ThrottledException", "SNS.KMSThrottlingException", "SNS.InternalErrorException"]


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The AWS-managed Powertools layer of `POWERTOOLS_VERSION`, for the functions built in `scope`."""
    return lambda_.LayerVersion.from_layer_version_arn(
        scope, "Powertools", ssm.StringParameter.value_for_string_parameter(scope, POWERTOOLS_LAYER_PARAMETER)
    )


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
    ) -> None:
        super().__init__(scope, construct_id)
        self._model_gate = model_gate
        self._reports_metadata_imports = bool(config.metadata_datasets)
        self._curated_bucket = curated_bucket
        self._transformed_bucket = transformed_bucket
        self._alert_topic = alert_topic
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

        self.list_files = function(
            "ListOutputFiles", "list_output_files", "Lists a run's batch output files", 256, Duration.minutes(1)
        )
        self.process_file = function(
            "ProcessFile",
            "process_file",
            "Flattens one batch output file into recommendations CSV and error lines (streaming)",
            PROCESS_FILE_MEMORY_MB,
            Duration.minutes(15),
        )
        self.write_manifest = function(
            "WriteManifest", "write_manifest", "Writes a run's _manifest.json and _SUCCESS", 256, Duration.minutes(2)
        )
        self.functions = [self.list_files.function, self.process_file.function, self.write_manifest.function]

        # Exact actions on exact run prefixes (bucket grants would add List*/GetBucket*/ReEncrypt*).
        def every_run(*entries: str) -> list[str]:
            """The curated-bucket objects of `entries` in any run (a folder entry: everything in it)."""
            patterns = (run_layout.run_key("*", entry) + ("*" if entry.endswith("/") else "") for entry in entries)
            return [curated_bucket.arn_for_objects(pattern) for pattern in patterns]

        self._allow(self.list_files, ["s3:ListBucket"], [curated_bucket.bucket_arn])
        self._allow(self.process_file, ["s3:GetObject"], every_run(run_layout.BATCH_OUTPUT))
        writes = ["s3:PutObject", "s3:AbortMultipartUpload"]
        self._allow(self.process_file, writes, every_run(run_layout.RECOMMENDATIONS, run_layout.ERRORS))
        self._allow(self.write_manifest, ["s3:ListBucket"], [curated_bucket.bucket_arn, transformed_bucket.bucket_arn])
        self._allow(self.write_manifest, ["s3:PutObject"], every_run(run_layout.MANIFEST, run_layout.SUCCESS))
        self._allow(self.write_manifest, ["s3:DeleteObject"], every_run(run_layout.SUCCESS))
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

    def stage(self, scope: Construct) -> PostProcessingStage:
        """The post-processing stage of the state machine (pass this method as its `post_process`)."""
        return PostProcessingStage(
            scope,
            "PostProcessing",
            list_files=self.list_files.function,
            process_file=self.process_file.function,
            write_manifest=self.write_manifest.function,
            transformed_bucket=self._transformed_bucket,
            curated_bucket=self._curated_bucket,
            alert_topic=self._alert_topic,
            model_gate=self._model_gate,
            reports_metadata_imports=self._reports_metadata_imports,
        )


class PostProcessingStage(Stage):
    """List -> Map(flatten each file) -> account -> manifest -> accept -> completion event -> success notification;
    any failure -> Fail.

    Reads `$.run`, `$.glue`, `$.import`, `$.train`, `$.gate`, `$.batch`; writes `$.outputFiles`, `$.processedFiles`,
    `$.accounting`, `$.manifest`, `$.acceptance`, `$.completionEvent` (and `$.postProcessError` / `$.noticeError` on
    the failure paths). The model version becomes accepted only after the manifest step succeeded (it raises
    otherwise), and the notice goes out only when the version is recorded and the event sent.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        list_files: lambda_.IFunction,
        process_file: lambda_.IFunction,
        write_manifest: lambda_.IFunction,
        transformed_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        alert_topic: sns.ITopic,
        model_gate: ModelGate,
        reports_metadata_imports: bool = False,
    ) -> None:
        """The three functions of `RunPostProcessing`; `transformed_bucket` holds the run's batch input (the
        manifest checks one output file per input file); `alert_topic` receives the success notice; `model_gate`
        accounts for the run, records the accepted version and publishes the completion event;
        `reports_metadata_imports`: the run imports Items / Users datasets, so the manifest says which were
        imported and which skipped (`$.import.metadata` exists only then)."""
        super().__init__(scope, construct_id)
        self._reports_metadata_imports = reports_metadata_imports
        self._failed = fail_state(
            self,
            "Post-processing failed",
            error=FAILED_ERROR,
            cause="Post-processing of run {} failed: {}",
            values=[JsonPath.string_at("$.run.id"), JsonPath.string_at("$.postProcessError.Cause")],
        )
        each_file = sfn.Map(
            self,
            "Post-process: each output file",
            items_path="$.outputFiles.files",
            max_concurrency=MAP_CONCURRENCY,
            result_path="$.processedFiles",
        )
        each_file.item_processor(
            tasks.LambdaInvoke(
                self,
                "Post-process: flatten file",
                lambda_function=process_file,
                # The item itself is the function's event (no Parameters: the whole input is passed).
                payload_response_only=True,
            )
        )
        each_file.add_catch(self._failed, errors=["States.ALL"], result_path="$.postProcessError")
        first = self._list_files(list_files)
        done = sfn.Pass(self, "Post-process: done")
        (
            first.next(each_file)
            .next(self._failing(model_gate.account_task(self)))
            .next(self._write_manifest(write_manifest, transformed_bucket))
            .next(model_gate.accept_task(self))
            .next(model_gate.completion_event(self, curated_bucket))
            .next(self._announce(alert_topic, done))
            .next(done)
        )
        self._set_flow(first, done)

    def _failing(self, task: sfn.TaskStateBase) -> sfn.TaskStateBase:
        task.add_catch(self._failed, errors=["States.ALL"], result_path="$.postProcessError")
        return task

    def _list_files(self, function: lambda_.IFunction) -> sfn.TaskStateBase:
        return self._failing(
            tasks.LambdaInvoke(
                self,
                "Post-process: list output files",
                lambda_function=function,
                payload=sfn.TaskInput.from_object({"batch_output_uri": JsonPath.string_at("$.run.batchOutputUri")}),
                result_selector={
                    "count": JsonPath.number_at("$.Payload.count"),
                    "files": JsonPath.list_at("$.Payload.files"),
                },
                result_path="$.outputFiles",
            )
        )

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
                        "arns": {
                            "datasetImportJob": JsonPath.string_at("$.import.Arn"),
                            "solutionVersion": JsonPath.string_at("$.train.Arn"),
                            "batchInferenceJob": JsonPath.string_at("$.batch.Arn"),
                        },
                        "expected_output_files": JsonPath.number_at("$.outputFiles.count"),
                        "batch_input": {
                            "bucket": transformed_bucket.bucket_name,
                            "prefix": JsonPath.format(
                                run_layout.run_key("{}", run_layout.BATCH_INPUT), JsonPath.string_at("$.run.id")
                            ),
                        },
                        "results": JsonPath.list_at("$.processedFiles"),
                        "model": JsonPath.object_at("$.gate"),
                        "accounting": JsonPath.object_at("$.accounting"),
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
