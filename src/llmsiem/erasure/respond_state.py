"""The response runner's state (``respond.db``) and audit log: counted, never erased.

They record what was done to an account (blocked, key revoked, who approved it): a record
of security measures kept under GDPR Art. 17(3)(b) and (e), and erasing from the keyed
audit chain would break it. ``forget`` reports how many records name the person.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from llmsiem.erasure.store import StoreError
from llmsiem.erasure.subject import Subject

RETAINED = (
    "record of response actions (GDPR Art. 17(3)(b),(e)); the keyed audit chain is append-only"
)


class RespondStateStore:
    """``respond.db`` approvals naming the person, plus audit records that name them."""

    kind = "respond-state"
    retained: str | None = RETAINED

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.location = str(state_dir)

    def scan(self, subject: Subject) -> int:
        found = 0
        database = self.state_dir / "respond.db"
        if database.exists():
            try:
                with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
                    (approvals,) = db.execute(
                        "SELECT count(*) FROM approvals WHERE principal = ? "
                        "OR json_extract(alert, '$.user.id') = ? "
                        "OR json_extract(alert, '$.llmsiem.end_user.id') = ?",
                        (subject.user_id,) * 3,
                    ).fetchone()
            except sqlite3.Error as exc:
                raise StoreError(f"{database}: {exc}") from exc
            found += int(approvals)
        audit = self.state_dir / "audit.jsonl"
        if audit.exists():
            with audit.open(encoding="utf-8", errors="replace") as stream:
                found += sum(1 for line in stream if subject.mentioned_in(line))
        return found

    def erase(self, subject: Subject) -> int:
        return 0
