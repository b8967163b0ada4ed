"""The runner's durable state in SQLite: dedup, rate counters, executions, approvals, replays.

One connection per process, guarded by a lock so webhook worker threads can share it;
several processes may share one state folder (SQLite's own locking, ``BEGIN IMMEDIATE``
for read-then-write sequences).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS dedup (fingerprint TEXT PRIMARY KEY, seen REAL);
CREATE TABLE IF NOT EXISTS action_log (ts REAL, action TEXT);
CREATE INDEX IF NOT EXISTS action_log_ts ON action_log (ts);
CREATE TABLE IF NOT EXISTS executed (idempotency_key TEXT PRIMARY KEY, run_id TEXT,
    action_ref TEXT, implementation TEXT, undo TEXT, undone INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS approvals (id TEXT PRIMARY KEY, run_id TEXT, action_ref TEXT,
    implementation TEXT, alert TEXT, inputs TEXT, principal TEXT, after TEXT,
    created REAL, expires REAL, status TEXT);
CREATE TABLE IF NOT EXISTS handled_alerts (alert_key TEXT PRIMARY KEY, run_id TEXT, ts REAL);
CREATE TABLE IF NOT EXISTS seen_signatures (signature TEXT PRIMARY KEY, expires REAL);
"""


class StateError(RuntimeError):
    """A state database this version cannot use; the message says what to do."""


@dataclass(frozen=True)
class Execution:
    """An executed action as stored for undo."""

    idempotency_key: str
    action_ref: str
    implementation: str
    undo_handle: dict[str, Any]


@dataclass(frozen=True)
class Approval:
    """An approval request: the action, its inputs and the plan a human is asked to accept."""

    id: str
    run_id: str
    action_ref: str
    implementation: str
    alert: dict[str, Any]
    inputs: dict[str, str]
    principal: str
    after: Any
    created: float
    expires: float
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "action": self.action_ref,
            "principal": self.principal,
            "inputs": self.inputs,
            "created": self.created,
            "expires": self.expires,
        }


