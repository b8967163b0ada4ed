"""The response runner: matches alerts to playbooks and enforces every safety rule.

Safety lives here, not in playbooks: dry-run unless told to execute; a kill switch; an
allowlist of protected principals; approval gates (irreversible actions always, high
impact by default) with a timeout that means deny; per-action and global rate limits;
deduplication of repeated alerts; idempotency keys; retries with backoff; and an audit
record for every alert, decision, request, response, verification and undo.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmsiem.respond.action import Action, NotConfiguredError, Plan
from llmsiem.respond.audit import AuditLog
from llmsiem.respond.playbook import Playbook, load_playbooks

RETRIES = 3


@dataclass
class RunnerConfig:
    """Runner settings (``respond.yml``); the defaults are the safe ones."""

    execute: bool = False
    state_dir: Path = Path(".llmsiem")
    protected_principals: list[str] = field(
        default_factory=lambda: ["admin", "admin-*", "svc-*", "service-*", "master", "sk-master*"]
    )
    approve_high_impact: bool = True
    approval_timeout_seconds: int = 3600
    per_action_limit: int = 10
    global_limit: int = 50
    rate_window_seconds: int = 3600
    dedup_seconds: int = 3600
    retry_backoff_seconds: float = 1.0

    @classmethod
    def load(cls, path: Path | None) -> RunnerConfig:
        if path is None:
            return cls()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if "state_dir" in data:
            data["state_dir"] = Path(data["state_dir"])
        return cls(**data)

    @property
    def kill_switch(self) -> Path:
        return self.state_dir / "KILL"


@dataclass
class StepRecord:
    """What happened to one step of one playbook for one alert."""

    run_id: str
    playbook: str
    action: str
    principal: str
    status: str  # planned, executed, skipped, refused, pending_approval, failed, deduplicated
    detail: str = ""
    plan: Plan | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "plan"}
        if self.plan is not None:
            data["diff"] = self.plan.diff()
            data["impact"] = self.plan.impact
        return data


SCHEMA = """
CREATE TABLE IF NOT EXISTS dedup (fingerprint TEXT PRIMARY KEY, seen REAL);
CREATE TABLE IF NOT EXISTS actions (ts REAL, action TEXT);
CREATE TABLE IF NOT EXISTS executed (idempotency_key TEXT PRIMARY KEY, run_id TEXT, playbook TEXT,
    step INTEGER, action TEXT, undo TEXT, undone INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS approvals (id TEXT PRIMARY KEY, run_id TEXT, playbook TEXT, step INTEGER,
    alert TEXT, inputs TEXT, created REAL, expires REAL, status TEXT);
"""


class Runner:
    """Runs playbooks on alerts; see the module docstring for the safety rules."""

    def __init__(
        self,
        config: RunnerConfig,
        playbooks: list[Playbook] | None = None,
        actor: str = "llmsiem",
    ) -> None:
        self.config = config
        self.playbooks = playbooks if playbooks is not None else load_playbooks()
        self.by_id = {p.id: p for p in self.playbooks}
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(config.state_dir / "respond.db", check_same_thread=False)
        self.db.executescript(SCHEMA)
        self.audit = AuditLog(config.state_dir / "audit.jsonl")
        self.actor = actor

    # -- safety checks ----------------------------------------------------------------------

    def _protected(self, principal: str) -> bool:
        return any(fnmatch.fnmatch(principal, p) for p in self.config.protected_principals)

    def _rate_limited(self, action: str) -> str | None:
        since = time.time() - self.config.rate_window_seconds
        (per_action,) = self.db.execute(
            "SELECT count(*) FROM actions WHERE action = ? AND ts > ?", (action, since)
        ).fetchone()
        (overall,) = self.db.execute(
            "SELECT count(*) FROM actions WHERE ts > ?", (since,)
        ).fetchone()
        if per_action >= self.config.per_action_limit:
            return f"rate limit: {per_action} {action} actions in the window"
        if overall >= self.config.global_limit:
            return f"global rate limit: {overall} actions in the window"
        return None

    def _duplicate(self, fingerprint: str) -> bool:
        now = time.time()
        row = self.db.execute(
            "SELECT seen FROM dedup WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        if row and now - row[0] < self.config.dedup_seconds:
            return True
        self.db.execute("INSERT OR REPLACE INTO dedup VALUES (?, ?)", (fingerprint, now))
        self.db.commit()
        return False

    @staticmethod
    def fingerprint(alert: dict[str, Any]) -> str:
        """Same rule and same entities: the same incident, whatever the alert id."""
        rule = alert.get("rule", {}).get("id", "")
        entities = {
            key: alert.get(key) for key in ("user", "trace") if isinstance(alert.get(key), dict)
        }
        key = (alert.get("llmsiem", {}) or {}).get("api_key")
        return hashlib.sha256(
            json.dumps([rule, entities, key], sort_keys=True).encode()
        ).hexdigest()

    # -- running ----------------------------------------------------------------------------

    def handle(self, alert: dict[str, Any]) -> list[StepRecord]:
        """Run every matching playbook on one alert; returns one record per step."""
        run_id = uuid.uuid4().hex[:16]
        alert_id = alert.get("event", {}).get("id")
        self.audit.append(
            "alert",
            run_id=run_id,
            actor=self.actor,
            alert_id=alert_id,
            rule=alert.get("rule", {}).get("name"),
        )
        matching = [p for p in self.playbooks if p.trigger.matches(alert)]
        if not matching:
            return []
        if self.config.execute and self._duplicate(self.fingerprint(alert)):
            self.audit.append("decision", run_id=run_id, decision="deduplicated", alert_id=alert_id)
            return [StepRecord(run_id, p.id, "-", "-", "deduplicated") for p in matching]
        records = []
        for playbook in matching:
            inputs = playbook.resolve_inputs(alert)
            if inputs is None:
                records.append(
                    StepRecord(run_id, playbook.id, "-", "-", "skipped", "alert lacks inputs")
                )
                continue
            for step, factory in enumerate(playbook.steps):
                records.append(self._step(run_id, playbook, step, factory(), inputs, alert))
        return records

    def _step(
        self,
        run_id: str,
        playbook: Playbook,
        step: int,
        action: Action,
        inputs: dict[str, str],
        alert: dict[str, Any],
        approved: bool = False,
    ) -> StepRecord:
        try:
            principal = action.principal(inputs)
            plan = action.plan(inputs)
        except NotConfiguredError as exc:
            return StepRecord(
                run_id, playbook.id, action.name, "-", "skipped", f"not configured: {exc}"
            )
        except Exception as exc:  # target unreachable while planning: record, never crash
            self.audit.append(
                "decision",
                run_id=run_id,
                playbook=playbook.id,
                action=action.name,
                decision="failed",
                error=f"plan: {type(exc).__name__}: {exc}",
            )
            return StepRecord(run_id, playbook.id, action.name, "-", "failed", f"plan: {exc}")
        record = StepRecord(run_id, playbook.id, action.name, principal, "planned", plan=plan)
        decision = self._decide(playbook, step, action, plan, inputs, alert, run_id, approved)
        if decision is not None:
            record.status, record.detail = decision
            self.audit.append(
                "decision",
                run_id=run_id,
                playbook=playbook.id,
                action=action.name,
                principal=principal,
                decision=record.status,
                detail=record.detail,
                before=plan.before,
                after=plan.after,
            )
            return record
        return self._execute(record, playbook, step, action, plan, inputs)

    def _decide(
        self,
        playbook: Playbook,
        step: int,
        action: Action,
        plan: Plan,
        inputs: dict[str, str],
        alert: dict[str, Any],
        run_id: str,
        approved: bool,
    ) -> tuple[str, str] | None:
        """Why the step does not execute now, or None when it may."""
        if self.config.kill_switch.exists():
            return "refused", f"kill switch {self.config.kill_switch} is on"
        if self._protected(plan.principal):
            return "refused", f"{plan.principal} is a protected principal"
        if not plan.changes:
            return "skipped", "already in the desired state"
        if not self.config.execute:
            return "planned", "dry-run (pass --execute to act)"
        needs_approval = plan.impact == "irreversible" or (
            plan.impact == "high" and self.config.approve_high_impact
        )
        if needs_approval and not approved:
            approval_id = uuid.uuid4().hex[:12]
            now = time.time()
            self.db.execute(
                "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                (
                    approval_id,
                    run_id,
                    playbook.id,
                    step,
                    json.dumps(alert),
                    json.dumps(inputs),
                    now,
                    now + self.config.approval_timeout_seconds,
                ),
            )
            self.db.commit()
            return "pending_approval", f"approval {approval_id} ({plan.impact} impact)"
        limited = self._rate_limited(action.name)
        if limited:
            return "refused", limited
        return None

    def _execute(
        self,
        record: StepRecord,
        playbook: Playbook,
        step: int,
        action: Action,
        plan: Plan,
        inputs: dict[str, str],
    ) -> StepRecord:
        key = hashlib.sha256(
            f"{playbook.id}|{step}|{action.name}|{plan.principal}|{json.dumps(plan.after)}".encode()
        ).hexdigest()
        done = self.db.execute(
            "SELECT run_id FROM executed WHERE idempotency_key = ? AND undone = 0", (key,)
        ).fetchone()
        if done:
            record.status, record.detail = "skipped", f"already executed in run {done[0]}"
            return record
        self.audit.append(
            "request",
            run_id=record.run_id,
            playbook=playbook.id,
            action=action.name,
            principal=plan.principal,
            idempotency_key=key,
            before=plan.before,
            after=plan.after,
            actor=self.actor,
        )
        self.db.execute("INSERT INTO actions VALUES (?, ?)", (time.time(), action.name))
        self.db.commit()
        error = ""
        for attempt in range(RETRIES):
            try:
                outcome = action.execute(inputs, key)
                verified = action.verify(inputs, plan)
                self.db.execute(
                    "INSERT OR REPLACE INTO executed VALUES (?, ?, ?, ?, ?, ?, 0)",
                    (key, record.run_id, playbook.id, step, action.name, json.dumps(outcome.undo)),
                )
                self.db.commit()
                self.audit.append(
                    "response",
                    run_id=record.run_id,
                    action=action.name,
                    principal=plan.principal,
                    response=outcome.response,
                    verified=verified,
                    undo_handle=outcome.undo,
                    reversible=action.reversible,
                )
                record.status = "executed" if verified else "failed"
                record.detail = "verified" if verified else "executed but verification failed"
                return record
            except Exception as exc:  # any target error: retry, then record the failure
                error = f"{type(exc).__name__}: {exc}"
                time.sleep(self.config.retry_backoff_seconds * 2**attempt)
        self.audit.append(
            "response",
            run_id=record.run_id,
            action=action.name,
            principal=plan.principal,
            status="failed",
            error=error,
        )
        record.status, record.detail = "failed", error
        return record

    # -- approvals and undo -----------------------------------------------------------------

    def approvals(self) -> list[dict[str, Any]]:
        """Pending approvals; expired ones are denied (timeout means deny) first."""
        now = time.time()
        expired = self.db.execute(
            "SELECT id, run_id FROM approvals WHERE status = 'pending' AND expires < ?", (now,)
        ).fetchall()
        for approval_id, run_id in expired:
            self.db.execute("UPDATE approvals SET status = 'denied' WHERE id = ?", (approval_id,))
            self.audit.append(
                "decision",
                run_id=run_id,
                approval=approval_id,
                decision="denied",
                detail="approval timed out",
            )
        self.db.commit()
        rows = self.db.execute(
            "SELECT id, run_id, playbook, step, inputs, created, expires FROM approvals "
            "WHERE status = 'pending' ORDER BY created"
        ).fetchall()
        return [
            {
                "id": r[0],
                "run_id": r[1],
                "playbook": r[2],
                "step": r[3],
                "inputs": json.loads(r[4]),
                "created": r[5],
                "expires": r[6],
            }
            for r in rows
        ]

    def decide_approval(self, approval_id: str, approve: bool, actor: str) -> StepRecord | None:
        """Approve (and execute) or deny one pending approval."""
        pending = {a["id"]: a for a in self.approvals()}
        if approval_id not in pending:
            raise KeyError(f"no pending approval {approval_id!r} (expired, decided or unknown)")
        row = self.db.execute(
            "SELECT run_id, playbook, step, alert, inputs FROM approvals WHERE id = ?",
            (approval_id,),
        ).fetchone()
        status = "approved" if approve else "denied"
        self.db.execute("UPDATE approvals SET status = ? WHERE id = ?", (status, approval_id))
        self.db.commit()
        self.audit.append(
            "decision", run_id=row[0], approval=approval_id, decision=status, actor=actor
        )
        if not approve:
            return None
        playbook = self.by_id[row[1]]
        action = playbook.steps[row[2]]()
        return self._step(
            row[0], playbook, row[2], action, json.loads(row[4]), json.loads(row[3]), approved=True
        )

    def undo(self, run_id: str, actor: str) -> list[str]:
        """Reverse every executed, reversible action of a run, newest first."""
        rows = self.db.execute(
            "SELECT idempotency_key, playbook, step, action, undo FROM executed "
            "WHERE run_id = ? AND undone = 0 ORDER BY rowid DESC",
            (run_id,),
        ).fetchall()
        if not rows:
            raise KeyError(f"run {run_id!r} has no executed actions to undo")
        undone = []
        for key, playbook_id, step, name, handle in rows:
            action = self.by_id[playbook_id].steps[step]()
            if not action.reversible:
                self.audit.append(
                    "undo",
                    run_id=run_id,
                    action=name,
                    status="impossible",
                    detail="irreversible action",
                    actor=actor,
                )
                continue
            result = action.undo(json.loads(handle))
            self.db.execute("UPDATE executed SET undone = 1 WHERE idempotency_key = ?", (key,))
            self.db.commit()
            self.audit.append("undo", run_id=run_id, action=name, result=result, actor=actor)
            undone.append(name)
        return undone

    def handle_all(self, alerts: Iterable[dict[str, Any]]) -> list[StepRecord]:
        return [record for alert in alerts for record in self.handle(alert)]
