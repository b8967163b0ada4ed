"""Every event of a batch to every sink; one ``Delivery`` per sink.

The sinks come from the connectors' sink registry (``llmsiem sinks``); each retries under
its own ``RetryPolicy`` and dead-letters what its destination refuses for content.

A request that one sink could not take is answered 503 and sent again by its sender, so
the sinks that did take it would get its events twice: each sink remembers the ids of the
events it took in its newest ``RECENT_IDS`` (about 100 bytes each), and a resent event it
already has is counted as a duplicate instead of written again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from llmsiem.connectors.sink import Delivery, Sink

RECENT_IDS = 100_000


@dataclass
class SinkFanout:
    """Named open sinks; ``send`` gives each the whole batch."""

    sinks: dict[str, Sink]
    taken: dict[str, OrderedDict[str, None]] = field(default_factory=dict, init=False)
    """Per sink, the ids of the newest events it took."""

    def open(self) -> None:
        for sink in self.sinks.values():
            sink.open()

    def send(self, documents: list[dict[str, Any]]) -> dict[str, Delivery]:
        """Each sink's report on the batch (sinks that fail do not stop the others)."""
        return {name: self.send_to(name, documents) for name in self.sinks}

    def send_to(self, name: str, documents: list[dict[str, Any]]) -> Delivery:
        """The events to one sink, but those it took recently (counted as duplicates)."""
        taken = self.taken.setdefault(name, OrderedDict())
        ids = [str(d.get("event", {}).get("id") or "") for d in documents]
        fresh = [(i, d) for i, d in zip(ids, documents, strict=True) if not i or i not in taken]
        delivery = self.sinks[name].send([d for _, d in fresh]) if fresh else Delivery()
        delivery.duplicate += len(documents) - len(fresh)
        if delivery.complete:
            for event_id, _ in fresh:
                if event_id:
                    taken[event_id] = None
            while len(taken) > RECENT_IDS:
                taken.popitem(last=False)
        return delivery

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()
