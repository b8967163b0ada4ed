"""A sink for spool and delivery tests: it records event ids, or answers an outage."""

from __future__ import annotations

from typing import Any

from llmsiem.connectors.sink import Delivery


class ListSink:
    """Records the event ids it is sent; once ``after`` ids are in, ``outage`` decides what
    each batch gets instead (a ``Delivery`` answered, or an exception raised)."""

    def __init__(self, outage: Delivery | Exception | None = None, after: int = 0) -> None:
        self.ids: list[str] = []
        self.outage = outage
        self.after = after

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, batch: list[dict[str, Any]]) -> Delivery:
        if self.outage is not None and len(self.ids) >= self.after:
            if isinstance(self.outage, Exception):
                raise self.outage
            return self.outage
        self.ids.extend(e["event"]["id"] for e in batch)
        return Delivery(sent=len(batch))
