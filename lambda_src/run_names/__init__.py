"""Names of one pipeline run: the run id (S3 prefixes) and the Personalize job names."""
