"""Source formats: detection from file content, and normalized, scrubbed records per format."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from llmsiem.connectors.langfuse import export_to_events
from llmsiem.connectors.litellm import PayloadError, payload_to_events
from llmsiem.connectors.otlp import request_to_events
from llmsiem.deadletter import DeadLetter
from llmsiem.records import RawRecord, read_records
from llmsiem.scrub import Scrubber

Normalizer = Callable[[dict[str, Any]], Iterable[dict[str, Any] | Exception]]


def _litellm(item: dict[str, Any]) -> Iterator[dict[str, Any] | Exception]:
    payload = item.get("standard_logging_object", item)
    try:
        yield from payload_to_events(payload)
    except PayloadError as exc:
        yield exc


def _jsonl(item: dict[str, Any]) -> Iterator[dict[str, Any] | Exception]:
    yield item


NORMALIZERS: dict[str, Normalizer] = {
    "jsonl": _jsonl,
    "otlp": request_to_events,
    "litellm": _litellm,
    "langfuse": export_to_events,
}


def sniff(item: dict[str, Any]) -> str:
    """The source format one record looks like."""
    if "resourceSpans" in item:
        return "otlp"
    if "call_type" in item or "standard_logging_object" in item:
        return "litellm"
    if "observations" in item or ("type" in item and "traceId" in item) or "data" in item:
        return "langfuse"
    return "jsonl"


def detect_format(path: Path) -> str:
    """Format of a file, judged from its first readable record (normalized JSONL if none)."""
    for record in read_records(path):
        if record.data is not None:
            return sniff(record.data)
    return "jsonl"


def normalized_records(
    path: Path,
    fmt: str,
    dead_letter: DeadLetter,
    scrubber: Scrubber | None = None,
) -> Iterator[RawRecord]:
    """Normalized, scrubbed event documents of one file, each with its source line.

    A record or span that cannot be normalized goes to the dead-letter file with its reason;
    schema validation of the results happens where they are stored.
    """
    scrubber = scrubber or Scrubber()
    fmt = detect_format(path) if fmt == "auto" else fmt
    for record in read_records(path):
        yield from normalize_record(record, fmt, dead_letter, scrubber)


def normalize_record(
    record: RawRecord,
    fmt: str,
    dead_letter: DeadLetter,
    scrubber: Scrubber,
    scrub_normalized: bool = True,
) -> Iterator[RawRecord]:
    """The normalized, scrubbed events of one raw record (``auto`` sniffs its format).

    Records already in the normalized schema are the output of ``llmsiem ingest`` and so
    already scrubbed; ``scrub_normalized=False`` passes them through untouched.
    """
    if record.data is None:
        yield record
        return
    fmt = sniff(record.data) if fmt == "auto" else fmt
    if fmt == "jsonl" and not scrub_normalized:
        yield record
        return
    for item in NORMALIZERS[fmt](record.data):
        if isinstance(item, Exception):
            dead_letter.write(record.source, record.line, f"{fmt}: {item}", record.data)
            continue
        yield RawRecord(record.source, record.line, scrubber.scrub_document(item))


def dump_events(records: Iterable[RawRecord]) -> Iterator[str]:
    """JSON lines of the normalized documents (for ``llmsiem ingest``)."""
    for record in records:
        if record.data is not None:
            yield json.dumps(record.data, ensure_ascii=False)
