"""The rehearsal's Glue: the REAL transform (`glue_src`) on local Spark, for `glue:startJobRun.sync`.

Part of the offline harness: see the package docstring (`pipeline_rehearsal/__init__.py`).

Spark cannot read moto's S3, so each job run (`LocalSparkGlue`, the `FakeGlue.on_start` hook) stages the objects
its arguments point at into a local folder, `<workdir>/s3/<bucket>/<key>`, runs `glue_src.transform` and
`glue_src.metadata` with the job's real arguments (the template's `DefaultArguments` and the run's `Arguments`,
the `s3://` locations rewritten to that folder), and uploads what the run wrote back where the job writes it
(`<output_uri><run_id>/` of the transformed bucket). A run that raises ends FAILED with the error as Glue reports a
job's Python exception (`ErrorMessage`: `<ErrorType>: <message>`); the state machine then fails as deployed
(TransformFailed). The simulated run takes as long as the local run did (at least Glue's one billed minute) and
reports DPUSeconds for the job's workers.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glue_src import job as job_module
from pipeline_rehearsal.fakes import GlueScript
from pipeline_rehearsal.interpreter import OfflineStepFunctions

# DPUs per worker type (Glue pricing: a G.1X worker is 1 DPU, G.2X 2, ...).
WORKER_DPU = {"G.025X": 0.25, "G.1X": 1.0, "G.2X": 2.0, "G.4X": 4.0, "G.8X": 8.0, "Z.2X": 2.0}
MIN_BILLED_SECONDS = 60.0
# The job arguments that are S3 locations: staged in (inputs) or written back (the output).
_INPUT_LOCATIONS = ("--input_uri", "--metadata_root_uri", "--ledger_uri")
_OUTPUT_LOCATION = "--output_uri"


@dataclass
class GlueJobRun:
    """One rehearsed job run: its arguments (as deployed), outcome and the ETL's summary."""

    arguments: dict[str, str]
    state: str
    seconds: float
    summary: dict[str, Any] | None = None
    error: str | None = None
    uploaded: list[str] = field(default_factory=list)


class LocalSparkGlue:
    """`FakeGlue.on_start`: see the module docstring. `default_arguments`: the Glue job's DefaultArguments, resolved;
    `spark`: builds (or returns) the local SparkSession."""

    def __init__(
        self,
        aws: OfflineStepFunctions,
        *,
        default_arguments: Mapping[str, str],
        workdir: Path,
        spark: Callable[[], Any],
        workers: tuple[str, int] = ("G.1X", 2),
    ) -> None:
        self.aws, self.default_arguments, self.workdir, self.spark = aws, dict(default_arguments), workdir, spark
        self.worker_type, self.workers = workers
        self.runs: list[GlueJobRun] = []

    def __call__(self, start_job_run: dict[str, Any]) -> None:
        job = {**self.default_arguments, **(start_job_run.get("Arguments") or {})}
        run = self._run(job)
        self.runs.append(run)
        billed = max(run.seconds, MIN_BILLED_SECONDS)
        dpu_seconds = round(billed * self.workers * WORKER_DPU.get(self.worker_type, 1.0), 1)
        self.aws.glue.script(GlueScript(duration=billed, state=run.state, error_message=run.error,
                                        dpu_seconds=dpu_seconds))  # fmt: skip

    def local(self, uri: str) -> str:
        """An `s3://bucket/key` location in the staging folder (other values unchanged)."""
        if not uri.startswith("s3://"):
            return uri
        path = str(self.workdir / "s3" / uri.removeprefix("s3://"))
        return path + "/" if uri.endswith("/") else path

    def _run(self, job: dict[str, str]) -> GlueJobRun:
        for name in _INPUT_LOCATIONS:
            if job.get(name, "").startswith("s3://"):
                self._stage(job[name])
        # As job.py's getResolvedOptions gives them: the ETL's own arguments, without their dashes.
        local = {
            name.removeprefix("--"): self.local(value)
            for name, value in job.items()
            if name.removeprefix("--") in job_module.ETL_ARGUMENT_NAMES
        }
        started = time.monotonic()
        run = GlueJobRun(arguments=job, state="SUCCEEDED", seconds=0.0)
        try:
            # The job's own work; with etl_incremental, the ledger the state machine promoted (staged above, with the
            # keys and history of this staging folder, which the rehearsal's runs share) decides what is read.
            run.summary = job_module.run_etl(self.spark(), job_module.parse_job(local))
        except Exception as error:  # noqa: BLE001 - any exception of the job's script fails its run, as on Glue
            run.state, run.error = "FAILED", f"{type(error).__name__}: {error}"
        run.seconds = math.ceil(time.monotonic() - started)
        output = job.get(_OUTPUT_LOCATION, "")
        if output.startswith("s3://") and job.get("--run_id"):
            run.uploaded = self._upload(output.rstrip("/") + "/" + job["--run_id"] + "/")
        return run

    def _stage(self, uri: str) -> None:
        """Copies every object under `uri` (a folder, or one object: the ledger) from (moto) S3 into the staging
        folder, afresh."""
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        target = Path(self.local(f"s3://{bucket}/{prefix}"))
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        s3 = self.aws.client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                path = Path(self.local(f"s3://{bucket}/{obj['Key']}"))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())

    def _upload(self, uri: str) -> list[str]:
        """Puts every file the run wrote under `uri` (locally) where the job writes it; returns the keys."""
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        folder = Path(self.local(uri))
        s3, keys = self.aws.client("s3"), []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = prefix + path.relative_to(folder).as_posix()
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            keys.append(key)
        return keys
