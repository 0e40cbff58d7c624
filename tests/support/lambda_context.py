"""The slice of a Lambda context object the handlers and Powertools read, for calling a handler in-process."""

from __future__ import annotations

import types
from typing import Any


def lambda_context(function_name: str, memory_mb: int) -> Any:
    return types.SimpleNamespace(
        function_name=function_name,
        memory_limit_in_mb=memory_mb,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
        aws_request_id="req-1",
    )
