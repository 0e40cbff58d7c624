"""A whole run of the pipeline, rehearsed locally: no AWS account, no network, no real time waited.

Part of the offline harness: see the package docstring (`pipeline_rehearsal/__init__.py`). The command is
`python -m pipeline_cli rehearse` (`make rehearse`); this module does the work, the command prints it.

1. `synthesize(configuration)`: the named configuration's app, as `cdk synth -c config=NAME` builds it (no nag);
2. `Rehearsal`: the pipeline stack's state machine in the offline interpreter (`deployment.app_orchestration`),
   every function as its real handler, buckets, tables, parameters, the alert topic in moto, the input in the raw
   bucket (`sample.raw_bucket_files`), Glue as the real transform on local Spark (`glue.LocalSparkGlue`) and
   Personalize as the stand-in (`standin.StandInPersonalize`, NOT Personalize);
3. `Rehearsal.run()`: one execution, on the virtual clock; the next one starts a week after the previous one
   (the schedule's cadence), against the same stand-in state: imports, versions, the accepted version;
4. each run's curated and transformed folders are copied to the output folder, `<output>/<run id>/`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from glue_src.local_spark import local_spark_session
from lambda_src.model_gate import handler as model_gate_handler
from lambda_src.postprocess import handler as postprocess_handler
from pipeline_rehearsal.clock import clock_datetime
from pipeline_rehearsal.deployment import (
    SynthesizedOrchestration,
    app_orchestration,
    create_accepted_versions_table,
    create_bucket,
    logical_id_of,
)
from pipeline_rehearsal.functions import shared_environment
from pipeline_rehearsal.glue import GlueJobRun, LocalSparkGlue
from pipeline_rehearsal.interpreter import ExecutionResult, OfflineStepFunctions
from pipeline_rehearsal.sample import raw_bucket_files
from pipeline_rehearsal.standin import StandInPersonalize
from stacks.app_factory import CONFIGURATION_KEY, PipelineApp, build_app, cdk_json_context

REGION = "us-east-1"
WEEK_SECONDS = 7 * 86_400
DEFAULT_OUTPUT = Path("local-output/rehearsal")
STAND_IN_NOTICE = (
    "The recommender here is a stand-in (item co-occurrence with a popularity fallback), not Amazon Personalize: "
    "its recommendations, scores and metrics say nothing about the quality Personalize would reach on this data."
)


def synthesize(configuration: str) -> tuple[PipelineApp, dict[str, dict[str, Any]]]:
    """The app of a named configuration and its templates by stack name (no cdk-nag: `make synth` runs it)."""
    context = {**cdk_json_context(), CONFIGURATION_KEY: configuration}
    with tempfile.TemporaryDirectory(prefix="rehearsal-synth-") as outdir:
        app = build_app(context, outdir=outdir, with_nag=False)
        assembly = app.app.synth()
        return app, {stack.stack_name: assembly.get_stack_by_name(stack.stack_name).template for stack in app.stacks}


@dataclass
class RunOutcome:
    """One rehearsed execution and what it left."""

    number: int
    result: ExecutionResult
    started_at: float  # virtual seconds since the clock's start
    ended_at: float
    wall_seconds: float
    glue: GlueJobRun | None
    run_id: str | None
    manifest: dict[str, Any] | None
    metrics: dict[str, dict[str, float]]  # solution -> the stand-in's offline metrics of the version it trained
    copied: dict[str, Path] = field(default_factory=dict)  # curated / transformed -> local folder


class Rehearsal(contextlib.AbstractContextManager):
    """The offline deployment of one synthesized app (see the module docstring).

    with Rehearsal(app, templates, input_path=..., output=...) as rehearsal:
        first = rehearsal.run()
        second = rehearsal.run()   # a week later, same stand-in state
    """

    def __init__(
        self,
        app: PipelineApp,
        templates: dict[str, dict[str, Any]],
        *,
        input_path: Path,
        output: Path,
        spark: Callable[[], Any] | None = None,
    ) -> None:
        self.app, self.input_path, self.output = app, input_path, output
        self.pipeline: SynthesizedOrchestration = app_orchestration(app, templates, region=REGION)
        self.spark = spark or (lambda: local_spark_session(app_name="personalize-rehearsal"))
        self.runs: list[RunOutcome] = []
        self._stack = contextlib.ExitStack()
        self.aws: OfflineStepFunctions
        self.personalize: StandInPersonalize
        self.glue: LocalSparkGlue
        self._arn = ""

    @property
    def config(self) -> Any:
        return self.pipeline.config

    def __enter__(self) -> Rehearsal:
        try:
            self._enter()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.close()

    def _enter(self) -> None:
        pipeline, stack = self.pipeline, self._stack
        stack.enter_context(mock.patch.dict(os.environ, shared_environment(pipeline.functions, REGION)))
        self.aws, self._arn = stack.enter_context(pipeline.offline())
        aws = self.aws
        stack.enter_context(mock.patch.object(postprocess_handler, "datetime", clock_datetime(aws.clock)))
        table = pipeline.functions["model_gate.handler.evaluate"].environment[model_gate_handler.TABLE_ENV]
        create_accepted_versions_table(aws.client("dynamodb"), table)
        topic = pipeline.cloud.arn(logical_id_of(self.app.pipeline_stack.alerts.topic))
        aws.client("sns").create_topic(Name=topic.rsplit(":", 1)[-1])
        self.personalize = StandInPersonalize(
            aws.clock, REGION, s3=aws.client("s3"),
            recipes={pipeline.solution_arn_of(s.name): s.recipe for s in self.config.solutions},
            dataset_kinds={arn: kind for kind, arn in pipeline.dataset_arns().items()},
        )  # fmt: skip
        aws.personalize = self.personalize
        job = self._glue_job()
        properties = job["Properties"]
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rehearsal-glue-")))
        self.glue = LocalSparkGlue(
            aws, default_arguments=pipeline.cloud.resolve(properties.get("DefaultArguments", {})), workdir=workdir,
            spark=self.spark, workers=(properties.get("WorkerType", "G.1X"), int(properties.get("NumberOfWorkers", 2))),
        )  # fmt: skip
        aws.glue.on_start = self.glue
        aws.glue.worker_type, aws.glue.number_of_workers = self.glue.worker_type, self.glue.workers
        aws.glue.execution_class = properties.get("ExecutionClass", "STANDARD")
        self._put_input(self.glue.default_arguments)

    def _glue_job(self) -> dict[str, Any]:
        (job,) = self.pipeline.cloud.resources_of_type("AWS::Glue::Job").values()
        return dict(job)

    def _put_input(self, default_arguments: dict[str, str]) -> None:
        """The input in the raw bucket the Glue job reads (the bucket of its `--input_uri`)."""
        bucket = default_arguments["--input_uri"].removeprefix("s3://").partition("/")[0]
        create_bucket(self.aws, bucket)
        s3 = self.aws.client("s3")
        for key, path in raw_bucket_files(self.input_path, self.config):
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    def run(self) -> RunOutcome:
        """The next execution: the first at the clock's start, each later one a week after the one before."""
        number = len(self.runs) + 1
        clock = self.aws.clock
        clock.advance_to(max(clock.seconds, (number - 1) * WEEK_SECONDS))
        started_at, wall = clock.seconds, time.monotonic()
        glue_runs = len(self.glue.runs)
        result = self.aws.run(self._arn, name=f"rehearsal-{number}")
        glue = self.glue.runs[glue_runs] if len(self.glue.runs) > glue_runs else None
        run_id = glue.arguments.get("--run_id") if glue else None
        outcome = RunOutcome(
            number, result, started_at, clock.seconds, time.monotonic() - wall, glue, run_id,
            self._manifest(run_id), self._metrics(started_at),
        )  # fmt: skip
        if run_id:
            outcome.copied = self._copy(run_id)
        self.runs.append(outcome)
        return outcome

    def _manifest(self, run_id: str | None) -> dict[str, Any] | None:
        if not run_id:
            return None
        s3, bucket = self.aws.client("s3"), self.pipeline.expected("curated_bucket")
        try:
            body = s3.get_object(Bucket=bucket, Key=f"runs/{run_id}/_manifest.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None
        manifest: dict[str, Any] = json.loads(body)
        return manifest

    def _metrics(self, since: float) -> dict[str, dict[str, float]]:
        """Solution -> the offline metrics of the version this run trained for it."""
        names = {self.pipeline.solution_arn_of(s.name): s.name for s in self.config.solutions}
        return {
            names.get(str(job.request.get("solutionArn")), str(job.request.get("solutionArn"))): dict(version.metrics)
            for job in self.personalize.jobs
            if job.kind == "train" and job.created_at >= since and (version := self.personalize.versions.get(job.arn))
        }

    def _copy(self, run_id: str) -> dict[str, Path]:
        """The run's folders of the curated and transformed buckets, into `<output>/<run id>/`."""
        s3, copied = self.aws.client("s3"), {}
        for name in ("curated", "transformed"):
            bucket, prefix = self.pipeline.expected(f"{name}_bucket"), f"runs/{run_id}/"
            target = self.output / run_id / name
            shutil.rmtree(target, ignore_errors=True)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    path = target / obj["Key"].removeprefix(prefix)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            copied[name] = target
        return copied
