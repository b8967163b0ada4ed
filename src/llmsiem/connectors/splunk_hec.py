"""Splunk HTTP Event Collector sink (``/services/collector/event``), batched.

Each event is an HEC envelope: ``time`` (epoch seconds), ``host``, ``source``,
``sourcetype`` ``llmsiem:telemetry``, ``index``, the event itself, and indexed ``fields``
for the entities SOC searches pivot on. HEC status codes (docs: "Format events for HTTP
Event Collector", "Troubleshoot HTTP Event Collector"): 0 success; 2, 3, 4 token missing or
invalid (fatal, never retried); 5, 6, 12, 13 bad data (the batch goes to the dead letter);
7 incorrect index (fatal configuration error); 9 server busy, HTTP 429/5xx and transport
errors (retried under the one ``RetryPolicy``, then reported retryable so the spool keeps
the batch).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

from llmsiem.connectors.sink import Delivery, RetryPolicy, json_bytes, required_setting
from llmsiem.deadletter import DeadLetter
from llmsiem.event import get_dotted

SOURCETYPE = "llmsiem:telemetry"
AUTH_CODES = {2, 3, 4}
BAD_DATA_CODES = {5, 6, 12, 13}
BUSY_CODES = {9}
INDEXED_FIELDS = ("user.id", "llmsiem.api_key.id", "trace.id", "event.action")


def envelope(document: dict[str, Any], index: str, host: str) -> dict[str, Any]:
    """The HEC JSON envelope of one event."""
    stamp = datetime.fromisoformat(document["@timestamp"].replace("Z", "+00:00"))
    fields = {name: get_dotted(document, name) for name in INDEXED_FIELDS}
    return {
        "time": round(stamp.timestamp(), 3),
        "host": host,
        "source": "llmsiem",
        "sourcetype": SOURCETYPE,
        "index": index,
        "event": document,
        "fields": {k: str(v) for k, v in fields.items() if v is not None},
    }


class SplunkHecSink:
    """POSTs batches of envelopes to HEC and interprets HEC's status codes."""

    def __init__(
        self,
        url: str,
        token: str,
        dead_letter: DeadLetter,
        index: str = "llm",
        host: str = "llmsiem",
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        verify: bool = True,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/services/collector/event"
        self.headers = {"Authorization": f"Splunk {token}"}
        self.dead_letter = dead_letter
        self.index = index
        self.host = host
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.verify = verify

    def open(self) -> None:
        """HTTP needs no session set-up."""

    def close(self) -> None:
        self.session.close()

    def send(self, documents: list[dict[str, Any]]) -> Delivery:
        """Deliver one batch (one HTTP request, retried while HEC is busy)."""
        report = Delivery()
        if not documents:
            return report
        body = b"\n".join(json_bytes(envelope(d, self.index, self.host)) for d in documents)
        retry = self.retry.restart()
        while True:
            try:
                response = self.session.post(
                    self.endpoint,
                    data=body,
                    headers=self.headers,
                    timeout=30,
                    verify=self.verify,
                )
            except requests.RequestException as exc:
                reason = f"HEC unreachable: {type(exc).__name__}"
            else:
                try:
                    payload = response.json()
                except ValueError:
                    payload = {"code": -1, "text": response.text[:200]}
                code = int(payload.get("code", -1))
                if response.status_code == 200 and code == 0:
                    report.sent = len(documents)
                    return report
                if code in AUTH_CODES or response.status_code in (401, 403):
                    report.fatal = f"HEC refused the token: {payload.get('text')} (code {code})"
                    return report
                if code in BAD_DATA_CODES:
                    for document in documents:
                        self.dead_letter.write(
                            "splunk-hec", 0, f"HEC code {code}: {payload.get('text')}", document
                        )
                    report.dead_lettered = len(documents)
                    return report
                if not (code in BUSY_CODES or response.status_code in (429, 502, 503, 504)):
                    report.fatal = f"HEC error {response.status_code}: {payload} (code {code})"
                    return report
                reason = f"HEC busy (HTTP {response.status_code}, code {code})"
            if not retry.wait():
                report.retryable = len(documents)
                report.retry_reason = f"{reason}; gave up after {retry.deadline:.0f} s"
                return report
            report.retries += 1


class SplunkHecSinkType:
    name = "splunk"
    destination = (
        "Splunk HEC URL (default $LLMSIEM_SPLUNK_HEC_URL; token in $LLMSIEM_SPLUNK_HEC_TOKEN)"
    )

    def create(self, destination: str | None, dead_letter: DeadLetter) -> SplunkHecSink:
        url = required_setting("LLMSIEM_SPLUNK_HEC_URL", destination)
        token = required_setting("LLMSIEM_SPLUNK_HEC_TOKEN")
        return SplunkHecSink(url, token, dead_letter, retry=RetryPolicy.from_env())


SINK = SplunkHecSinkType()
