"""AWS Glue 5.0 entry point of the ratings ETL (the job's ScriptLocation).

Thin on purpose: resolve the job arguments, get the SparkSession from a GlueContext, initialise
the Glue `Job` (the job's security configuration applies only to a job that does), run the
transform, commit the job after a success, and let a failure fail the job run (uncommitted).
Everything else is in the `glue_src` package, which Glue puts on sys.path from `--extra-py-files`
(a zip with `glue_src/` and `pipeline_contracts/` at its root), so it is imported by the same name as
locally. The Glue libraries (`awsglue`) exist only on Glue: they are imported inside `main`, so this
module can be imported (and tested with stand-ins) anywhere.

The run writes `<output_uri><run_id>/` with interactions/, the requested batch inputs (batch-input/,
batch-input-items/, batch-input-queries/<solution>/), quarantine/, the configured items/ and users/
(`metadata`) and `_summary.json` (via boto3), and raises (failing the job run) when
the input is unusable or the kept data is below Amazon Personalize's training minimums, after the
summary is written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

from glue_src import arguments, ledger_store, metadata, transform

JOB_NAME = "JOB_NAME"
# Every argument the ETL reads (without its dashes): its options, the metadata sources and the incremental ledger's.
ETL_ARGUMENT_NAMES = (*arguments.ARGUMENT_NAMES, *metadata.ARGUMENT_NAMES, *ledger_store.INCREMENTAL_ARGUMENT_NAMES)


class EtlJob(NamedTuple):
    """A run's resolved arguments, parsed: what `run_etl` works on. (A NamedTuple: Glue runs this file as a
    script, which a dataclass's annotations lookup does not always survive.)"""

    options: arguments.EtlOptions
    incremental: ledger_store.IncrementalOptions | None  # None unless --incremental true (etl_incremental)
    metadata_root: str
    metadata_specs: dict[str, metadata.DatasetSpec | None]


def parse_job(args: Mapping[str, Any]) -> EtlJob:
    """Parses the resolved arguments (names without dashes); EtlArgumentError names a bad one, before any Spark work."""
    options, incremental = arguments.parse_options(args), ledger_store.parse_incremental(args)
    metadata_root, metadata_specs = metadata.parse_arguments(args)
    return EtlJob(options, incremental, metadata_root, metadata_specs)


def run_etl(spark: Any, job: EtlJob) -> dict:
    """The job's work: the interactions, then the Items / Users metadata only once the interactions are usable
    (nothing is imported otherwise). TrainingMinimumsError is raised after _summary.json is written. The local
    rehearsal (pipeline_rehearsal/glue.py) runs this same function."""
    summary = transform.run(spark, job.options, incremental=job.incremental)
    return metadata.run(spark, job.options, job.metadata_specs, job.metadata_root, summary)


def main(argv: list[str] | None = None) -> dict:
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    argv = sys.argv if argv is None else argv
    # Every job argument is a DefaultArgument of the job except --run_id, passed per run; Glue
    # itself passes --JOB_NAME, which Job.init needs. getResolvedOptions fails on a name it does not
    # find, so the arguments a job deployed before them lacks (batch inputs, encoding) are resolved only
    # when given; left out, they take their defaults (the users batch input alone, UTF-8).
    optional = (*arguments.OPTIONAL_ARGUMENT_NAMES, *ledger_store.INCREMENTAL_ARGUMENT_NAMES)
    given_optional = [name for name in optional if f"--{name}" in argv]
    required = [name for name in arguments.ARGUMENT_NAMES if name not in arguments.OPTIONAL_ARGUMENT_NAMES]
    args = getResolvedOptions(argv, [JOB_NAME, *required, *given_optional, *metadata.ARGUMENT_NAMES])
    etl = parse_job(args)  # EtlArgumentError fails the run with a clear message

    spark_context = SparkContext.getOrCreate()
    # No _SUCCESS marker next to the data files Personalize imports (also set per write).
    spark_context._jsc.hadoopConfiguration().set("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
    glue_context = GlueContext(spark_context)
    job = Job(glue_context)
    job.init(args[JOB_NAME], args)
    summary = run_etl(glue_context.spark_session, etl)
    job.commit()
    print(json.dumps({"run_id": summary["run_id"], "counts": summary["counts"], "outputs": summary["outputs"]}))
    return summary


if __name__ == "__main__":
    main()
