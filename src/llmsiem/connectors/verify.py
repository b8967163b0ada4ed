"""``llmsiem verify``: run the compiled rules on a live SIEM over every rule's samples.

The conformance corpus (every rule's sample events plus variants of each true positive) is
written to a scratch index; each compiled query then runs there and its verdicts are
compared with the embedded engine's (``llmsiem.conformance.verdicts``). The scratch index is
deleted afterwards, whatever happened.

- Elasticsearch (official client): the index is created with the mappings and settings of
  the shipped ``logs-llm`` index template and filled with one ``_bulk`` request
  (``refresh=true``, ``_id`` = ``event.id``). The queries are the Kibana rules as deployed:
  Lucene ``query`` rules through ``_search`` with ``query_string``, EQL rules through
  ``_eql/search``, ES|QL rules through ``_query`` (the source index is the scratch index).
  Correlations run once per sample case, restricted to the case's events by a ``filter``.
- Splunk (splunk-sdk): the index is created through the REST API, each event is submitted to
  it with the compiled sourcetype, and the ``splunk-spl`` searches run as oneshot searches
  on the scratch index (``| table event.id`` for detections; a correlation case adds an
  ``event.id IN (...)`` term to its base search).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from llmsiem.compiler.compile import CompiledRule, CompileResult
from llmsiem.conformance.corpus import CorrelationCase, SampleCorpus
from llmsiem.conformance.verdicts import Verdicts
from llmsiem.connectors.deploy import siem_error_reason

ELASTIC_SOURCE = re.compile(r"^\s*from\s+\S+", re.IGNORECASE)
SPLUNK_INDEX = re.compile(r'index="?[^"\s]+"?')


class VerifyConnectionError(Exception):
    """The SIEM could not be reached or refused the credentials (exit code 2)."""


@dataclass(frozen=True)
class DeployedQuery:
    """One compiled query as it runs in the SIEM."""

    rule: str
    kind: str  # "detection" | "correlation"
    language: str  # "lucene" | "eql" | "esql" | "spl"
    query: str


def kibana_queries(result: CompileResult) -> list[DeployedQuery]:
    """The Kibana query rules of a ``kibana-ndjson`` build: language and query of each
    (``machine_learning`` rules have no query: they read their job's anomalies)."""
    return [
        DeployedQuery(_name(c), c.kind, str(doc["language"]), str(doc["query"]))
        for c in result.compiled
        for doc in c.queries
        if "query" in doc
    ]


def splunk_queries(result: CompileResult) -> list[DeployedQuery]:
    """The searches of a ``splunk-spl`` build."""
    return [
        DeployedQuery(_name(c), c.kind, "spl", str(query))
        for c in result.compiled
        for query in c.queries
    ]


def _name(compiled: CompiledRule) -> str:
    return compiled.name or compiled.rule_id


def _cases_of(corpus: SampleCorpus, rule: str) -> list[CorrelationCase]:
    return [case for case in corpus.correlation_cases if case.rule == rule]


def _ids(events: Iterable[dict[str, Any]]) -> list[str]:
    return [str(event["event"]["id"]) for event in events]


class ElasticVerifier:
    """Runs Kibana rule queries over the corpus in a scratch Elasticsearch index."""

    def __init__(self, client: Any, index: str) -> None:
        self.client = client
        self.index = index

    def load(self, corpus: SampleCorpus) -> None:
        """Create the scratch index with the template's mappings and bulk-index the corpus."""
        from llmsiem.connectors.elastic import index_template

        template = index_template()["template"]
        self.client.indices.create(
            index=self.index, mappings=template["mappings"], settings=template["settings"]
        )
        operations: list[dict[str, Any]] = []
        for event in corpus.events:
            operations += [{"index": {"_id": str(event["event"]["id"])}}, event]
        response = self.client.bulk(operations=operations, index=self.index, refresh=True)
        if response.get("errors"):
            failed = [
                item["index"]["_id"]
                for item in response["items"]
                if item.get("index", {}).get("error")
            ]
            raise RuntimeError(f"the scratch index rejected {len(failed)} event(s): {failed[:5]}")

    def delete(self) -> None:
        self.client.indices.delete(index=self.index, ignore_unavailable=True)

    def _detection(self, query: DeployedQuery, size: int) -> frozenset[str]:
        if query.language == "lucene":
            response = self.client.search(
                index=self.index,
                query={"query_string": {"query": query.query, "analyze_wildcard": True}},
                size=size,
                source=False,
            )
            return frozenset(hit["_id"] for hit in response["hits"]["hits"])
        if query.language == "eql":
            response = self.client.eql.search(index=self.index, query=query.query, size=size)
            return frozenset(hit["_id"] for hit in response["hits"].get("events", []))
        response = self._esql(query.query, None)
        columns = [column["name"] for column in response["columns"]]
        return frozenset(str(row[columns.index("_id")]) for row in response["values"])

    def _fires(self, query: DeployedQuery, case: CorrelationCase) -> bool:
        only_case = {"ids": {"values": _ids(case.events)}}
        if query.language == "eql":
            response = self.client.eql.search(
                index=self.index, query=query.query, filter=only_case, size=len(case.events)
            )
            hits = response["hits"]
            return bool(hits.get("sequences") or hits.get("events"))
        return bool(self._esql(query.query, only_case)["values"])

    def _esql(self, text: str, filter_: dict[str, Any] | None) -> Any:
        """An ES|QL query with its source replaced by the scratch index."""
        query = ELASTIC_SOURCE.sub(f"from {self.index}", text, count=1)
        if filter_ is None:
            return self.client.esql.query(query=query)
        return self.client.esql.query(query=query, filter=filter_)

    def verdicts(self, queries: list[DeployedQuery], corpus: SampleCorpus) -> Verdicts:
        return _collect(queries, corpus, self._detection, self._fires, _elastic_error())


class SplunkVerifier:
    """Runs SPL searches over the corpus in a scratch Splunk index."""

    sourcetype = "llmsiem:telemetry"

    def __init__(self, service: Any, index: str, wait_seconds: float = 120.0) -> None:
        self.service = service
        self.index = index
        self.wait_seconds = wait_seconds

    def load(self, corpus: SampleCorpus) -> None:
        """Create the scratch index, submit every event, wait until all are searchable."""
        target = self.service.indexes.create(self.index)
        for event in corpus.events:
            target.submit(json.dumps(event), sourcetype=self.sourcetype, host="llmsiem-verify")
        deadline = time.monotonic() + self.wait_seconds
        while True:
            rows = self._search(f'search index="{self.index}" | stats count')
            if rows and int(rows[0]["count"]) >= len(corpus.events):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"events not searchable in {self.index} after the wait")
            time.sleep(1.0)

    def delete(self) -> None:
        with suppress(KeyError):  # splunk-sdk's answer to 404: already gone
            self.service.indexes.delete(self.index)

    def _search(self, query: str) -> list[dict[str, Any]]:
        stream = self.service.jobs.oneshot(query, output_mode="json", count=0, earliest_time="0")
        body = json.loads(stream.read() or b"{}")
        results: list[dict[str, Any]] = body.get("results", [])
        return results

    def _scoped(self, query: str, case: CorrelationCase | None = None) -> str:
        scope = f'index="{self.index}"'
        if case is not None:
            scope += " event.id IN (" + ",".join(f'"{i}"' for i in _ids(case.events)) + ")"
        text = SPLUNK_INDEX.sub(scope, query, count=1)
        return text if text.lstrip().startswith(("search ", "|")) else f"search {text}"

    def _detection(self, query: DeployedQuery, size: int) -> frozenset[str]:
        rows = self._search(self._scoped(query.query) + " | table event.id")
        return frozenset(str(row["event.id"]) for row in rows if "event.id" in row)

    def _fires(self, query: DeployedQuery, case: CorrelationCase) -> bool:
        return bool(self._search(self._scoped(query.query, case)))

    def verdicts(self, queries: list[DeployedQuery], corpus: SampleCorpus) -> Verdicts:
        return _collect(queries, corpus, self._detection, self._fires, _splunk_error())


def _elastic_error() -> tuple[type[Exception], ...]:
    from elasticsearch import BadRequestError

    return (BadRequestError,)


def _splunk_error() -> tuple[type[Exception], ...]:
    from splunklib.binding import HTTPError

    return (HTTPError,)


def _collect(
    queries: list[DeployedQuery],
    corpus: SampleCorpus,
    detection: Callable[[DeployedQuery, int], frozenset[str]],
    fires: Callable[[DeployedQuery, CorrelationCase], bool],
    query_errors: tuple[type[Exception], ...],
) -> Verdicts:
    """Verdicts of every query; a query the SIEM rejects is that rule's error."""
    verdicts = Verdicts()
    for query in queries:
        try:
            if query.kind == "detection":
                verdicts.detections[query.rule] = detection(query, len(corpus.events))
            else:
                for case in _cases_of(corpus, query.rule):
                    verdicts.correlations[query.rule, case.label] = fires(query, case)
        except query_errors as exc:
            verdicts.errors[query.rule] = siem_error_reason(exc)
    return verdicts
