"""The custom-resource provider of the data stack's Personalize resources (solutions, Items / Users datasets).

One `custom_resources.Provider` whose on_event function is `lambda_src/personalize_resources` (a PipelineFunction:
its own role and encrypted log group). Its calls wait (bounded, in the function) for what Personalize does
asynchronously, so no is-complete handler or waiter state machine is needed. The provider framework's own function
gets its own role and encrypted log group too, instead of CDK's defaults (an AWS managed policy, unencrypted logs).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.functions import LOG_RETENTION, PipelineFunction
from stacks.nag import acknowledge, acknowledge_wildcard

HANDLER = "personalize_resources.handler.on_event"
# The logical id of the function that served the solutions when they were AwsCustomResources (CDK's singleton
# provider of a stack). CloudFormation refuses to change a custom resource's ServiceToken ("Modifying service token
# is not allowed"), so the provider framework's function takes this id over: the solutions' ServiceToken (GetAtt of
# this id) stays the same, the function is updated in place, and an upgraded stack sends the solutions an Update.
FORMER_SERVICE_FUNCTION_LOGICAL_ID = "AWS679f53fac002430cb0da5b7982bd22872D164C4C"
# The handler waits at most 12 minutes (lambda_src/personalize_resources/waiting.py) and reports its own
# message before this timeout; the provider framework waits for it synchronously (its limit is 15 minutes).
TIMEOUT = Duration.minutes(14)


class PersonalizeResourceProvider(Construct):
    """Attributes: service_token (for each CustomResource), handler (the on_event PipelineFunction)."""

    def __init__(self, scope: Construct, construct_id: str, *, logs_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.handler = PipelineFunction(
            self,
            "OnEvent",
            handler=HANDLER,
            description="Creates, updates in place and deletes the pipeline's Personalize solutions and metadata "
            "datasets (CloudFormation custom resources)",
            logs_key=logs_key,
            timeout=TIMEOUT,
        )
        framework_logs = logs.LogGroup(
            self,
            "FrameworkLogs",
            encryption_key=logs_key,
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        framework_role = iam.Role(
            self,
            "FrameworkRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="CDK custom-resource provider framework: relays CloudFormation events to the on_event function",
        )
        framework_logs.grant_write(framework_role)
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.handler.function,
            framework_on_event_role=framework_role,
            log_group=framework_logs,
        )
        self.service_token = provider.service_token
        acknowledge_wildcard(
            framework_role,
            f"{self.handler.function.function_arn}:*",
            "CDK's provider framework may invoke every version of the on_event function (Lambda's grantInvoke); "
            "the function itself is the only resource.",
        )
        framework_function = provider.node.find_child("framework-onEvent")
        framework_resource = framework_function.node.default_child
        assert isinstance(framework_resource, CfnResource)
        framework_resource.override_logical_id(FORMER_SERVICE_FUNCTION_LOGICAL_ID)
        acknowledge(
            framework_function,
            "AwsSolutions-L1",
            "The provider framework's runtime is chosen by aws-cdk-lib (it ships the framework's code); it moves "
            "with the pinned aws-cdk-lib version, not by this app.",
        )

    def allow(self, actions: Sequence[str], resources: Sequence[str], wildcard_reason: str | None = None) -> None:
        """Lets the on_event function call `actions` on `resources`; a pattern among them (IAM `?`/`*`) is
        acknowledged for cdk-nag with `wildcard_reason`."""
        self.handler.role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=list(resources)))
        for resource in resources:
            if wildcard_reason and ("*" in resource or "?" in resource):
                acknowledge_wildcard(self.handler.role, resource, wildcard_reason)
