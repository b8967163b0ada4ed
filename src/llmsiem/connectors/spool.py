"""A disk spool between the pipeline and a sink: at-least-once delivery across crashes.

Producers append events to segment files: each batch of events is one ``write`` of whole
lines on an append-only descriptor, then its fsync, then ``progress.json``, which records
per input file how far its events were spooled, so a re-run after a killed append resumes
there (a batch not yet written is spooled then, once). A write that fails (ENOSPC) is cut
back to the last whole line before ``SpoolWriteError`` is raised, and a torn tail left by a
crash is truncated when the spool is opened (``repaired`` says what was cut). The shipper
reads from a committed cursor, sends one batch, and only then moves the cursor (atomic
rename). A crash or a sink outage between sending and committing re-sends that batch on
restart: nothing is lost and nothing is duplicated beyond the one uncommitted batch (and
sinks that key documents by ``event.id`` drop even those). A lock file (``flock``) keeps a
second shipper off a spool in use. ``deliver`` appends and drains at once, so the sink's
round trips overlap the pipeline's work. An event no sink can write (a lone surrogate,
which versions before the bounds check let into the spool) is dead-lettered by the drain,
which goes on past it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmsiem.connectors.sink import Delivery, Sink, json_bytes, json_document
from llmsiem.records import out_of_bounds

SEGMENT_EVENTS = 10_000
FSYNC_EVENTS = 500
SURROGATE_ESCAPES = (b"\\ud", b"\\uD")
"""How a string holding a surrogate looks in a spooled line: only such lines are checked."""
Reject = Callable[[str, int, str, Any], None]
"""Where the drain sends an event no sink can write: source, line, reason, raw."""


class SpoolBusyError(RuntimeError):
    """Another process holds the spool's lock."""


class SpoolWriteError(OSError):
    """An append failed (a full disk); the spool was cut back to its last whole event."""


@dataclass(frozen=True)
class Spooled:
    """One event to append and the input position it comes from (``line``, n-th event)."""

    document: dict[str, Any]
    source: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Cursor:
    segment: int
    offset: int


@dataclass
class Drained:
    """The sum of the ``Delivery`` reports of one drain, and why it stopped early if it did."""

    total: Delivery = field(default_factory=Delivery)
    stopped: str | None = None

    def add(self, delivery: Delivery) -> None:
        for name in ("sent", "duplicate", "dead_lettered", "retryable", "retries"):
            setattr(self.total, name, getattr(self.total, name) + getattr(delivery, name))


