"""The response runner: matches alerts to playbooks and takes each action through policy,
executor, state store and audit log.

Actions are addressed as ``playbook_id/action_id``. Approvals and executions record that
address with the implementing class and, for approvals, the approved plan; when a playbook
was edited in between, an approval or undo still acts on the same action or refuses with
the reason, never on whatever now sits at the same position.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from llmsiem.respond.action import Action, NotConfiguredError, Plan
from llmsiem.respond.alert import alert_key
from llmsiem.respond.audit import AUDIT_KEY_ENV, AuditKeyError, AuditLog
from llmsiem.respond.config import RunnerConfig
from llmsiem.respond.executor import Executor, RetryPolicy
from llmsiem.respond.playbook import Playbook, load_playbooks
from llmsiem.respond.policy import Policy
from llmsiem.respond.state import Approval, Execution, StateStore
from llmsiem.respond.step import Status, StepRecord, action_ref

__all__ = ["Runner", "RunnerConfig"]


class Runner:
    """Runs playbooks on alerts: dry-run unless the config says execute."""

    def __init__(
        self,
        config: RunnerConfig,
        playbooks: list[Playbook] | None = None,
        actor: str = "llmsiem",
        audit_key: bytes | None = None,
    ) -> None:
        if config.execute and audit_key is None:
            raise AuditKeyError(
                f"set {AUDIT_KEY_ENV}: response actions need a keyed audit log "
                "(dry-run works without it)"
            )
        self.config = config
        self.playbooks = playbooks if playbooks is not None else load_playbooks()
        self.by_id = {p.id: p for p in self.playbooks}
        self.store = StateStore(config.state_dir / "respond.db")
        self.policy = Policy(config, self.store)
        self.executor = Executor(RetryPolicy.from_config(config))
        self.audit = (
            None if audit_key is None else AuditLog(config.state_dir / "audit.jsonl", audit_key)
        )
        self.actor = actor

    def _audit(self, kind: str, **fields: Any) -> None:
        if self.audit is not None:
            self.audit.append(kind, **fields)

    # -- alerts -------------------------------------------------------------------------------

    def handle(self, alert: dict[str, Any]) -> list[StepRecord]:
        """Run every matching playbook on one (validated) alert; one record per action."""
        run_id = uuid.uuid4().hex[:16]
        alert_id = alert["event"].get("id")
        self._audit(
            "alert", run_id=run_id, actor=self.actor, alert_id=alert_id, rule=alert["rule"]["name"]
        )
        matching = [p for p in self.playbooks if p.trigger.matches(alert)]
        if not matching:
            return []
        if self.config.execute:
            earlier = self.store.claim_alert(alert_key(alert), run_id)
            if earlier is not None:
                detail = f"alert already handled in run {earlier}"
                self._audit("decision", run_id=run_id, decision="replayed", alert_id=alert_id)
                return [
                    StepRecord(run_id, p.id, "-", "-", Status.REPLAYED, detail) for p in matching
                ]
            if self.policy.is_duplicate(alert):
                self._audit("decision", run_id=run_id, decision="deduplicated", alert_id=alert_id)
                return [StepRecord(run_id, p.id, "-", "-", Status.DEDUPLICATED) for p in matching]
        records = []
        for playbook in matching:
            inputs = playbook.resolve_inputs(alert)
            if inputs is None:
                records.append(
                    StepRecord(run_id, playbook.id, "-", "-", Status.SKIPPED, "alert lacks inputs")
                )
                continue
            for factory in playbook.factories:
                records.append(self._step(run_id, playbook.id, factory(), inputs, alert))
        return records

    def handle_all(self, alerts: Iterable[dict[str, Any]]) -> list[StepRecord]:
        return [record for alert in alerts for record in self.handle(alert)]

    def _step(
        self,
        run_id: str,
        playbook_id: str,
        action: Action,
        inputs: dict[str, str],
        alert: dict[str, Any],
        approved: Approval | None = None,
    ) -> StepRecord:
        ref = action_ref(playbook_id, action.name)
        try:
            plan = self.executor.plan(action, inputs)
        except NotConfiguredError as exc:
            return StepRecord(
                run_id, playbook_id, action.name, "-", Status.SKIPPED, f"not configured: {exc}"
            )
        except Exception as exc:  # target unreachable while planning: record, never crash
            error = f"plan: {type(exc).__name__}: {exc}"
            self._audit("decision", run_id=run_id, action=ref, decision="failed", error=error)
            return StepRecord(run_id, playbook_id, action.name, "-", Status.FAILED, error)
        record = StepRecord(
            run_id, playbook_id, action.name, plan.principal, Status.PLANNED, plan=plan
        )
        decision = self._decide(run_id, ref, action, plan, inputs, alert, approved)
        if decision is not None:
            record.status, record.detail = decision
            self._audit(
                "decision",
                run_id=run_id,
                action=ref,
                principal=plan.principal,
                decision=record.status.value,
                detail=record.detail,
                before=plan.before,
                after=plan.after,
            )
            return record
        return self._execute(record, ref, action, plan, inputs)

    def _decide(
        self,
        run_id: str,
        ref: str,
        action: Action,
        plan: Plan,
        inputs: dict[str, str],
        alert: dict[str, Any],
        approved: Approval | None,
    ) -> tuple[Status, str] | None:
        """Why the action does not execute now, or None when it may."""
        refusal = self.policy.refusal(plan.principal)
        if refusal:
            return Status.REFUSED, refusal
        if approved is not None and (plan.principal, plan.after) != (
            approved.principal,
            approved.after,
        ):
            return Status.REFUSED, (
                f"approval {approved.id} was for {approved.principal} -> "
                f"{json.dumps(approved.after)}; the plan is now {plan.principal} -> "
                f"{json.dumps(plan.after)}: request a new approval"
            )
        if not plan.changes:
            return Status.SKIPPED, "already in the desired state"
        if not self.config.execute:
            return Status.PLANNED, "dry-run (pass --execute to act)"
        if approved is None and self.policy.needs_approval(plan):
            now = time.time()
            approval = Approval(
                uuid.uuid4().hex[:12],
                run_id,
                ref,
                action.implementation,
                alert,
                inputs,
                plan.principal,
                plan.after,
                now,
                now + self.config.approval_timeout_seconds,
                "pending",
            )
            self.store.add_approval(approval)
            return Status.PENDING_APPROVAL, f"approval {approval.id} ({plan.impact} impact)"
        limited = self.policy.take_rate_slot(action.name)
        if limited:
            return Status.REFUSED, limited
        return None

    def _execute(
        self, record: StepRecord, ref: str, action: Action, plan: Plan, inputs: dict[str, str]
    ) -> StepRecord:
        key = hashlib.sha256(
            f"{ref}|{plan.principal}|{json.dumps(plan.after, sort_keys=True)}".encode()
        ).hexdigest()
        done = self.store.executed_run(key)
        if done:
            record.status, record.detail = Status.SKIPPED, f"already executed in run {done}"
            return record
        self._audit(
            "request",
            run_id=record.run_id,
            action=ref,
            principal=plan.principal,
            idempotency_key=key,
            before=plan.before,
            after=plan.after,
            actor=self.actor,
        )
        attempt = self.executor.execute(action, inputs, plan, key)
        if attempt.outcome is None:
            self._audit(
                "response",
                run_id=record.run_id,
                action=ref,
                principal=plan.principal,
                status=Status.FAILED.value,
                attempts=attempt.attempts,
                error=attempt.error,
            )
            record.status, record.detail = Status.FAILED, attempt.error
            return record
        self.store.record_execution(
            record.run_id, Execution(key, ref, action.implementation, attempt.outcome.undo)
        )
        self._audit(
            "response",
            run_id=record.run_id,
            action=ref,
            principal=plan.principal,
            response=attempt.outcome.response,
            verified=attempt.verified,
            attempts=attempt.attempts,
            undo_handle=attempt.outcome.undo,
            reversible=action.reversible,
        )
        if attempt.verified:
            record.status, record.detail = Status.EXECUTED, "verified"
        else:
            record.status, record.detail = Status.FAILED, "executed but verification failed"
        return record

    # -- addressing actions after playbook edits -----------------------------------------------

    def _resolve(self, ref: str, implementation: str, why: str) -> Action | str:
        """The action behind ``ref`` today, or the reason it can no longer be used for ``why``."""
        playbook_id, _, action_id = ref.partition("/")
        playbook = self.by_id.get(playbook_id)
        if playbook is None:
            return f"playbook {playbook_id!r} no longer exists; {why} refused"
        factory: Callable[[], Action] | None = playbook.action(action_id)
        if factory is None:
            return f"playbook {playbook_id!r} no longer has action {action_id!r}; {why} refused"
        action = factory()
        if action.implementation != implementation:
            return (
                f"{ref} is now {action.implementation}, not {implementation} as when it was "
                f"recorded; {why} refused"
            )
        return action

    # -- approvals ----------------------------------------------------------------------------

    def approvals(self) -> list[Approval]:
        """Pending approvals; expired ones are denied (timeout means deny) first."""
        for expired in self.store.expire_approvals():
            self._audit(
                "decision",
                run_id=expired.run_id,
                approval=expired.id,
                action=expired.action_ref,
                decision="denied",
                detail="approval timed out",
            )
        return self.store.pending_approvals()

    def decide_approval(self, approval_id: str, approve: bool, actor: str) -> StepRecord | None:
        """Approve (and execute) or deny one pending approval; None when denied."""
        self.approvals()
        approval = self.store.decide_approval(approval_id, "approved" if approve else "denied")
        if approval is None:
            raise KeyError(f"no pending approval {approval_id!r} (expired, decided or unknown)")
        self._audit(
            "decision",
            run_id=approval.run_id,
            approval=approval_id,
            action=approval.action_ref,
            decision="approved" if approve else "denied",
            actor=actor,
        )
        if not approve:
            return None
        playbook_id, _, action_id = approval.action_ref.partition("/")
        action = self._resolve(
            approval.action_ref, approval.implementation, f"approval {approval_id}"
        )
        if isinstance(action, str):
            self._audit(
                "decision",
                run_id=approval.run_id,
                action=approval.action_ref,
                decision="refused",
                detail=action,
            )
            return StepRecord(
                approval.run_id, playbook_id, action_id, approval.principal, Status.REFUSED, action
            )
        return self._step(
            approval.run_id, playbook_id, action, approval.inputs, approval.alert, approval
        )

    # -- undo ---------------------------------------------------------------------------------

    def undo(self, run_id: str, actor: str) -> list[StepRecord]:
        """Reverse every executed, reversible action of a run, newest first."""
        executions = self.store.executions(run_id)
        if not executions:
            raise KeyError(f"run {run_id!r} has no executed actions to undo")
        return [self._undo(run_id, execution, actor) for execution in executions]

    def _undo(self, run_id: str, execution: Execution, actor: str) -> StepRecord:
        playbook_id, _, action_id = execution.action_ref.partition("/")
        action = self._resolve(execution.action_ref, execution.implementation, "undo")
        if isinstance(action, str):
            status, detail = Status.REFUSED, action
        elif not action.reversible:
            status, detail = Status.REFUSED, "irreversible action"
        else:
            try:
                result = self.executor.undo(action, execution.undo_handle)
            except Exception as exc:  # target error: the action stays recorded as executed
                status, detail = Status.FAILED, f"{type(exc).__name__}: {exc}"
            else:
                self.store.mark_undone(execution.idempotency_key)
                self._audit(
                    "undo", run_id=run_id, action=execution.action_ref, result=result, actor=actor
                )
                return StepRecord(run_id, playbook_id, action_id, "-", Status.UNDONE, "undone")
        self._audit(
            "undo",
            run_id=run_id,
            action=execution.action_ref,
            status=status.value,
            detail=detail,
            actor=actor,
        )
        return StepRecord(run_id, playbook_id, action_id, "-", status, detail)
