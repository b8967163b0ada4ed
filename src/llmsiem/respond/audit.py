"""Append-only audit log (JSONL) with a keyed hash chain and a signed head.

Each record carries ``seq``, ``prev_hash`` (the previous record's ``hash``) and its own
``hash`` = HMAC-SHA256(``LLMSIEM_AUDIT_KEY``, canonical JSON of the record without
``hash``). The head file (``audit.head``) holds the record count, the last hash and the
log's size under the same key. Without the key nobody can append, edit and re-hash, or
move the head, so ``verify`` detects edits, deletions, truncation and forged appends
anywhere, the last record included.

Appends hold an exclusive lock (``audit.lock``, ``flock``), so processes sharing a state
folder interleave whole records. A torn last line (a crash mid-write) is moved to
``audit.torn`` by the next append and recorded; it is reported, never fatal.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUDIT_KEY_ENV = "LLMSIEM_AUDIT_KEY"
MIN_KEY_LENGTH = 16
GENESIS = "0" * 64
REPAIR = "audit_repair"
SYNCED_KINDS = frozenset({"request", "response", "undo", REPAIR})
"""Records forced to disk before the runner goes on (what was done to a target, and
repairs); the others reach the disk with the next synced record or the OS's writeback."""
HEAD_BYTES = 512
HEAD_REBUILT = "head missing or not signed with this key; rebuilt from the log"

log = logging.getLogger("llmsiem.respond.audit")


class AuditKeyError(ValueError):
    """The audit key is missing or too short for what was asked."""


def audit_key_from_env() -> bytes | None:
    """``LLMSIEM_AUDIT_KEY`` as bytes, None when unset."""
    value = os.environ.get(AUDIT_KEY_ENV, "")
    if not value:
        return None
    if len(value) < MIN_KEY_LENGTH:
        raise AuditKeyError(f"{AUDIT_KEY_ENV} must be at least {MIN_KEY_LENGTH} characters")
    return value.encode()


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Head:
    """Where the chain ends: record count, last hash and the log's size in bytes."""

    count: int
    hash: str
    size: int


@dataclass(frozen=True)
class AuditProblem:
    line: int
    message: str


