"""Incremental history reading against a fake that pages like GetExecutionHistory does."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pipeline_cli.aws import HistoryReader

ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:run"


class FakeHistoryApi:
    """Pages with maxResults and opaque nextTokens; honours reverseOrder unless told not to."""

    def __init__(self, honour_reverse: bool = True, honour_paging: bool = True) -> None:
        self.events: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.honour_reverse = honour_reverse
        self.honour_paging = honour_paging

    def add(self, n: int) -> None:
        for _ in range(n):
            i = len(self.events) + 1
            self.events.append({"id": i, "type": "PassStateEntered", "timestamp": datetime.now(timezone.utc)})

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["executionArn"] == ARN
        self.calls.append(kwargs)
        ordered = list(reversed(self.events)) if kwargs.get("reverseOrder") and self.honour_reverse else self.events
        if not self.honour_paging:
            return {"events": list(ordered)}
        start = int(kwargs.get("nextToken", "0"))
        size = kwargs.get("maxResults", 100)
        page = ordered[start : start + size]
        out: dict[str, Any] = {"events": page}
        if start + size < len(ordered):
            out["nextToken"] = str(start + size)
        return out


def ids(events: list[Any]) -> list[int]:
    return [e["id"] for e in events]


def test_first_read_pages_forward_through_everything() -> None:
    api = FakeHistoryApi()
    api.add(2500)
    reader = HistoryReader(api, ARN)
    assert ids(reader.fetch_new()) == list(range(1, 2501))
    assert [c.get("reverseOrder") for c in api.calls] == [None, None, None]
    assert [c["maxResults"] for c in api.calls] == [1000, 1000, 1000]


def test_later_reads_fetch_only_new_events_newest_first() -> None:
    api = FakeHistoryApi()
    api.add(2500)
    reader = HistoryReader(api, ARN)
    reader.fetch_new()
    api.calls.clear()

    api.add(5)
    assert ids(reader.fetch_new()) == [2501, 2502, 2503, 2504, 2505]
    assert len(api.calls) == 1 and api.calls[0]["reverseOrder"] is True

    api.calls.clear()
    api.add(250)  # more than one reverse page: keep paging until an old event shows up
    assert ids(reader.fetch_new()) == list(range(2506, 2756))
    assert len(api.calls) == 3 and all(c["reverseOrder"] for c in api.calls)

    api.calls.clear()
    assert reader.fetch_new() == []
    assert len(api.calls) == 1


def test_a_backend_that_ignores_reverse_order_and_paging_still_yields_each_event_once() -> None:
    api = FakeHistoryApi(honour_reverse=False, honour_paging=False)  # what moto does
    reader = HistoryReader(api, ARN)
    api.add(3)
    seen = reader.fetch_new()
    api.add(4)
    seen += reader.fetch_new()
    seen += reader.fetch_new()
    assert ids(seen) == list(range(1, 8))
