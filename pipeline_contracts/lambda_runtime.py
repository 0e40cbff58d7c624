"""What the Lambda handlers do the same way: read a required string of their event, keep one boto3 client per service.

Here rather than in each handler because every function's asset ships the `pipeline_contracts` modules its package
imports (stacks/bundling.py). Importing this module needs the standard library only (the package's rule): boto3,
which every Lambda Python runtime provides, is imported when the first client is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STANDARD_RETRIES: Mapping[str, Any] = {"mode": "standard", "max_attempts": 8}
"""botocore's standard retry mode, with more attempts than its default 3: a run waits on throttled control-plane
calls rather than failing on them."""


def required_text(event: Mapping[str, Any], name: str, error: type[Exception]) -> str:
    """`event[name]`, a non-empty string; otherwise raises `error` (the handler's InvalidEvent) naming the field
    and the value found."""
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise error(f"event needs a non-empty string {name!r}, got {value!r}")
    return value


class ClientCache:
    """One boto3 client per service and execution environment, made on first use (so tests can mock first).

    Call it with a service name (`client("s3")`). `use(service, client)` puts a given client in place and `clear()`
    forgets every client: what a test does to swap in a stub or to leave one moto context for another.
    `config` holds extra botocore `Config` options (e.g. `max_pool_connections`) beside `STANDARD_RETRIES`."""

    def __init__(self, **config: Any) -> None:
        self._config = config
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            config = Config(retries=dict(STANDARD_RETRIES), **self._config)
            self._clients[service] = boto3.client(service, config=config)
        return self._clients[service]

    def use(self, service: str, client: Any) -> None:
        self._clients[service] = client

    def clear(self) -> None:
        self._clients.clear()
