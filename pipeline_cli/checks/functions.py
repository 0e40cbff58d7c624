"""The Lambda layers (Powertools) the pipeline's functions use are resolvable in the region.

The Powertools layer ARN is resolved at deploy time from AWS's public SSM parameter; a layer
version that AWS withdraws, or one from another region or account the function cannot read,
breaks the next deployment or cold start of the post-processing functions.
"""

from __future__ import annotations

from .base import Environment, Finding, failed, passed
from .reader import Missing

__all__ = ["check_layers"]

LAMBDA_FUNCTION = "AWS::Lambda::Function"


def check_layers(env: Environment) -> Finding:
    functions = [str(r["PhysicalResourceId"]) for r in env.stack_resources(env.pipeline_stack, LAMBDA_FUNCTION)]
    layers: dict[str, list[str]] = {}
    for name in functions:
        try:
            config = env.reader.read(
                "lambda", "GetFunctionConfiguration", ["ResourceNotFoundException"], FunctionName=name
            )
        except Missing:
            return failed(f"function {name} does not exist", env.redeploy_pipeline())
        for layer in config.get("Layers") or []:
            layers.setdefault(str(layer["Arn"]), []).append(name)
    unresolvable = {}
    for arn in layers:
        try:
            env.reader.read(
                "lambda", "GetLayerVersionByArn", ["ResourceNotFoundException"], denied_is_finding=True, Arn=arn
            )
        except Missing as exc:
            unresolvable[arn] = str(exc)
    facts = {"functions": functions, "layers": layers}
    if unresolvable:
        listed = ", ".join(f"{arn} ({code}; used by {', '.join(layers[arn])})" for arn, code in unresolvable.items())
        return failed(
            f"layer not resolvable in {env.reader.region}: {listed}",
            env.redeploy_pipeline(" (it resolves the current Powertools layer)"),
            unresolvable=unresolvable,
            **facts,
        )
    if not layers:
        return passed(f"{len(functions)} function(s), no layers", **facts)
    return passed(f"{len(layers)} layer(s) of {len(functions)} function(s) resolvable: {', '.join(layers)}", **facts)
