"""Routed delivery for ``collect --routes``: each event to the sinks of the routes it matches.

In a stream the alerts come after the events (the engine runs after the sinks, and a
correlation completes later still), so routes that test ``alerted`` are applied late: an
event that would go to more sinks if alerted is remembered (the newest ``REMEMBERED``
such events), and when an alert cites it, it is sent to those sinks then.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from llmsiem.collect.fanout import SinkFanout
from llmsiem.connectors.sink import Delivery
from llmsiem.pipeline.routing import Router, alerted_event_ids

REMEMBERED = 50_000
log = logging.getLogger("llmsiem.collect.routed")


@dataclass
class RoutedFanout(SinkFanout):
    """``SinkFanout`` whose sinks get only their routes' share of each batch."""

    router: Router | None = None
    pending: OrderedDict[str, tuple[dict[str, Any], list[str]]] = field(default_factory=OrderedDict)
    """Event id -> (event, the sinks it still goes to if an alert cites it)."""

    def send(self, documents: list[dict[str, Any]]) -> dict[str, Delivery]:
        assert self.router is not None
        shares = self.router.split(documents)
        if self.router.uses_alerts:
            for document in documents:
                now = self.router.destinations(document, alerted=False)
                later = [s for s in self.router.destinations(document, True) if s not in now]
                event_id = document.get("event", {}).get("id")
                if later and event_id:
                    self.pending[str(event_id)] = (document, later)
                    if len(self.pending) > REMEMBERED:
                        self.pending.popitem(last=False)
        return {name: self.send_to(name, share) for name, share in shares.items()}

    def on_alert(self, alert: dict[str, Any]) -> None:
        """An alert handler: the events it cites go to the sinks their alert routes add."""
        late: dict[str, list[dict[str, Any]]] = {}
        for event_id in alerted_event_ids([alert]):
            document, sinks = self.pending.pop(event_id, ({}, []))
            for name in sinks:
                late.setdefault(name, []).append(document)
        for name, documents in late.items():
            delivery = self.send_to(name, documents)
            if not delivery.complete:
                log.warning(
                    "%s: %d alerted events not delivered (%s); they are in the other sinks",
                    name,
                    len(documents),
                    delivery.fatal or delivery.retry_reason,
                )
