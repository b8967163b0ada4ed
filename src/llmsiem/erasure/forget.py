"""One erasure request over every store: count (dry run) or erase, then the audit record."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmsiem.erasure.store import Store, StoreError, StoreResult
from llmsiem.erasure.subject import USER_FIELDS, Subject
from llmsiem.respond.audit import AuditLog

AUDIT_KIND = "erasure"


@dataclass
class ErasureReport:
    """Per store: what it holds of the person and what was erased (``executed``)."""

    executed: bool
    stores: list[StoreResult] = field(default_factory=list)

    @property
    def found(self) -> int:
        return sum(r.found for r in self.stores if r.retained is None)

    @property
    def erased(self) -> int:
        return sum(r.erased for r in self.stores)

    @property
    def failed(self) -> list[StoreResult]:
        return [r for r in self.stores if r.error is not None]


def forget(subject: Subject, stores: Sequence[Store], execute: bool) -> ErasureReport:
    """Count the person's records in every store; with ``execute``, erase them.

    Every store is read before any is changed, so alerts are matched against all of the
    person's events (an alert file may come before the events it cites). A store that
    fails is reported and the others still run.
    """
    report = ErasureReport(executed=execute)
    for store in stores:
        result = StoreResult(store.kind, store.location, retained=store.retained)
        try:
            result.found = store.scan(subject)
        except StoreError as exc:
            result.error = str(exc)
        report.stores.append(result)
    for store, result in zip(stores, report.stores, strict=True):
        if result.error is not None or result.retained is not None:
            continue
        try:
            if execute:
                result.erased = store.erase(subject)
            elif store.kind == "jsonl":
                result.found = store.scan(subject)  # now knowing every store's events
        except StoreError as exc:
            result.error = str(exc)
    return report


def record_erasure(
    log: AuditLog, subject: Subject, report: ErasureReport, request: str, actor: str
) -> dict[str, Any]:
    """Append the erasure to the keyed audit chain and force it to disk.

    The record names the person only by ``Subject.keyed_hash`` and the stores only by
    location and counts; nothing erased is copied into it.
    """
    record = log.append(
        AUDIT_KIND,
        request=request,
        actor=actor,
        subject_hmac=subject.keyed_hash(log.key),
        fields=list(USER_FIELDS),
        stores=[r.as_dict() for r in report.stores],
        found=report.found,
        erased=report.erased,
        failed=len(report.failed),
    )
    with log.path.open("rb") as stream:
        os.fsync(stream.fileno())
    return record
