"""A loopback endpoint that answers ``_bulk`` as Elasticsearch documents it.

Per item: 201 created, 409 for an ``_id`` already indexed, 429 for a share of items.
Whole request: 401 for a wrong API key, 413 over a body size, 503 or a dropped connection
during an outage. It records every ``_id`` indexed and how often each was created.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "right-key"


@dataclass
class BulkState:
    """What the endpoint does, and what it saw."""

    api_key: str = API_KEY
    max_body: int = 10_000_000
    item_429: float = 0.0
    outage: str | None = None  # "503" or "drop"
    whole_status: int | None = None  # force 403/404/429 on every request
    delay: float = 0.0
    created: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=lambda: random.Random(7))


def _handler(state: BulkState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            """Quiet."""

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(200, {"version": {"number": "8.15.0"}, "tagline": "You Know, for Search"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            with state.lock:
                state.requests += 1
            if state.delay:
                threading.Event().wait(state.delay)
            if state.outage == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if state.outage == "503":
                self._answer(503, {"error": "unavailable", "status": 503})
                return
            if self.headers.get("Authorization") != f"ApiKey {state.api_key}":
                self._answer(401, {"error": {"type": "security_exception"}, "status": 401})
                return
            if state.whole_status:
                self._answer(state.whole_status, {"error": "forced", "status": state.whole_status})
                return
            if length > state.max_body:
                self._answer(413, {"error": "request entity too large", "status": 413})
                return
            lines = body.decode().splitlines()
            items = []
            with state.lock:
                for action_line in lines[0::2]:
                    doc_id = json.loads(action_line)["create"]["_id"]
                    if state.rng.random() < state.item_429:
                        items.append({"create": {"_id": doc_id, "status": 429}})
                    elif doc_id in state.created:
                        items.append({"create": {"_id": doc_id, "status": 409}})
                    else:
                        state.created[doc_id] += 1
                        items.append({"create": {"_id": doc_id, "status": 201}})
            errors = any(i["create"]["status"] >= 300 for i in items)
            self._answer(200, {"took": 1, "errors": errors, "items": items})

        do_PUT = do_POST  # noqa: N815 - the http.server naming

    return Handler


@contextmanager
def bulk_endpoint(state: BulkState) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1; yields the URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
