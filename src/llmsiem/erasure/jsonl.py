"""JSON Lines stores: event files (``ship --to jsonl``, ``ingest --out``), alert files
(``detect --alerts``) and dead-letter files, rewritten without the person's lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from llmsiem.erasure.store import StoreError, replacing
from llmsiem.erasure.subject import Subject


class JsonlStore:
    """One JSONL file of events or alerts; every other line is kept byte for byte."""

    kind = "jsonl"
    retained: str | None = None

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)

    def owns(self, subject: Subject, line: bytes) -> bool:
        marker = subject.marker()
        if marker is not None and marker not in line and b'"event_ids"' not in line:
            return False  # neither names the person nor cites events: not parsed
        try:
            record = json.loads(line)
        except ValueError:  # a torn or foreign line: theirs if it holds the id as a string
            return subject.mentioned_in(line.decode("utf-8", "replace"))
        if not isinstance(record, dict):
            return False
        if subject.owns_event(record):
            subject.learn(record)
            return True
        return subject.owns(record)

    def _lines(self) -> Iterator[bytes]:
        try:
            with self.path.open("rb") as stream:
                yield from stream
        except OSError as exc:
            raise StoreError(f"{self.path}: {exc.strerror or exc}") from exc

    def scan(self, subject: Subject) -> int:
        return sum(1 for line in self._lines() if self.owns(subject, line))

    def erase(self, subject: Subject) -> int:
        erased = 0
        with replacing(self.path) as partial, partial.open("wb") as out:
            for line in self._lines():
                if self.owns(subject, line):
                    erased += 1
                else:
                    out.write(line)
        return erased


class DeadLetterStore(JsonlStore):
    """A dead-letter file: a rejected record is the person's when its raw text holds their id
    as a whole JSON string (it was never normalized, so no field can be trusted)."""

    kind = "dead-letter"

    def owns(self, subject: Subject, line: bytes) -> bool:
        try:
            raw = json.loads(line).get("raw")
        except (ValueError, AttributeError):
            return False
        return isinstance(raw, str) and subject.mentioned_in(raw)