class Spool:
    """Append-only segments plus a committed read cursor, in one directory."""

    def __init__(self, directory: Path, reject: Reject | None = None) -> None:
        self.directory = directory
        self.reject = reject
        directory.mkdir(parents=True, exist_ok=True)
        self.cursor_path = directory / "cursor.json"
        self.progress_path = directory / "progress.json"
        self._lock: int | None = None
        # (segment inode, cursor) -> byte offset of the cursor's line, from the last batch read
        self._resume: dict[tuple[int, Cursor], int] = {}
        self._kept_from: int | None = None  # segments before it were deleted by a commit
        self.repaired = self._repair_tail()
        # Signalled at each fsync of an append that a drain is following (``deliver``).
        self._synced = threading.Condition()
        self._appending = False
        self._halted = False

    def lock(self) -> None:
        """Take the spool for this process; ``SpoolBusyError`` if another shipper has it."""
        handle = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise SpoolBusyError(f"{self.directory} is in use by another shipper") from None
        self._lock = handle

    def unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _segment(self, number: int) -> Path:
        return self.directory / f"segment-{number:08d}.jsonl"

    def _segments(self) -> list[int]:
        return sorted(int(p.stem.split("-")[1]) for p in self.directory.glob("segment-*.jsonl"))

    def _repair_tail(self) -> str | None:
        """Cut a torn last line (a crash mid-write); say how many bytes went, if any."""
        numbers = self._segments()
        if not numbers:
            return None
        path = self._segment(numbers[-1])
        with path.open("rb+") as stream:
            data = stream.read()
            if not data or data.endswith(b"\n"):
                return None
            keep = data.rfind(b"\n") + 1
            stream.truncate(keep)
            os.fsync(stream.fileno())
        return f"{path.name}: cut a torn last record ({len(data) - keep} bytes) left by a crash"

    def _progress(self) -> dict[str, list[int]]:
        if not self.progress_path.exists():
            return {}
        data = json.loads(self.progress_path.read_text() or "{}")
        return {str(k): [int(v[0]), int(v[1])] for k, v in data.items()}

    def _save_progress(self, progress: dict[str, list[int]]) -> None:
        temporary = self.progress_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(progress))
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        temporary.replace(self.progress_path)

    def append(self, documents: Iterable[dict[str, Any] | Spooled]) -> int:
        """Durably append events; returns how many were spooled (resumed ones not counted).

        Events given as ``Spooled`` carry their input position: after a killed append, the
        same inputs resume where the spool's ``progress.json`` says they stopped. The
        progress is dropped once an append completes. Lines are written a batch at a time,
        each batch in one ``write`` followed by its fsync and the progress that covers it.
        """
        progress = self._progress()
        done = {key: list(value) for key, value in progress.items()}
        numbers = self._segments()
        number = numbers[-1] if numbers else 0
        path = self._segment(number)
        count = sum(1 for _ in path.open("rb")) if path.exists() else 0
        written = 0
        batch: list[bytes] = []
        batch_progress = dict(progress)  # ``progress`` once the batch is written
        handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        seen: dict[str, list[int]] = {}
        try:
            for item in documents:
                spooled = item if isinstance(item, Spooled) else Spooled(item)
                key = spooled.source
                if key is not None:
                    line, nth = seen.get(key, [0, 0])
                    position = [spooled.line, nth + 1 if line == spooled.line else 1]
                    seen[key] = position
                    if key in done and position <= done[key]:
                        continue  # spooled by an earlier, interrupted append
                if count >= SEGMENT_EVENTS:
                    self._commit_batch(handle, batch, progress, batch_progress)
                    os.close(handle)
                    number, count = number + 1, 0
                    path = self._segment(number)
                    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                batch.append(json_bytes(spooled.document) + b"\n")
                if key is not None:
                    batch_progress[key] = seen[key]
                count += 1
                written += 1
                if len(batch) >= FSYNC_EVENTS:
                    self._commit_batch(handle, batch, progress, batch_progress)
            self._commit_batch(handle, batch, progress, batch_progress)
        except SpoolWriteError:
            with contextlib.suppress(OSError):  # the disk may be too full for the progress
                self._sync(handle, progress)
            raise
        finally:
            os.close(handle)
        self.progress_path.unlink(missing_ok=True)
        return written

    def _commit_batch(
        self,
        handle: int,
        batch: list[bytes],
        progress: dict[str, list[int]],
        batch_progress: dict[str, list[int]],
    ) -> None:
        """Write the batch's lines at once, then fsync and record ``progress`` as the
        batch's; a failed write leaves both as they were."""
        if batch:
            self._write(handle, b"".join(batch))
            batch.clear()
        progress.update(batch_progress)
        self._sync(handle, progress)

    def _sync(self, handle: int, progress: dict[str, list[int]]) -> None:
        os.fsync(handle)
        if progress:
            self._save_progress(progress)
        with self._synced:
            self._synced.notify_all()

    @staticmethod
    def _write(handle: int, data: bytes) -> None:
        """Whole lines or nothing: a failed or short write is cut back before raising."""
        size = os.fstat(handle).st_size
        try:
            if os.write(handle, data) == len(data):
                return
            reason = "short write"
        except OSError as exc:
            reason = exc.strerror or str(exc)
            errno = exc.errno
        else:
            errno = None
        os.ftruncate(handle, size)
        raise SpoolWriteError(errno, f"cannot append to the spool: {reason}")

    def cursor(self) -> Cursor:
        if not self.cursor_path.exists():
            numbers = self._segments()
            return Cursor(numbers[0] if numbers else 0, 0)
        data = json.loads(self.cursor_path.read_text())
        return Cursor(int(data["segment"]), int(data["offset"]))

    def commit(self, cursor: Cursor) -> None:
        """Atomically record that everything before ``cursor`` was delivered."""
        temporary = self.cursor_path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"segment": cursor.segment, "offset": cursor.offset}))
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        temporary.replace(self.cursor_path)
        if self._kept_from is None or cursor.segment > self._kept_from:
            for number in self._segments():  # a directory listing only once a segment is done
                if number < cursor.segment:
                    self._segment(number).unlink(missing_ok=True)
            self._kept_from = cursor.segment

    def read_batch(self, cursor: Cursor, size: int) -> tuple[list[dict[str, Any]], Cursor]:
        """Up to ``size`` events after ``cursor`` and the cursor just past them."""
        lines, after = self._read_lines(cursor, size)
        return [json_document(line) for line in lines], after

    def _read_lines(self, cursor: Cursor, size: int) -> tuple[list[bytes], Cursor]:
        """``read_batch``'s lines, not yet parsed.

        Where the previous batch ended is remembered as a byte offset, so a drain reads each
        segment once instead of skipping its first lines again for every batch.
        """
        batch: list[bytes] = []
        segment, offset = cursor.segment, cursor.offset
        for number in [n for n in self._segments() if n >= segment]:
            if number != segment:
                segment, offset = number, 0
            with self._segment(number).open("rb") as stream:
                file = os.fstat(stream.fileno()).st_ino
                index = 0
                start = self._resume.get((file, Cursor(segment, offset)))
                if start is not None:
                    stream.seek(start)
                    index = offset
                position = stream.tell()
                for line in stream:
                    position += len(line)
                    index += 1
                    if index <= offset or not line.endswith(b"\n"):
                        continue
                    batch.append(line)
                    offset = index
                    if len(batch) >= size:
                        after = Cursor(segment, offset)
                        self._resume = {(file, after): position}
                        return batch, after
        return batch, Cursor(segment, offset)

    def drain(
        self,
        sink: Sink,
        batch_size: int = 500,
        on_batch: Callable[[Delivery], None] | None = None,
    ) -> Drained:
        """Send everything after the cursor, committing after each completely handled batch.

        A batch whose ``Delivery`` is not complete (events retryable, or a fatal sink error)
        stays in the spool, uncommitted, and the drain stops there; so does a batch the
        sink or the spool's disk fails with an ``OSError`` (its message in ``stopped``).
        """
        drained = Drained()
        try:
            cursor = self.cursor()
            while not self._halted:
                lines, after = self._read_lines(cursor, batch_size)
                if len(lines) < batch_size and self._more_coming():
                    continue  # parsed once whole, not at every look
                if not lines:
                    break
                documents, unwritable = self._writable(lines)
                delivery = sink.send(documents) if documents else Delivery()
                delivery.dead_lettered += unwritable
                drained.add(delivery)
                if on_batch is not None:
                    on_batch(delivery)
                if not delivery.complete:
                    drained.stopped = delivery.fatal or delivery.retry_reason or "not delivered"
                    break
                self.commit(after)
                cursor = after
        except OSError as exc:
            drained.stopped = str(exc)
        return drained

    def _writable(self, lines: list[bytes]) -> tuple[list[dict[str, Any]], int]:
        """The events of ``lines`` a sink can write, and how many were dead-lettered."""
        documents = []
        unwritable = 0
        for line in lines:
            document = json_document(line)
            reason = None
            if any(escape in line for escape in SURROGATE_ESCAPES):
                reason = out_of_bounds(document)
            if reason is None:
                documents.append(document)
                continue
            unwritable += 1
            if self.reject is not None:
                event_id = (document.get("event") or {}).get("id")
                why = f"spooled event {event_id} cannot be written by any sink: {reason}"
                self.reject(str(self.directory), 0, why, line.decode("utf-8", "replace"))
        return documents, unwritable

    def _more_coming(self) -> bool:
        """While an append runs (``deliver``), wait for its next fsync or its end and say
        True; otherwise False at once."""
        with self._synced:
            if not self._appending:
                return False
            self._synced.wait()
            return True

    def deliver(
        self,
        documents: Iterable[dict[str, Any] | Spooled] | None,
        sink: Sink,
        batch_size: int = 500,
    ) -> tuple[int, Drained]:
        """``append`` the documents (None: none, what an interrupted append recorded stays)
        and ``drain`` the spool to ``sink`` at the same time.

        A drain thread opens the sink and sends each whole batch the append has written,
        looking at each fsync of the append, and what is left once the append ends; the
        sink's round trips overlap the pipeline's work. (A batch may go out before its
        fsync: after a power loss a re-run spools those events again from the inputs'
        recorded progress, and the cursor skips them as delivered.) Returns what ``append``
        and ``drain`` return. An append that fails (or is interrupted) stops the drain
        after the batch in flight, then raises; a sink that cannot open stops the drain
        (``stopped``) and the append goes on.
        """
        outcome: dict[str, Any] = {}

        def drain() -> None:
            try:
                sink.open()
                try:
                    outcome["drained"] = self.drain(sink, batch_size)
                finally:
                    sink.close()
            except OSError as exc:
                outcome["drained"] = Drained(stopped=str(exc))
            except BaseException as exc:  # raised in the caller's thread below
                outcome["error"] = exc

        with self._synced:
            self._appending, self._halted = True, False
        drainer = threading.Thread(target=drain, name="llmsiem-drain", daemon=True)
        drainer.start()
        try:
            spooled = 0 if documents is None else self.append(documents)
        except BaseException:
            self._halted = True
            raise
        finally:
            with self._synced:
                self._appending = False
                self._synced.notify_all()
            drainer.join()
            self._halted = False  # a later drain of this spool runs in full
        if "error" in outcome:
            raise outcome["error"]
        return spooled, outcome["drained"]