class StateStore:
    """Typed access to ``respond.db`` in the state folder."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.lock = threading.RLock()
        with self.lock:
            self.db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: commits survive a killed process; only power loss can drop the
            # last ones (dedup and rate counters; the audit log is the record of actions).
            self.db.execute("PRAGMA synchronous=NORMAL")
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(executed)")}
            if "step" in columns:
                raise StateError(
                    f"{path} was written by an older llmsiem (steps addressed by index); "
                    "finish its approvals and undos with that version, then move it away"
                )
            self.db.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locked) transaction, committed on success."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # -- dedup, replays and per-alert idempotency --------------------------------------------

    def first_seen(self, fingerprint: str, window_seconds: float) -> bool:
        """Record the fingerprint; False when it was already seen inside the window."""
        now = time.time()
        with self.transaction() as db:
            row = db.execute("SELECT seen FROM dedup WHERE fingerprint = ?", (fingerprint,))
            seen = row.fetchone()
            if seen and now - seen[0] < window_seconds:
                return False
            db.execute("INSERT OR REPLACE INTO dedup VALUES (?, ?)", (fingerprint, now))
            return True

    def claim_alert(self, alert_key: str, run_id: str) -> str | None:
        """Mark an alert as handled by this run; the earlier run's id when it already was."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT run_id FROM handled_alerts WHERE alert_key = ?", (alert_key,)
            ).fetchone()
            if row:
                return str(row[0])
            db.execute(
                "INSERT INTO handled_alerts VALUES (?, ?, ?)", (alert_key, run_id, time.time())
            )
            return None

    def claim_signature(self, signature: str, expires: float) -> bool:
        """Remember a request signature until it expires; False when it was used before."""
        with self.transaction() as db:
            db.execute("DELETE FROM seen_signatures WHERE expires < ?", (time.time(),))
            inserted = db.execute(
                "INSERT OR IGNORE INTO seen_signatures VALUES (?, ?)", (signature, expires)
            )
            return inserted.rowcount == 1

    def signature_seen(self, signature: str) -> bool:
        with self.lock:
            row = self.db.execute(
                "SELECT 1 FROM seen_signatures WHERE signature = ? AND expires >= ?",
                (signature, time.time()),
            ).fetchone()
        return row is not None

    # -- rate limits --------------------------------------------------------------------------

    def action_counts(self, action: str, since: float) -> tuple[int, int]:
        """(this action, all actions) started since the given time."""
        (per_action,) = self.db.execute(
            "SELECT count(*) FROM action_log WHERE action = ? AND ts > ?", (action, since)
        ).fetchone()
        (overall,) = self.db.execute(
            "SELECT count(*) FROM action_log WHERE ts > ?", (since,)
        ).fetchone()
        return int(per_action), int(overall)

    def record_action(self, action: str) -> None:
        self.db.execute("INSERT INTO action_log VALUES (?, ?)", (time.time(), action))

    # -- executions ---------------------------------------------------------------------------

    def executed_run(self, idempotency_key: str) -> str | None:
        """The run that executed this key (and was not undone), if any."""
        with self.lock:
            row = self.db.execute(
                "SELECT run_id FROM executed WHERE idempotency_key = ? AND undone = 0",
                (idempotency_key,),
            ).fetchone()
        return None if row is None else str(row[0])

    def record_execution(self, run_id: str, execution: Execution) -> None:
        with self.lock:
            self.db.execute(
                "INSERT OR REPLACE INTO executed VALUES (?, ?, ?, ?, ?, 0)",
                (
                    execution.idempotency_key,
                    run_id,
                    execution.action_ref,
                    execution.implementation,
                    json.dumps(execution.undo_handle),
                ),
            )

    def executions(self, run_id: str) -> list[Execution]:
        """Executed, not yet undone actions of a run, newest first."""
        with self.lock:
            rows = self.db.execute(
                "SELECT idempotency_key, action_ref, implementation, undo FROM executed "
                "WHERE run_id = ? AND undone = 0 ORDER BY rowid DESC",
                (run_id,),
            ).fetchall()
        return [Execution(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def mark_undone(self, idempotency_key: str) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE executed SET undone = 1 WHERE idempotency_key = ?", (idempotency_key,)
            )

    # -- approvals ----------------------------------------------------------------------------

    def add_approval(self, approval: Approval) -> None:
        with self.lock:
            self.db.execute(
                "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    approval.id,
                    approval.run_id,
                    approval.action_ref,
                    approval.implementation,
                    json.dumps(approval.alert),
                    json.dumps(approval.inputs),
                    approval.principal,
                    json.dumps(approval.after),
                    approval.created,
                    approval.expires,
                    approval.status,
                ),
            )

    def expire_approvals(self) -> list[Approval]:
        """Deny pending approvals past their deadline; returns them."""
        with self.transaction() as db:
            expired = self._approvals(db, "status = 'pending' AND expires < ?", (time.time(),))
            db.executemany(
                "UPDATE approvals SET status = 'denied' WHERE id = ?", [(a.id,) for a in expired]
            )
        return expired

    def pending_approvals(self) -> list[Approval]:
        with self.lock:
            return self._approvals(self.db, "status = 'pending' ORDER BY created", ())

    def decide_approval(self, approval_id: str, status: str) -> Approval | None:
        """Move a pending approval to ``status``; None when it is not pending."""
        with self.transaction() as db:
            found = self._approvals(db, "id = ? AND status = 'pending'", (approval_id,))
            if not found:
                return None
            db.execute("UPDATE approvals SET status = ? WHERE id = ?", (status, approval_id))
        return found[0]

    @staticmethod
    def _approvals(db: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[Approval]:
        rows = db.execute(
            "SELECT id, run_id, action_ref, implementation, alert, inputs, principal, after, "
            f"created, expires, status FROM approvals WHERE {where}",
            params,
        ).fetchall()
        return [
            Approval(
                r[0],
                r[1],
                r[2],
                r[3],
                json.loads(r[4]),
                json.loads(r[5]),
                r[6],
                json.loads(r[7]),
                r[8],
                r[9],
                r[10],
            )
            for r in rows
        ]
