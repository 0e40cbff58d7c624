"""A Lambda function's failure as the run reports it: the error's type and message, never its stack trace.

A LambdaInvoke whose function raises fails with Error = the exception's type and Cause = the function's error as
JSON text, which the Python runtime writes as

    {"errorMessage": "...", "errorType": "...", "requestId": "...", "stackTrace": ["  File \"/var/task/...", ...]}

(a stack trace with the code's file paths, the invocation's request id). Every other failure a catch sees has a
plain-text cause: the Lambda service's own (Lambda.ServiceException, Lambda.TooManyRequestsException,
Lambda.Unknown), Step Functions' (States.Timeout, ...), Personalize's, Glue's. `States.StringToJson` on plain text
raises States.Runtime, which no Catch catches and which fails the execution, so only a cause of the runtime's shape
is parsed. Every catch that a function error can reach sends the caught error through `readable_function_error`
before anything reads its Cause (the run's cause, the failure notice, a solution's record in the manifest):

    <label>: function error?                    Choice: the Cause has the runtime's shape (`FUNCTION_ERROR_CAUSE`)
      yes -> <label>: read the function error   Pass: the Cause parsed (`States.StringToJson`)
          -> <label>: type and message only     Pass: {"Error", "Cause": "<errorType>: <errorMessage>"}
          -> then
      no  -> then                               (a plain-text cause is kept as it is)

The shape test is `StringMatches` on the whole text: it starts with the runtime's first key and ends with the stack
trace's list, so what it lets through parses (a cause cut short would no longer end with `]}`; one cut exactly after
a `]}` inside the stack trace is the one case left). The pattern has no `[` or `?`: AWS only treats `*` specially,
but the offline interpreter (fnmatch) would read them as wildcards too.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

JsonPath = sfn.JsonPath
FUNCTION_ERROR_CAUSE = '{"errorMessage":*"errorType":*"stackTrace":*]}'
"""StringMatches pattern of a Python function error's Cause: the runtime's JSON of errorMessage, errorType,
requestId (absent before the invocation, for an error of the handler's import) and stackTrace, in that order, with or
without spaces after the colons."""


def readable_function_error(scope: Construct, label: str, *, error_path: str, then: sfn.IChainable) -> sfn.Choice:
    """The states that rewrite the error caught at `error_path` ({"Error", "Cause"}) to the function's type and
    message when it is a function error, then go on to `then`; the entry to pass to `add_catch`. `label` prefixes
    the state names (unique in the state machine)."""
    cause = f"{error_path}.Cause"
    parsed = f"{error_path}.function"
    keep_type_and_message = sfn.Pass(
        scope,
        f"{label}: type and message only",
        parameters={
            "Error": JsonPath.string_at(f"{error_path}.Error"),
            "Cause": JsonPath.format(
                "{}: {}", JsonPath.string_at(f"{parsed}.errorType"), JsonPath.string_at(f"{parsed}.errorMessage")
            ),
        },
        result_path=error_path,
    )
    read = sfn.Pass(
        scope,
        f"{label}: read the function error",
        parameters={
            "Error": JsonPath.string_at(f"{error_path}.Error"),
            "function": JsonPath.string_to_json(JsonPath.string_at(cause)),
        },
        result_path=error_path,
    )
    read.next(keep_type_and_message).next(then)
    is_function_error = sfn.Condition.and_(
        sfn.Condition.is_present(cause),
        sfn.Condition.is_string(cause),
        sfn.Condition.string_matches(cause, FUNCTION_ERROR_CAUSE),
    )
    return sfn.Choice(scope, f"{label}: function error?").when(is_function_error, read).otherwise(then)
