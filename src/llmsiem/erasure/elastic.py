"""Elasticsearch: the person's documents counted with ``_count`` and removed with
``_delete_by_query`` (``conflicts=proceed``, refreshed, waited for) through the official client."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from llmsiem.erasure.store import StoreError
from llmsiem.erasure.subject import Subject

DEFAULT_INDEX = "logs-llm-*,llmsiem-incidents"
"""The event data streams and the incident copies that outlive retention (keep-evidence)."""


class ElasticsearchStore:
    """The ``logs-llm-*`` data streams and ``llmsiem-incidents`` (or other indices)."""

    kind = "elasticsearch"
    retained: str | None = None

    def __init__(self, client: Elasticsearch, index: str = DEFAULT_INDEX) -> None:
        self.client = client
        self.index = index
        self.location = index

    def _call(self, what: str, **arguments: Any) -> dict[str, Any]:
        try:
            response = getattr(self.client, what)(index=self.index, **arguments)
        except (ApiError, TransportError) as exc:
            raise StoreError(f"{self.index}: {what}: {exc}") from exc
        body: dict[str, Any] = response.body
        return body

    def scan(self, subject: Subject) -> int:
        body = self._call("count", query=subject.es_query(), allow_no_indices=True)
        return int(body["count"])

    def erase(self, subject: Subject) -> int:
        body = self._call(
            "delete_by_query",
            query=subject.es_query(),
            conflicts="proceed",
            refresh=True,
            wait_for_completion=True,
            allow_no_indices=True,
        )
        failures = body.get("failures") or []
        conflicts = int(body.get("version_conflicts", 0))
        if failures or conflicts or body.get("timed_out"):
            raise StoreError(
                f"{self.index}: _delete_by_query deleted {body.get('deleted', 0)} of "
                f"{body.get('total', '?')}; {len(failures)} failures, {conflicts} version "
                "conflicts: run forget again"
            )
        return int(body["deleted"])
