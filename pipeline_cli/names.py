"""Execution names and ARNs: validation and the links built from them (pure functions).

Names are checked before any AWS call so a typo costs nothing and gets a message that says
which character is wrong, instead of Step Functions' generic `InvalidName`.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_EXECUTION_NAME_LENGTH",
    "execution_name_problem",
    "execution_name_warning",
    "execution_arn_for",
    "is_execution_arn",
    "execution_name_of",
    "console_url",
]

MAX_EXECUTION_NAME_LENGTH = 80

# From the StartExecution API reference: no whitespace, brackets `< > { } [ ]`, wildcards `? *`,
# special characters `" # % \ ^ | ~ ` $ & , ; : /`, control characters (U+0000-001F,
# U+007F-009F), surrogates, or non-characters.
_BRACKETS = set("<>{}[]")
_WILDCARDS = set("?*")
_SPECIALS = set('"#%\\^|~`$&,;:/')
_CLOUDWATCH_SAFE = re.compile(r"[0-9A-Za-z_-]+")

_CONSOLE_HOSTS = {
    "aws": "{region}.console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


def _describe_char(ch: str) -> str:
    if ch.isprintable() and not ch.isspace():
        return repr(ch)
    return f"U+{ord(ch):04X}"


def execution_name_problem(name: str) -> str | None:
    """Why Step Functions would reject `name` as an execution name, or None when it is valid."""
    if not 1 <= len(name) <= MAX_EXECUTION_NAME_LENGTH:
        return f"must be 1-{MAX_EXECUTION_NAME_LENGTH} characters long (got {len(name)})"
    for ch in name:
        code = ord(ch)
        if ch.isspace():
            return f"must not contain whitespace ({_describe_char(ch)})"
        if code <= 0x1F or 0x7F <= code <= 0x9F:
            return f"must not contain control characters ({_describe_char(ch)})"
        if 0xD800 <= code <= 0xDFFF or code == 0x10FFFF or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
            return f"must not contain surrogates or non-characters ({_describe_char(ch)})"
        if ch in _BRACKETS:
            return f"must not contain brackets < > {{ }} [ ] ({_describe_char(ch)})"
        if ch in _WILDCARDS:
            return f"must not contain wildcards ? * ({_describe_char(ch)})"
        if ch in _SPECIALS:
            return f"must not contain {_describe_char(ch)} (nor any of \" # % \\ ^ | ~ ` $ & , ; : /)"
    return None


def execution_name_warning(name: str) -> str | None:
    """A note for names Step Functions accepts but warns about, else None.

    Step Functions documents that logging to CloudWatch Logs (which this state machine does)
    needs names of `0-9 A-Z a-z - _` only. (S3 prefixes and Personalize job names are safe
    either way: the pipeline's naming step replaces other characters.)
    """
    if _CLOUDWATCH_SAFE.fullmatch(name):
        return None
    return "Step Functions documents that names outside 0-9 A-Z a-z - _ break logging to CloudWatch Logs"


def is_execution_arn(value: str) -> bool:
    return value.startswith("arn:") and ":states:" in value and ":execution:" in value


def execution_arn_for(state_machine_arn: str, name: str) -> str:
    """The ARN of execution `name` of a standard state machine (the documented ARN layout)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def execution_name_of(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[-1]


def console_url(execution_arn: str) -> str:
    """A link to the execution's page in the Step Functions console (region and partition from the ARN)."""
    parts = execution_arn.split(":")
    partition = parts[1] if len(parts) > 3 else "aws"
    region = parts[3] if len(parts) > 3 else ""
    host = _CONSOLE_HOSTS.get(partition, _CONSOLE_HOSTS["aws"]).format(region=region)
    return f"https://{host}/states/home?region={region}#/v2/executions/details/{execution_arn}"
