"""Every event of a batch to every sink; one ``Delivery`` per sink.

The sinks come from the connectors' sink registry (``llmsiem sinks``); each retries under
its own ``RetryPolicy`` and dead-letters what its destination refuses for content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmsiem.connectors.sink import Delivery, Sink


@dataclass
class SinkFanout:
    """Named open sinks; ``send`` gives each the whole batch."""

    sinks: dict[str, Sink]

    def open(self) -> None:
        for sink in self.sinks.values():
            sink.open()

    def send(self, documents: list[dict[str, Any]]) -> dict[str, Delivery]:
        """Each sink's report on the batch (sinks that fail do not stop the others)."""
        return {name: sink.send(documents) for name, sink in self.sinks.items()}

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()