@dataclass
class AuditReport:
    """What ``verify`` found: problems (tampering) and warnings (torn writes, quarantine)."""

    records: int = 0
    problems: list[AuditProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class AuditLog:
    """Appends keyed records under a lock and verifies chain and head."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self.key = key
        self.head_path = path.with_suffix(".head")
        self.lock_path = path.with_suffix(".lock")
        self.torn_path = path.with_suffix(".torn")
        self._thread_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    # -- keyed hashes -------------------------------------------------------------------------

    def _mac(self, data: bytes) -> str:
        return hmac.new(self.key, data, hashlib.sha256).hexdigest()

    def record_hash(self, record: dict[str, Any]) -> str:
        return self._mac(_canonical({k: v for k, v in record.items() if k != "hash"}))

    def _head_mac(self, head: Head) -> str:
        return self._mac(f"head|{head.count}|{head.hash}|{head.size}".encode())

    def read_head(self) -> Head | None:
        """The head when present and signed with this key, else None."""
        try:
            data = json.loads(self.head_path.read_text(encoding="utf-8"))
            head = Head(int(data["count"]), str(data["hash"]), int(data["size"]))
            if hmac.compare_digest(self._head_mac(head), str(data["mac"])):
                return head
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def _write_head(self, head: Head, sync: bool) -> None:
        """Overwrite the head in place: one write of a fixed size, which a killed process
        cannot tear (the page cache takes it whole)."""
        payload = json.dumps({**head.__dict__, "mac": self._head_mac(head)}).encode()
        descriptor = os.open(self.head_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(descriptor, payload.ljust(HEAD_BYTES), 0)
            if sync:
                os.fsync(descriptor)
        finally:
            os.close(descriptor)

    # -- appending ----------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock, self.lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Add one record (kind: alert, decision, request, response, undo ...)."""
        with self._locked():
            head = self._current_head()
            return self._append(head, kind, fields)

    def _append(self, head: Head, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        record = {
            "@timestamp": datetime.now(UTC).isoformat(timespec="microseconds"),
            "kind": kind,
            **fields,
            "seq": head.count + 1,
            "prev_hash": head.hash,
        }
        record["hash"] = self.record_hash(record)
        line = _canonical(record) + b"\n"
        sync = kind in SYNCED_KINDS
        with self.path.open("ab") as stream:
            stream.write(line)
            stream.flush()
            if sync:
                os.fsync(stream.fileno())
            size = stream.tell()
        self._write_head(Head(head.count + 1, record["hash"], size), sync)
        return record

    def _current_head(self) -> Head:
        """The head to chain on, after rolling forward over records a crash left unheaded.

        Called under the lock. A torn tail is quarantined; a missing or unsigned head is
        rebuilt from the log and the rebuild is itself recorded (``verify`` reports it).
        """
        size = self.path.stat().st_size if self.path.exists() else 0
        head = self.read_head()
        if head is None:
            if size == 0:
                return Head(0, GENESIS, 0)
            rebuilt = self._rebuild_head()
            log.warning("%s: %s", self.path, HEAD_REBUILT)
            self._append(rebuilt, REPAIR, {"reason": HEAD_REBUILT})
            head = self.read_head()
            assert head is not None
            return head
        if size <= head.size:
            return head  # unchanged, or truncated: chaining on the head keeps that visible
        with self.path.open("rb") as stream:
            stream.seek(head.size)
            tail = stream.read()
        complete, _, torn = tail.rpartition(b"\n")
        if torn:
            self._quarantine(head.size + len(complete) + (1 if complete else 0), torn)
        for line in complete.split(b"\n") if complete else []:
            record = _parse(line)
            if (
                record is None
                or record.get("prev_hash") != head.hash
                or record.get("seq") != head.count + 1
                or record.get("hash") != self.record_hash(record)
            ):
                break  # foreign bytes: left in place for verify to report
            head = Head(head.count + 1, record["hash"], head.size + len(line) + 1)
        return Head(head.count, head.hash, self.path.stat().st_size)

    def _quarantine(self, offset: int, torn: bytes) -> None:
        with self.torn_path.open("ab") as stream:
            stream.write(torn + b"\n")
        os.truncate(self.path, offset)
        log.warning(
            "%s: torn last line (%d bytes) moved to %s", self.path, len(torn), self.torn_path
        )

    def _rebuild_head(self) -> Head:
        data = self.path.read_bytes()
        complete, _, torn = data.rpartition(b"\n")
        if torn:
            self._quarantine(len(complete) + 1 if complete else 0, torn)
        count, last = 0, GENESIS
        for line in complete.split(b"\n") if complete else []:
            record = _parse(line)
            if record is not None:
                count, last = count + 1, str(record.get("hash", GENESIS))
        return Head(count, last, self.path.stat().st_size)

    # -- reading and verifying ----------------------------------------------------------------

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        parsed = (_parse(line) for line in self.path.read_bytes().splitlines())
        return [record for record in parsed if record is not None]

    def for_run(self, run_id: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("run_id") == run_id]

    def verify(self) -> AuditReport:
        """Every break of chain or head; empty problems when the log is intact."""
        report = AuditReport()
        data = self.path.read_bytes() if self.path.exists() else b""
        lines = data.split(b"\n")
        torn = lines.pop()  # b"" when the file ends with a newline
        expected = GENESIS
        for number, line in enumerate(lines, start=1):
            record = _parse(line)
            if record is None:
                report.problems.append(AuditProblem(number, "not a JSON record"))
                expected = ""
                continue
            report.records += 1
            if record.get("hash") != self.record_hash(record):
                report.problems.append(
                    AuditProblem(
                        number, "record hash mismatch (edited, or not written with this key)"
                    )
                )
            elif expected and record.get("prev_hash") != expected:
                report.problems.append(
                    AuditProblem(number, "hash chain broken (edited, removed or reordered)")
                )
            if record.get("kind") == REPAIR and record.get("reason") == HEAD_REBUILT:
                report.problems.append(AuditProblem(number, HEAD_REBUILT))
            expected = str(record.get("hash", ""))
        if torn:
            report.warnings.append(
                f"line {len(lines) + 1}: torn last line ({len(torn)} bytes, a crash "
                "mid-write); the next append quarantines it"
            )
        if self.torn_path.exists():
            report.warnings.append(
                f"{self.torn_path}: {self.torn_path.stat().st_size} bytes of torn lines quarantined"
            )
        self._verify_head(report, expected, len(data) - len(torn))
        return report

    def _verify_head(self, report: AuditReport, last: str, size: int) -> None:
        head = self.read_head()
        if head is None:
            if report.records:
                report.problems.append(
                    AuditProblem(
                        report.records, f"{self.head_path}: missing or not signed with this key"
                    )
                )
            return
        if head.count != report.records:
            report.problems.append(
                AuditProblem(
                    report.records,
                    f"the head records {head.count} entries but the log holds {report.records} "
                    "(truncated, deleted or appended without the key)",
                )
            )
        elif head.hash != last or head.size != size:
            report.problems.append(
                AuditProblem(report.records, "the last record differs from the head (edited)")
            )


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
