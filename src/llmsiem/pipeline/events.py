"""From records to events: format, normalize, scrub, validate; everything else dead-lettered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
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

GROUP = 256
"""Records per group: one batch of prompt texts for the scorer, whose cost at prompt sizes
is mostly numpy's overhead per call."""
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
class _Refusal:
    """A record the pipeline refuses, held until its turn in the dead letter."""

    source: str
    line: int
    reason: str
    raw: Any


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
        """Events of ``records``; without a ``source`` each record's format is sniffed.

        Records are taken ``GROUP`` at a time, so that their prompt texts are scored as one
        batch; events and dead letters still come out in record order. Every caller hands
        over records already read (a list, or a regular file's), so a group waits for none.
        """
        remaining = iter(records)
        while group := list(islice(remaining, GROUP)):
            yield from self._group_events(group, source)

    def _group_events(self, records: list[RawRecord], source: Source | None) -> Iterator[Event]:
        outcomes: list[tuple[str, RawRecord] | _Refusal] = []
        for record in records:
            if record.data is None:
                outcomes.append(("read", record))  # checking it dead-letters the read error
                continue
            form = source or self.fixed or sniff(record.data)
            try:
                for item in form.normalize(record.data):
                    if isinstance(item, Exception):
                        reason = f"{form.name}: {item}"
                        outcomes.append(_Refusal(record.source, record.line, reason, record.data))
                    else:
                        scrubbed = self._scrubbed(RawRecord(record.source, record.line, item))
                        outcomes.append(
                            scrubbed if isinstance(scrubbed, _Refusal) else (form.name, scrubbed)
                        )
            except Exception as exc:  # a shape no source expects costs this record only
                reason = f"{form.name}: cannot read this record ({type(exc).__name__}: {exc})"
                outcomes.append(_Refusal(record.source, record.line, reason[:500], record.data))
        enrich([o[1].data for o in outcomes if isinstance(o, tuple) and o[1].data is not None])
        for outcome in outcomes:
            if isinstance(outcome, _Refusal):
                self.reject(outcome.source, outcome.line, outcome.reason, outcome.raw)
            elif (event := self._checked(*outcome)) is not None:
                yield event

    def normalized_events(self, records: Iterable[RawRecord]) -> Iterator[Event]:
        """Events of records already in the normalized schema (scrubbed and validated)."""
        return self.events(records, SOURCES.get(NORMALIZED))

    def _scrubbed(self, record: RawRecord) -> RawRecord | _Refusal:
        """One normalized document scrubbed, or refused when it breaks a bound (a source
        may build what a reader refuses)."""
        assert record.data is not None
        problem = document_out_of_bounds(record.data)
        if problem is not None:
            return _Refusal(record.source, record.line, f"{record.where}: {problem}", record.data)
        self.scrubber.scrub_document(record.data)
        return record

    def _checked(self, form: str, record: RawRecord) -> Event | None:
        """The event of a scrubbed and scored document (normalized by ``form``), or None
        when the schema refuses it."""
        try:
            document, problems = checked_document(record)
        except Exception as exc:  # a shape the schema's checks do not expect
            reason = f"{form}: cannot read this record ({type(exc).__name__}: {exc})"
            self.reject(record.source, record.line, reason[:500], record.data)
            return None
        if document is None:
            reasons = "; ".join(str(p) for p in problems)
            self.reject(record.source, record.line, reasons, record.data or record.raw)
            return None
        return Event(record.source, record.line, document)

    def file_events(self, path: Path) -> Iterator[Event]:
        """Events of one JSON or JSONL file."""
        yield from self.events(read_records(path), self.file_source(path))
