"""Normalized ``LLMEvent`` JSON Lines: records are already event documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class NormalizedSource:
    name = "jsonl"
    description = "normalized LLMEvent JSON/JSONL (the output of llmsiem ingest)"

    def sniff(self, record: dict[str, Any]) -> bool:
        """Anything may be a normalized event: this is the format tried last."""
        return True

    def normalize(self, record: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield record


SOURCE = NormalizedSource()
