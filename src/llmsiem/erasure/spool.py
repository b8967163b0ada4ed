"""Delivery spools (``ship``): segment files rewritten without the person's events, the
read cursor moved back by the lines removed before it, all under the spool's lock."""

from __future__ import annotations

from pathlib import Path

from llmsiem.connectors.spool import Cursor, Spool, SpoolBusyError
from llmsiem.erasure.jsonl import JsonlStore
from llmsiem.erasure.store import StoreError
from llmsiem.erasure.subject import Subject


def spool_folders(directory: Path) -> list[Path]:
    """The spool at ``directory``, or the per-sink spools below it (a routed ``ship``)."""
    if any(directory.glob("segment-*.jsonl")):
        return [directory]
    return sorted(p.parent for p in directory.glob("*/segment-*.jsonl"))


class SpoolStore:
    """One spool folder. Delivered events still on disk are erased too, not only pending ones.

    The cursor counts lines: lines erased before it in its segment move it back, and the
    new cursor is committed before the segment is replaced, so a crash in between re-sends
    a few delivered events (at least once) and never skips an undelivered one.
    """

    kind = "spool"
    retained: str | None = None

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.location = str(directory)

    def _segments(self) -> list[JsonlStore]:
        return [JsonlStore(p) for p in sorted(self.directory.glob("segment-*.jsonl"))]

    def _locked(self) -> Spool:
        spool = Spool(self.directory)
        try:
            spool.lock()
        except SpoolBusyError as exc:
            raise StoreError(f"{exc}; run forget when ship is not running") from exc
        return spool

    def scan(self, subject: Subject) -> int:
        return sum(segment.scan(subject) for segment in self._segments())

    def erase(self, subject: Subject) -> int:
        spool = self._locked()
        erased = 0
        try:
            cursor = spool.cursor()
            for segment in self._segments():
                number = int(segment.path.stem.split("-")[1])
                if number == cursor.segment and cursor.offset:
                    before = _owned_before(segment, subject, cursor.offset)
                    if before:
                        cursor = Cursor(cursor.segment, cursor.offset - before)
                        spool.commit(cursor)
                erased += segment.erase(subject)
        finally:
            spool.unlock()
        return erased


def _owned_before(segment: JsonlStore, subject: Subject, offset: int) -> int:
    """How many of the first ``offset`` lines of a segment are the person's."""
    with segment.path.open("rb") as stream:
        return sum(
            1 for index, line in enumerate(stream) if index < offset and segment.owns(subject, line)
        )
