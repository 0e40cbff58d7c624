"""The doctor's read-only AWS calls: one session, cached answers, errors sorted for the checks.

Each check asks for what it needs; several ask the same thing (the stacks' outputs, the
solution), so answers are cached per call and a run costs each distinct call once. A call can
end three ways for a check: an answer; an error the check expects and turns into a FAIL line
with its fix (`Missing`, e.g. no such solution); or anything else, a `CliError` from the CLI's
own translation (access denied, throttled, no credentials), which the runner reports as "could
not check" without guessing at the environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import boto3
from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from ..aws import Gateway
from ..errors import ACCESS_DENIED_CODES, translate_botocore_error, translate_client_error

__all__ = ["Missing", "Denied", "AwsReader"]


class Missing(Exception):
    """An error code the calling check expected (it reports it as a finding)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


class Denied(Missing):
    """Access denied on a call whose check treats a denial as a finding, not a stop."""


class AwsReader(Gateway):
    """Read calls by service and operation name, e.g. `read("personalize", "DescribeSolution", ...)`.

    Shares the CLI gateway's clients (retry configuration, error translation on creation)."""

    def __init__(self, session: boto3.Session) -> None:
        super().__init__(session)
        self._cache: dict[str, Mapping[str, Any]] = {}

    @property
    def session(self) -> boto3.Session:
        return self._session

    def read(
        self,
        service: str,
        operation: str,
        expect: Iterable[str] = (),
        *,
        denied_is_finding: bool = False,
        **kwargs: Any,
    ) -> Mapping[str, Any]:
        """The call's answer; `Missing` for an error code in `expect` (`Denied` for an access
        denial when `denied_is_finding`); a `CliError` for every other failure."""
        key = json.dumps([service, operation, kwargs], sort_keys=True, default=str)
        if key not in self._cache:
            self._cache[key] = self._read_uncached(service, operation, frozenset(expect), denied_is_finding, kwargs)
        return self._cache[key]

    def pages(
        self, service: str, operation: str, key: str, max_pages: int = 20, expect: Iterable[str] = (), **kwargs: Any
    ) -> Iterator[Any]:
        """The items under `key` of every page (`NextToken`/`nextToken`), at most `max_pages` pages."""
        for _ in range(max_pages):
            page = self.read(service, operation, expect, **kwargs)
            yield from page.get(key) or []
            token_name = next((name for name in _PAGE_TOKENS if page.get(name)), None)
            if token_name is None:
                return
            kwargs = {**kwargs, _PAGE_TOKENS[token_name]: page[token_name]}

    def _read_uncached(
        self, service: str, operation: str, expect: frozenset[str], denied_is_finding: bool, kwargs: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        client = self._client(service)
        try:
            response: Mapping[str, Any] = getattr(client, xform_name(operation))(**kwargs)
            return response
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", ""))
            if code in expect:
                raise Missing(code, message) from exc
            if denied_is_finding and code in ACCESS_DENIED_CODES:
                raise Denied(code, message) from exc
            action = _IAM_ACTIONS.get(operation, f"{client.meta.service_model.signing_name}:{operation}")
            raise translate_client_error(exc, action) from exc
        except BotoCoreError as exc:
            raise translate_botocore_error(exc) from exc


# Operations whose IAM action has another name (S3's denial messages do not name the action).
_IAM_ACTIONS = {"ListObjectsV2": "s3:ListBucket", "GetLayerVersionByArn": "lambda:GetLayerVersion"}

# The token a page answers -> the parameter the next request passes it in (S3 names them apart).
_PAGE_TOKENS = {"NextToken": "NextToken", "nextToken": "nextToken", "NextContinuationToken": "ContinuationToken"}
