"""Loading input files of any supported source format into the engine's event store.

Normalized JSON/JSONL goes straight to DuckDB (fast path). Other formats (OTLP, LiteLLM,
Langfuse) go through their connector's normalizer and the scrubber first, record by record,
so that bad records are dead-lettered with their location and the rest continue.
"""

from __future__ import annotations

from pathlib import Path

from llmsiem.connectors.registry import detect_format, normalized_records
from llmsiem.deadletter import DeadLetter
from llmsiem.engine.store import EventStore, LoadReport

SOURCE_FORMATS = ("auto", "jsonl", "otlp", "litellm", "langfuse")


class InputLoader:
    """Loads files into an ``EventStore``, choosing the path by source format."""

    def __init__(self, store: EventStore, dead_letter: DeadLetter, source_format: str = "auto"):
        if source_format not in SOURCE_FORMATS:
            raise ValueError(f"unknown source format {source_format!r}; one of {SOURCE_FORMATS}")
        self.store = store
        self.dead_letter = dead_letter
        self.source_format = source_format

    def load(self, path: Path) -> LoadReport:
        """Load one file; returns how many events were loaded and rejected."""
        fmt = detect_format(path) if self.source_format == "auto" else self.source_format
        if fmt == "jsonl":
            return self.store.load_file(path, self.dead_letter)
        return self.store.load_records(
            normalized_records(path, fmt, self.dead_letter), self.dead_letter
        )
