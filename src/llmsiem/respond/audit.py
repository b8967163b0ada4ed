"""Append-only, hash-chained audit log (JSONL).

Every record carries the SHA-256 of the previous record's canonical JSON; changing,
removing or reordering any line breaks the chain, which ``verify`` reports by line.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(record)).hexdigest()


@dataclass(frozen=True)
class AuditProblem:
    line: int
    message: str


class AuditLog:
    """Appends records and verifies the chain."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()]

    def _last_hash(self) -> str:
        """Hash of the last record, read from the end of the file (appends stay O(1))."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return GENESIS
        with self.path.open("rb") as stream:
            stream.seek(0, os.SEEK_END)
            position = stream.tell()
            chunk = b""
            while position > 0 and chunk.count(b"\n") < 2:
                step = min(65536, position)
                position -= step
                stream.seek(position)
                chunk = stream.read(step) + chunk
        last = chunk.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        return record_hash(json.loads(last))

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Add one record (kind: alert, decision, request, response, undo ...)."""
        record = {
            "@timestamp": datetime.now(UTC).isoformat(timespec="microseconds"),
            "kind": kind,
            **fields,
            "prev_hash": self._last_hash(),
        }
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(_canonical(record).decode() + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        return record

    def verify(self) -> list[AuditProblem]:
        """Every break in the chain, by line; empty when the log is intact."""
        problems = []
        expected = GENESIS
        for number, line in enumerate(
            self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else [],
            start=1,
        ):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                problems.append(AuditProblem(number, "not valid JSON"))
                expected = hashlib.sha256(line.encode()).hexdigest()
                continue
            if record.get("prev_hash") != expected:
                problems.append(
                    AuditProblem(number, "hash chain broken (edited, removed or reordered)")
                )
            expected = record_hash(record)
        return problems

    def for_run(self, run_id: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("run_id") == run_id]
