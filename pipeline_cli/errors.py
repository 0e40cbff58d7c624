"""Exit codes and the translation of AWS failures into one-line messages.

An operator running `start --wait` from a terminal or a cron job needs to know *what to fix*
(credentials, region, stack name, a missing IAM permission), not a botocore traceback. Every
failure the CLI expects is turned into a `CliError` here, with the exit code that tells a script
which kind of problem it was.
"""

from __future__ import annotations

import re
from enum import IntEnum

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
)

__all__ = ["ExitCode", "CliError", "translate_client_error", "translate_botocore_error"]


class ExitCode(IntEnum):
    """Process exit codes. Scripts branch on these, so they are part of the CLI's contract."""

    OK = 0
    """The run succeeded, or was skipped by the overlap guard; or the command did its job."""
    RUN_FAILED = 1
    """The execution failed, timed out or was aborted."""
    USAGE = 2
    """Bad arguments or configuration: unknown stack/profile/execution, missing output, bad name."""
    AWS = 3
    """AWS could not be used: no/expired credentials, access denied, throttled, unreachable."""
    INTERRUPTED = 130
    """Ctrl-C while watching (the execution itself keeps running)."""


class CliError(Exception):
    """An expected failure: printed as one `error: ...` line, then exit with `exit_code`."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)
# Throttling only reaches us after botocore's standard retry mode gave up.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
    }
)
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
BAD_CREDENTIAL_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch"}
)

# "User: arn:... is not authorized to perform: states:StartExecution on resource: ..." is the
# wording of IAM denials across services; the action and principal are what the operator needs.
_DENIED_ACTION = re.compile(r"not authorized to perform:?\s*([A-Za-z0-9-]+:[A-Za-z0-9*]+)")
_DENIED_PRINCIPAL = re.compile(r"User:\s*(\S+)\s+is not authorized")

CREDENTIALS_HINT = "configure credentials (aws configure, aws sso login) or pass --profile"


def translate_client_error(exc: ClientError, action: str) -> CliError:
    """A `ClientError` nobody handled at the call site, as a one-line `CliError`.

    `action` is the IAM action of the call (`states:StartExecution`): AWS's own message names it
    for IAM denials, but not every service does (or a proxy strips it), and the operator needs
    the action to ask for the right permission.
    """
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", "")).strip()
    if code in ACCESS_DENIED_CODES:
        match = _DENIED_ACTION.search(message)
        denied = match.group(1) if match else action
        principal = _DENIED_PRINCIPAL.search(message)
        who = f" for {principal.group(1)}" if principal else ""
        return CliError(
            f"access denied: {denied} is not allowed{who} (ask for this IAM permission)", ExitCode.AWS
        )
    if code in THROTTLING_CODES:
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts")
        tries = f" after {attempts + 1} attempts" if isinstance(attempts, int) else ""
        return CliError(
            f"AWS throttled {action}{tries}; try again later or poll less often (--poll-interval)",
            ExitCode.AWS,
        )
    if code in EXPIRED_CODES:
        return CliError(f"AWS credentials have expired ({code}); refresh them (e.g. aws sso login)", ExitCode.AWS)
    if code in BAD_CREDENTIAL_CODES:
        return CliError(f"AWS rejected the credentials ({code}: {message}); {CREDENTIALS_HINT}", ExitCode.AWS)
    detail = f"{code}: {message}" if message else code
    return CliError(f"{action} failed: {detail}", ExitCode.AWS)


def translate_botocore_error(exc: BotoCoreError) -> CliError:
    """Client-side botocore failures (credentials, region, network) as a one-line `CliError`."""
    if isinstance(exc, PartialCredentialsError):
        return CliError(f"incomplete AWS credentials: {exc}; {CREDENTIALS_HINT}", ExitCode.AWS)
    if isinstance(exc, NoCredentialsError):
        return CliError(f"no AWS credentials found; {CREDENTIALS_HINT}", ExitCode.AWS)
    if isinstance(exc, (TokenRetrievalError, SSOError)):
        return CliError(f"AWS SSO login needed or expired ({exc}); run aws sso login", ExitCode.AWS)
    if isinstance(exc, NoRegionError):
        return CliError(
            "no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set a region in the profile",
            ExitCode.USAGE,
        )
    if isinstance(exc, ProfileNotFound):
        return CliError(f"{exc} (check --profile / AWS_PROFILE)", ExitCode.USAGE)
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        return _unreachable(exc)
    return CliError(f"AWS client error: {exc}", ExitCode.AWS)


def _unreachable(exc: BotoCoreError) -> CliError:
    """The endpoint that could not be reached, and what to check."""
    endpoint = exc.kwargs.get("endpoint_url", "the AWS endpoint")
    if isinstance(exc, ReadTimeoutError):
        what = f"{endpoint} did not answer in time"
    elif isinstance(exc, ConnectTimeoutError):
        what = f"cannot connect to {endpoint} (connection timed out)"
    else:
        what = f"cannot connect to {endpoint}"
    return CliError(f"{what}; check the network, any proxy, --region and AWS_ENDPOINT_URL", ExitCode.AWS)
