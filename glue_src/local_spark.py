"""One way to build a local SparkSession, shared by the tests, `local_run` and the benchmark.

On Glue the session comes from GlueContext; this module is never used there. Locally the session
is `local[2]` (the machine has 2 cores), with the UI and progress bars off, few shuffle
partitions, and the local file system without `.crc` side files, so an output folder written
locally looks like the one Glue writes to S3.
"""

from __future__ import annotations

import os
import sys
import tempfile

from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[2]"


def local_spark_session(
    *,
    app_name: str = "personalize-etl-local",
    master: str = DEFAULT_MASTER,
    shuffle_partitions: int = 4,
    driver_memory: str = "4g",
    for_tests: bool = False,
    extra_conf: dict[str, str] | None = None,
) -> SparkSession:
    """Returns the process's local SparkSession, creating it on first use with this configuration.

    `for_tests` favours start-up over throughput for tiny inputs: the JVM compiles with C1 only
    and Spark interprets expressions instead of generating whole-stage code.

    `driver_memory` only takes effect when the JVM is started by this call (the first session of
    the process); later calls reuse the running session and only apply runtime SQL settings.
    """
    # No Python UDFs run on executors, but keep any worker on the same interpreter as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    scratch = os.path.join(tempfile.gettempdir(), "personalize-etl-spark")
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": driver_memory,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": os.path.join(scratch, "warehouse"),
        # Write through the raw local file system: no `.part-*.crc` files next to the outputs.
        "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
        "spark.hadoop.fs.file.impl.disable.cache": "true",
        # No `_SUCCESS` marker (Personalize imports every object under the prefix).
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        "spark.hadoop.parquet.enable.summary-metadata": "false",
        "spark.driver.extraJavaOptions": "-XX:+UseParallelGC -Dlog4j2.level=warn",
    }
    if for_tests:
        conf["spark.driver.extraJavaOptions"] += " -XX:TieredStopAtLevel=1"
        conf["spark.sql.codegen.wholeStage"] = "false"
    conf.update(extra_conf or {})
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
    return spark
