"""Summary statistics of a batch of normalized events, for the demo and reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llmsiem.event import LLMEvent


@dataclass
class TelemetrySummary:
    """Counts and totals over a batch of events."""

    events: int = 0
    by_action: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    users: set[str] = field(default_factory=set)
    api_keys: set[str] = field(default_factory=set)
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, event: LLMEvent) -> None:
        self.events += 1
        self.by_action[event.event.action.value] += 1
        self.first = min(self.first or event.timestamp, event.timestamp)
        self.last = max(self.last or event.timestamp, event.timestamp)
        if event.user and event.user.id:
            self.users.add(event.user.id)
        ext = event.llmsiem
        if ext.api_key and ext.api_key.id:
            self.api_keys.add(ext.api_key.id)
        gen_ai = event.gen_ai
        if gen_ai and gen_ai.request and gen_ai.request.model:
            self.models[gen_ai.request.model] += 1
        if gen_ai and gen_ai.usage:
            self.input_tokens += gen_ai.usage.input_tokens or 0
            self.output_tokens += gen_ai.usage.output_tokens or 0
        if ext.usage and ext.usage.cost:
            self.cost += ext.usage.cost

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "by_action": dict(sorted(self.by_action.items())),
            "models": dict(self.models.most_common()),
            "users": len(self.users),
            "api_keys": len(self.api_keys),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost, 6),
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
        }


def summarise(events: Iterable[LLMEvent]) -> TelemetrySummary:
    """Summary of an iterable of events."""
    summary = TelemetrySummary()
    for event in events:
        summary.add(event)
    return summary
