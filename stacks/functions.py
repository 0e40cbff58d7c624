"""The pipeline's Lambda functions: code from `lambda_src/`, each with its own role, log group and code asset."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Mapping, Sequence

from aws_cdk import AssetHashType, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.bundling import copied_files, package_files, with_contracts
from stacks.nag import acknowledge

LAMBDA_SOURCE = Path(__file__).resolve().parent.parent / "lambda_src"
# Python 3.13 is the runtime the pipeline's functions are written and tested for (and the one the
# Powertools layer is pinned for); a newer runtime is a deliberate upgrade, not a silent one.
RUNTIME = lambda_.Runtime.PYTHON_3_13
# Default `timeout` of PipelineFunction (a module-level constant, not a call in the signature).
DEFAULT_TIMEOUT = Duration.seconds(10)
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
# The Powertools layer is resolved at deploy time from AWS's public parameter for the version the
# tests run against (requirements-dev.txt), so the deployed library is the tested one.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/x86_64/python3.13/{POWERTOOLS_VERSION}"


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The AWS-managed Powertools layer of `POWERTOOLS_VERSION`, for the functions built in `scope`."""
    return lambda_.LayerVersion.from_layer_version_arn(
        scope, "Powertools", ssm.StringParameter.value_for_string_parameter(scope, POWERTOOLS_LAYER_PARAMETER)
    )


class PipelineFunction(Construct):
    """A Python function whose code is its own package of `lambda_src/` (the handler's first name, e.g.
    `postprocess` for `postprocess.handler.process_file`) plus the `pipeline_contracts` modules that package
    imports, copied as they are (stdlib, boto3 and the Powertools layer only, so no Docker); whose role may
    write to its own encrypted log group and to nothing else until a caller grants more.

    Attributes:
        function, role, log_group
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        logs_key: kms.IKey,
        memory_size: int = 128,
        timeout: Duration = DEFAULT_TIMEOUT,
        environment: Mapping[str, str] | None = None,
        layers: Sequence[lambda_.ILayerVersion] = (),
        tracing: lambda_.Tracing = lambda_.Tracing.DISABLED,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", encryption_key=logs_key, retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            handler=handler,
            code=function_code(handler),
            memory_size=memory_size,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            environment=dict(environment or {}),
            layers=list(layers),
            tracing=tracing,
        )
        # Logs must be writable from the first invocation: the function waits for the role's policy.
        self.function.node.add_dependency(self.role)
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Pinned to Python 3.13 on purpose (the version the code is tested for and the Powertools layer "
            "is resolved for); moving to a newer runtime is a reviewed change, not an automatic one.",
        )


def function_code(handler: str) -> lambda_.Code:
    """The asset of the function whose handler is `handler`: its package and the contracts it imports."""
    package = LAMBDA_SOURCE / handler.split(".", 1)[0]
    return lambda_.Code.from_asset(
        str(package),
        bundling=copied_files(with_contracts(package_files(package))),
        # Hash what is shipped, not the source folder (the contracts live outside it).
        asset_hash_type=AssetHashType.OUTPUT,
    )
