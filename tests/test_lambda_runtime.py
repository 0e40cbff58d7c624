"""The helpers every Lambda handler shares (`pipeline_contracts/lambda_runtime.py`)."""

from __future__ import annotations

import pytest

from pipeline_contracts.lambda_runtime import STANDARD_RETRIES, ClientCache, required_text


class Refused(ValueError):
    pass


@pytest.mark.parametrize("value", [None, "", 5, ["x"], {"a": "b"}, True])
def test_a_missing_empty_or_non_string_field_raises_the_handlers_error_naming_field_and_value(value: object) -> None:
    event = {} if value is None else {"table": value}
    with pytest.raises(Refused, match=rf"^event needs a non-empty string 'table', got {value!r}$".replace("[", r"\[")):
        required_text(event, "table", Refused)


def test_a_non_empty_string_is_returned_as_given() -> None:
    assert required_text({"table": " t "}, "table", Refused) == " t "


def test_one_client_per_service_with_standard_retries_and_extra_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    cache = ClientCache(max_pool_connections=3)
    s3 = cache("s3")
    assert cache("s3") is s3 and cache("sqs") is not s3
    # botocore counts the first attempt too: max_attempts 8 (retries) is total_max_attempts 9.
    assert STANDARD_RETRIES == {"mode": "standard", "max_attempts": 8}
    assert s3.meta.config.retries == {"mode": "standard", "total_max_attempts": 9}
    assert s3.meta.config.max_pool_connections == 3
    stand_in = object()
    cache.use("s3", stand_in)
    assert cache("s3") is stand_in
    cache.clear()
    assert cache("s3") is not stand_in and cache("s3") is not s3
