"""Template resolution: a synthesized definition with well-formed fake names and ARNs (`FakeCloud`).

Part of the offline harness: see the package docstring (`pipeline_rehearsal/__init__.py`).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any
from collections.abc import Mapping

# First of the third-party imports: it refuses a moto other than the one whose internals are patched here.
import pipeline_rehearsal.moto_pin  # noqa: F401  (imported for its check, see the line above)

ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


class FakeCloud:
    """Fake but well-formed physical names and ARNs for the resources of a synthesized template."""

    _NAME_PROPERTIES = {
        "AWS::S3::Bucket": "BucketName",
        "AWS::IAM::Role": "RoleName",
        "AWS::Lambda::Function": "FunctionName",
        "AWS::Glue::Job": "Name",
        "AWS::Logs::LogGroup": "LogGroupName",
        "AWS::StepFunctions::StateMachine": "StateMachineName",
        "AWS::SNS::Topic": "TopicName",
        "AWS::SQS::Queue": "QueueName",
    }

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        account: str = ACCOUNT,
        region: str = DEFAULT_REGION,
        partition: str = "aws",
        overrides: Mapping[str, Any] | None = None,
        stacks: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.template = template
        self.account, self.region, self.partition = account, region, partition
        # Values for Refs, parameters or Fn::ImportValue names this class cannot invent (by name).
        self.overrides = dict(overrides or {})
        # Other stacks' templates by stack name, for Fn::GetStackOutput (CDK's weak cross-stack references).
        self.stacks = dict(stacks or {})

    # Public helpers -------------------------------------------------------------------------------------------
    def resources_of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        return {k: v for k, v in self.template.get("Resources", {}).items() if v.get("Type") == resource_type}

    def physical_name(self, logical_id: str) -> str:
        resource = self.template["Resources"][logical_id]
        prop = self._NAME_PROPERTIES.get(resource["Type"])
        if prop and prop in resource.get("Properties", {}):
            return str(self.resolve(resource["Properties"][prop]))
        if resource["Type"] == "AWS::S3::Bucket":
            return logical_id.lower()[:63]
        if resource["Type"] == "AWS::KMS::Key":
            return str(uuid.UUID(hashlib.md5(logical_id.encode()).hexdigest()))
        return logical_id

    def arn(self, logical_id: str) -> str:
        resource_type = self.template["Resources"][logical_id]["Type"]
        name = self.physical_name(logical_id)
        p, r, a = self.partition, self.region, self.account
        formats = {
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::KMS::Key": f"arn:{p}:kms:{r}:{a}:key/{name}",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::StepFunctions::StateMachine": f"arn:{p}:states:{r}:{a}:stateMachine:{name}",
            "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{a}:{name}",
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
            "AWS::Glue::Job": f"arn:{p}:glue:{r}:{a}:job/{name}",
        }
        if resource_type in formats:
            return formats[resource_type]
        # Any other type: arn:<p>:<service>:<r>:<a>:<type-in-kebab-case>/<name>, e.g. AWS::Personalize::Dataset
        # -> personalize ... dataset/<name>; Custom::SolutionWithoutAutoTraining -> custom ...
        parts = resource_type.split("::")
        service = parts[1].lower() if parts[0] == "AWS" else parts[0].lower()
        kind = re.sub(r"(?<!^)([A-Z])", r"-\1", parts[-1]).lower()
        return f"arn:{p}:{service}:{r}:{a}:{kind}/{name}"

    # Intrinsics -----------------------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = {
                "Ref": self._ref,
                "Fn::GetAtt": self._get_att,
                "Fn::Join": lambda a: str(self.resolve(a[0])).join(str(self.resolve(v)) for v in self.resolve(a[1])),
                "Fn::Sub": self._sub,
                "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
                "Fn::Split": lambda a: str(self.resolve(a[1])).split(str(self.resolve(a[0]))),
                "Fn::ImportValue": lambda a: self._override(str(self.resolve(a)), "Fn::ImportValue"),
                "Fn::GetStackOutput": self._stack_output,
            }.get(key)
            if handler is not None:
                return handler(arg)
            if key == "Ref" or key.startswith("Fn::"):
                raise KeyError(f"FakeCloud does not resolve {key}")
        return {k: self.resolve(v) for k, v in value.items()}

    def _stack_output(self, arg: Mapping[str, Any]) -> Any:
        stack_name, output = self.resolve(arg["StackName"]), self.resolve(arg["OutputName"])
        if (key := f"{stack_name}.{output}") in self.overrides:
            return self.overrides[key]
        if stack_name not in self.stacks:
            # Without that stack's template: a stand-in that still says where the value comes from.
            return f"{stack_name}-{output}".lower()
        other = FakeCloud(
            self.stacks[stack_name], account=self.account, region=self.region, partition=self.partition,
            overrides=self.overrides, stacks=self.stacks,
        )  # fmt: skip
        return other.resolve(self.stacks[stack_name]["Outputs"][output]["Value"])

    def _override(self, name: str, kind: str) -> Any:
        if name in self.overrides:
            return self.overrides[name]
        raise KeyError(f"FakeCloud cannot invent a value for {kind} {name!r}: pass it in overrides=")

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "offline-stack",
            "AWS::NoValue": None,
        }
        if name in self.overrides:
            return self.overrides[name]
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Resources", {}):
            resource_type = self.template["Resources"][name]["Type"]
            if resource_type in ("AWS::StepFunctions::StateMachine", "AWS::SNS::Topic"):
                return self.arn(name)
            return self.physical_name(name)
        parameter = self.template.get("Parameters", {}).get(name)
        if (
            parameter is not None
            and "Default" in parameter
            and not str(parameter.get("Type", "")).startswith("AWS::SSM")
        ):
            return parameter["Default"]
        return self._override(name, "Ref")

    def _get_att(self, arg: Any) -> Any:
        logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        if (key := f"{logical_id}.{attribute}") in self.overrides:
            return self.overrides[key]
        if attribute.lower().endswith("arn"):  # Arn, DatasetArn, solutionArn (custom resources), ...
            return self.arn(logical_id)
        if attribute in ("Name", "BucketName", "RoleId", "KeyId"):
            return self.physical_name(logical_id)
        return self._override(key, "Fn::GetAtt")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._get_att(name))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, text)


def state_machine_logical_ids(template: Mapping[str, Any]) -> list[str]:
    return [k for k, v in template.get("Resources", {}).items() if v.get("Type") == "AWS::StepFunctions::StateMachine"]


def resolve_definition(
    template: Mapping[str, Any], logical_id: str | None = None, *, cloud: FakeCloud | None = None
) -> dict[str, Any]:
    """The concrete ASL of a template's state machine (the only one, or `logical_id`)."""
    cloud = cloud or FakeCloud(template)
    if logical_id is None:
        (logical_id,) = state_machine_logical_ids(template)
    properties = template["Resources"][logical_id]["Properties"]
    if "DefinitionString" in properties:
        definition = json.loads(cloud.resolve(properties["DefinitionString"]))
    else:
        definition = cloud.resolve(properties["Definition"])
    substitutions = cloud.resolve(properties.get("DefinitionSubstitutions", {}))
    if substitutions:
        text = json.dumps(definition)
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", str(value))
        definition = json.loads(text)
    return definition
