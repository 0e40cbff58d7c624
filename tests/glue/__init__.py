"""Tests of the Glue ETL: the PySpark transform on local Spark, its entry points, the CDK construct."""
