"""Glue ETL sources: `transform` (pure PySpark), `job` (Glue entry point), `local_run` (local Spark)."""
