"""The raw prefix holds files, and the Glue job's role may read them.

Where the job reads comes from the job itself (its `--input_uri` default argument), not from
configuration the CLI would have to repeat. Spark skips files whose names start with `_` or `.`
(Hadoop's hidden files), so those are counted apart: a prefix holding only `_SUCCESS` is empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from ..outputs import OUTPUT_DATA_KEY_ARN, OUTPUT_GLUE_JOB_NAME
from .base import DEPLOY_FIX, Environment, Finding, failed, passed, warned
from .reader import Denied, Missing

__all__ = ["check_raw_files", "check_glue_access", "is_hidden", "format_size"]

INPUT_ARGUMENT = "--input_uri"


def is_hidden(key: str, prefix: str) -> bool:
    """True for a key Spark's input formats skip: any path part below the prefix starting `_` or `.`."""
    return any(part.startswith(("_", ".")) for part in key[len(prefix) :].split("/") if part)


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _job(env: Environment) -> Mapping[str, Any] | Finding:
    name = env.output(env.pipeline_stack, OUTPUT_GLUE_JOB_NAME)
    if name is None:
        return failed(f"{env.pipeline_stack} has no {OUTPUT_GLUE_JOB_NAME} output", DEPLOY_FIX)
    try:
        return env.reader.read("glue", "GetJob", ["EntityNotFoundException"], JobName=name)["Job"]
    except Missing:
        return failed(f"Glue job {name} does not exist", env.redeploy_pipeline())


def _input(job: Mapping[str, Any]) -> tuple[str, str] | None:
    uri = (job.get("DefaultArguments") or {}).get(INPUT_ARGUMENT, "")
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        return None
    return parsed.netloc, parsed.path.lstrip("/")


def _raw_files(env: Environment, bucket: str, prefix: str) -> tuple[list[Mapping[str, Any]], int]:
    """The objects Spark reads under the prefix, and how many files it skips as hidden."""
    objects = env.reader.pages(
        "s3", "ListObjectsV2", "Contents", max_pages=1000, expect=["NoSuchBucket"], Bucket=bucket, Prefix=prefix
    )
    keys = [o for o in objects if not str(o["Key"]).endswith("/")]
    files = [o for o in keys if not is_hidden(str(o["Key"]), prefix)]
    return files, len(keys) - len(files)


def check_raw_files(env: Environment) -> Finding:
    job = _job(env)
    if isinstance(job, Finding):
        return job
    location = _input(job)
    if location is None:
        return failed(
            f"Glue job {job.get('Name')} has no s3:// {INPUT_ARGUMENT} argument",
            env.redeploy_pipeline(),
        )
    bucket, prefix = location
    uri = f"s3://{bucket}/{prefix}"
    try:
        files, hidden = _raw_files(env, bucket, prefix)
    except Missing:
        return failed(f"bucket {bucket} does not exist", DEPLOY_FIX, uri=uri)
    size = sum(int(o.get("Size", 0)) for o in files)
    facts = {"uri": uri, "files": len(files), "bytes": size, "hiddenFiles": hidden}
    ignored = f" ({hidden} hidden file(s) Spark ignores)" if hidden else ""
    if not files:
        return failed(f"no raw files under {uri}{ignored}", f"upload the ratings: aws s3 cp FILE {uri}", **facts)
    return passed(f"{len(files)} file(s), {format_size(size)} under {uri}{ignored}", **facts)


def check_glue_access(env: Environment) -> Finding:
    """What the job role's identity policies allow (IAM's policy simulator; bucket and key
    policies are not part of the simulation)."""
    job = _job(env)
    if isinstance(job, Finding):
        return job
    role = _role_arn(env, str(job.get("Role", "")))
    bucket, prefix = _input(job) or ("", "")
    files, _ = _raw_files(env, bucket, prefix)
    key = str(files[0]["Key"]) if files else prefix
    partition = role.split(":")[1]
    wanted = [
        ("s3:GetObject", f"arn:{partition}:s3:::{bucket}/{key}"),
        ("s3:ListBucket", f"arn:{partition}:s3:::{bucket}"),
    ]
    data_key = env.output(env.data_stack, OUTPUT_DATA_KEY_ARN)
    if data_key:
        wanted.append(("kms:Decrypt", data_key))
    try:
        decisions = {action: _simulate(env, role, action, resource) for action, resource in wanted}
    except Denied as exc:
        return warned(
            f"cannot simulate the Glue role's policies: {exc.code} on iam:SimulatePrincipalPolicy",
            "allow iam:SimulatePrincipalPolicy on the role to check this",
            role=role,
        )
    refused = {action: decision for action, decision in decisions.items() if decision != "allowed"}
    facts = {"role": role, "decisions": decisions}
    if refused:
        listed = ", ".join(f"{action} {decision}" for action, decision in refused.items())
        return failed(
            f"the Glue role {role} may not read the raw files: {listed}",
            env.redeploy_pipeline(" (it grants these)") + "; check for a permissions boundary or SCP that denies them",
            **facts,
        )
    return passed(f"{role} allowed: {', '.join(decisions)} (identity policies)", **facts)


def _role_arn(env: Environment, role: str) -> str:
    """Glue accepts a role name or ARN; the simulator wants the ARN."""
    if role.startswith("arn:"):
        return role
    return str(env.reader.read("iam", "GetRole", RoleName=role)["Role"]["Arn"])


def _simulate(env: Environment, role: str, action: str, resource: str) -> str:
    response = env.reader.read(
        "iam",
        "SimulatePrincipalPolicy",
        denied_is_finding=True,
        PolicySourceArn=role,
        ActionNames=[action],
        ResourceArns=[resource],
    )
    results = response.get("EvaluationResults") or [{}]
    return str(results[0].get("EvalDecision", "unknown"))
