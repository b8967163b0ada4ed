"""From records to events: format, normalize, scrub, validate; everything else dead-lettered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from llmsiem.deadletter import DeadLetter
from llmsiem.pipeline.sources import AUTO, NORMALIZED, SOURCES, Source, sniff
from llmsiem.plugins import PluginError
from llmsiem.records import DIGITS_AS_ZERO, MAX_DEPTH, RawRecord, out_of_bounds, read_records
from llmsiem.scoring import enrich
from llmsiem.scrub import Scrubber
from llmsiem.validation import checked_document

# Digits folded to 0: the shortest integer that may not fit int64 (int64 has 19 digits).
INT64_DIGIT_RUN = b"0" * 19


def document_out_of_bounds(document: dict[str, Any]) -> str | None:
    """``out_of_bounds`` of a built document, answered from its compact JSON when that is safe.

    The JSON shows no risk when it has at most ``MAX_DEPTH`` brackets (so no deeper nesting),
    no run of 19 digits (so every integer fits int64) and no ``null`` (orjson writes NaN and
    infinities as null). Anything else, or what orjson refuses, gets the full walk.
    """
    try:
        text = orjson.dumps(document)
    except TypeError:  # orjson.JSONEncodeError: beyond 64 bits, too deep, not JSON-like
        return out_of_bounds(document)
    if (
        text.count(b"{") + text.count(b"[") <= MAX_DEPTH
        and b"null" not in text
        and INT64_DIGIT_RUN not in text.translate(DIGITS_AS_ZERO)
    ):
        return None
    return out_of_bounds(document)


@dataclass(frozen=True)
class Event:
    """A valid, scrubbed event document and the record it came from."""

    source: str
    line: int
    document: dict[str, Any]


class Pipeline:
    """Reads records of one source format (or sniffs it) and yields the events they hold.

    ``scrubber`` is required on purpose: a pipeline never runs without one, and the only
    way to leave text as it came is a scrubber in ``keep`` mode.
    """

    def __init__(self, scrubber: Scrubber, dead_letter: DeadLetter, source_format: str = AUTO):
        self.scrubber = scrubber
        self.dead_letter = dead_letter
        try:
            self.fixed = None if source_format == AUTO else SOURCES.get(source_format)
        except PluginError as exc:
            raise ValueError(str(exc)) from exc
        self.rejected = 0

    def reject(self, source: str, line: int, reason: str, raw: Any) -> None:
        """Send one record that cannot become an event to the dead letter."""
        self.rejected += 1
        self.dead_letter.write(source, line, reason, raw)

    def file_source(self, path: Path) -> Source:
        """The given format, or the one the file's first readable record looks like."""
        if self.fixed is not None:
            return self.fixed
        for record in read_records(path):
            if record.data is not None:
                return sniff(record.data)
        return SOURCES.get(NORMALIZED)

    def events(self, records: Iterable[RawRecord], source: Source | None = None) -> Iterator[Event]:
        """Events of ``records``; without a ``source`` each record's format is sniffed."""
        for record in records:
            if record.data is None:
                self.validate(record)  # dead-letters it with the read error
                continue
            form = source or self.fixed or sniff(record.data)
            try:
                for item in form.normalize(record.data):
                    if isinstance(item, Exception):
                        self.reject(record.source, record.line, f"{form.name}: {item}", record.data)
                        continue
                    event = self.validate(RawRecord(record.source, record.line, item))
                    if event is not None:
                        yield event
            except Exception as exc:  # a shape no source expects costs this record only
                reason = f"{form.name}: cannot read this record ({type(exc).__name__}: {exc})"
                self.reject(record.source, record.line, reason[:500], record.data)

    def normalized_events(self, records: Iterable[RawRecord]) -> Iterator[Event]:
        """Events of records already in the normalized schema (scrubbed and validated)."""
        return self.events(records, SOURCES.get(NORMALIZED))

    def validate(self, record: RawRecord) -> Event | None:
        """Scrub one normalized document, score its prompt text, check it against the schema."""
        if record.data is not None:
            problem = document_out_of_bounds(
                record.data
            )  # a source may build what a reader refuses
            if problem is not None:
                self.reject(record.source, record.line, f"{record.where}: {problem}", record.data)
                return None
            self.scrubber.scrub_document(record.data)
            enrich(record.data)
        document, problems = checked_document(record)
        if document is None:
            reasons = "; ".join(str(p) for p in problems)
            self.reject(record.source, record.line, reasons, record.data or record.raw)
            return None
        return Event(record.source, record.line, document)

    def file_events(self, path: Path) -> Iterator[Event]:
        """Events of one JSON or JSONL file."""
        yield from self.events(read_records(path), self.file_source(path))
