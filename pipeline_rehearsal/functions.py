"""The Lambda functions of a synthesized template, run as their REAL handlers in the offline harness.

Part of the offline harness: see the package docstring (`pipeline_rehearsal/__init__.py`).

Every `AWS::Lambda::Function` whose `Handler` names a module of `lambda_src/` (e.g.
`batch_plan.handler.plan_batch_jobs`) is registered with `FakeLambda` under the fake ARN the resolved definition
invokes, with its memory and timeout; its environment can be applied to the process (the handlers read it).
Module state a handler caches per execution environment (an S3 client, boto3 clients by service) is reset when
the functions are registered, so a client made under another moto context is never reused.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from collections.abc import Callable, Mapping
from typing import Any

from pipeline_contracts.lambda_runtime import ClientCache
from pipeline_rehearsal.cloud import FakeCloud
from pipeline_rehearsal.interpreter import OfflineStepFunctions

# Module attributes that cache a client per execution environment, and their empty value (the handlers that keep
# several clients hold a `ClientCache`, cleared instead).
_CACHED_CLIENTS: dict[str, Callable[[], Any]] = {"_S3": lambda: None}


@dataclass(frozen=True)
class TemplateFunction:
    """One Lambda function of the template: what the harness needs to run its real handler in-process."""

    logical_id: str
    arn: str  # the fake ARN the resolved definition invokes
    handler: str  # e.g. postprocess.handler.process_file (asset root: lambda_src/)
    memory_mb: int
    timeout_seconds: int
    environment: dict[str, str]

    @property
    def module(self) -> Any:
        return importlib.import_module(f"lambda_src.{self.handler.rpartition('.')[0]}")

    def python_handler(self) -> Callable[[Any, Any], Any]:
        return getattr(self.module, self.handler.rpartition(".")[2])


def template_functions(template: Mapping[str, Any], cloud: FakeCloud) -> dict[str, TemplateFunction]:
    """The template's functions whose code is a `lambda_src` handler, by handler string (e.g.
    `batch_plan.handler.place_job_input`). Functions of CDK's own (custom resources, log retention) have
    handlers outside lambda_src and are left out."""
    result: dict[str, TemplateFunction] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        properties = resource.get("Properties", {})
        handler = properties.get("Handler")
        if not isinstance(handler, str) or handler.count(".") < 2:
            continue
        try:
            importlib.import_module(f"lambda_src.{handler.rpartition('.')[0]}")
        except ModuleNotFoundError:
            continue
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        result[handler] = TemplateFunction(
            logical_id=logical_id,
            arn=cloud.arn(logical_id),
            handler=handler,
            memory_mb=int(properties.get("MemorySize", 128)),
            timeout_seconds=int(properties.get("Timeout", 3)),
            environment={k: str(v) for k, v in cloud.resolve(variables).items()},
        )
    return result


def register_functions(aws: OfflineStepFunctions, functions: Mapping[str, TemplateFunction]) -> None:
    """Registers each function's real handler under its ARN, with fresh cached clients."""
    for function in functions.values():
        module = function.module
        for attribute, empty in _CACHED_CLIENTS.items():
            if hasattr(module, attribute):
                setattr(module, attribute, empty())
        for cache in vars(module).values():
            if isinstance(cache, ClientCache):
                cache.clear()
        aws.lambdas.register(
            function.arn,
            function.python_handler(),
            memory_mb=function.memory_mb,
            timeout_seconds=function.timeout_seconds,
        )


def shared_environment(functions: Mapping[str, TemplateFunction], region: str) -> dict[str, str]:
    """One process environment for every function (each one's is its own in Lambda): the union of their
    variables, which must agree where they overlap; Powertools' service name is left out (each handler module
    reads it once, when its Logger is made)."""
    environment = {"AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    for function in functions.values():
        for name, value in function.environment.items():
            if name == "POWERTOOLS_SERVICE_NAME":
                continue
            if environment.setdefault(name, value) != value:
                raise AssertionError(f"{name} differs between the functions: {environment[name]!r} and {value!r}")
    return environment
