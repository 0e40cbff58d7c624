"""Contracts that cross module boundaries (stacks, Glue job, Lambda functions, operator CLI).

Dependency-free on purpose (standard library only): the same files are imported by the CDK app, shipped
inside the Glue job's `--extra-py-files` zip and the Lambda assets, and read by the CLI, so every side
spells a shared name from one place.
"""
