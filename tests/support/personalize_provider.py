"""Reading the data stack's Personalize custom resources and their provider's IAM out of a synthesized template."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from stacks.personalize_provider import HANDLER
from tests.support.templates import TemplateLike, resources


def literal(value: Any) -> str:
    """A template value as text: literal parts kept, references as `<LogicalId.Attribute>` / `<Ref>` (e.g. an ARN
    built with Fn::Join reads `arn:<AWS::Partition>:personalize:...`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(literal(part) for part in parts)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    return json.dumps(value)


def on_event_function(template: TemplateLike) -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of the provider's on_event function."""
    (found,) = [(lid, r) for lid, r in resources(template, "AWS::Lambda::Function").items()
                if r["Properties"].get("Handler") == HANDLER]
    return found


def handler_behind(template: TemplateLike, service_token: Any) -> str | None:
    """The Handler of the function a custom resource's ServiceToken reaches through CDK's provider framework
    (the framework function relays to USER_ON_EVENT_FUNCTION_ARN)."""
    functions = resources(template, "AWS::Lambda::Function")
    framework = functions.get(service_token.get("Fn::GetAtt", [None])[0]) if isinstance(service_token, dict) else None
    if framework is None:
        return None
    target = framework["Properties"].get("Environment", {}).get("Variables", {}).get("USER_ON_EVENT_FUNCTION_ARN")
    relayed = functions.get(target.get("Fn::GetAtt", [None])[0]) if isinstance(target, dict) else None
    return relayed["Properties"].get("Handler") if relayed else None


def provider_grants(template: TemplateLike) -> dict[str, list[str]]:
    """Action -> every resource (as `literal` text) the on_event function's role may call it on."""
    role = on_event_function(template)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    grants: dict[str, list[str]] = defaultdict(list)
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]:
                grants[action].extend(literal(target) for target in targets)
    return dict(grants)
