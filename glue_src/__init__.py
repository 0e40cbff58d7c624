"""Glue ETL sources: `transform` (the run, pure PySpark, with one module per concern beside it), `metadata`
(Items / Users), `job` (Glue entry point), `local_run` (local Spark)."""
