"""``llmsiem respond serve``: authenticated webhook receiver (Starlette, run by uvicorn).

Routes: ``POST /hooks/kibana``, ``/hooks/splunk``, ``/hooks/alerts`` (engine alerts).
Authentication, compared in constant time:
- ``X-Llmsiem-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` with
  the timestamp inside a 5-minute window (replays are refused); or
- ``Authorization: Bearer <token>`` (Kibana's webhook connector sets static headers); or
- ``?token=<token>`` (Splunk's webhook action can only call a URL).
Unauthenticated requests get 401 and change nothing; malformed bodies get 400 with a reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from llmsiem.respond.runner import Runner
from llmsiem.respond.webhooks import PayloadError, from_engine, from_kibana, from_splunk

log = logging.getLogger("llmsiem.respond")
WINDOW_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for a body (what senders compute)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def authenticated(request: Request, body: bytes, secret: str, token: str) -> bool:
    header = request.headers.get("x-llmsiem-signature", "")
    if header and secret:
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        try:
            stamp = int(parts.get("t", ""))
        except ValueError:
            return False
        if abs(time.time() - stamp) > WINDOW_SECONDS:
            return False
        expected = sign(secret, body, stamp).split("v1=", 1)[1]
        return hmac.compare_digest(expected, parts.get("v1", ""))
    if not token:
        return False
    bearer = request.headers.get("authorization", "")
    if bearer.startswith("Bearer "):
        return hmac.compare_digest(bearer[7:], token)
    return hmac.compare_digest(request.query_params.get("token", ""), token)


def create_app(
    runner: Runner,
    secret: str,
    token: str,
    on_handled: Callable[[dict[str, Any]], None] | None = None,
) -> Starlette:
    """The webhook application; ``on_handled`` observes each handled alert (benchmarks)."""
    if not secret and not token:
        raise ValueError("set a webhook secret or token: unauthenticated receivers are refused")

    def endpoint(parse: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> Callable[..., Any]:
        async def handle(request: Request) -> JSONResponse:
            body = await request.body()
            if not authenticated(request, body, secret, token):
                log.warning("rejected unauthenticated request to %s", request.url.path)
                return JSONResponse({"error": "unauthenticated"}, status_code=401)
            try:
                payload = json.loads(body)
                if not isinstance(payload, dict):
                    raise PayloadError("body must be a JSON object")
                alerts = parse(payload)
            except (json.JSONDecodeError, UnicodeDecodeError, PayloadError) as exc:
                log.warning("malformed payload to %s: %s", request.url.path, exc)
                return JSONResponse({"error": f"malformed payload: {exc}"}, status_code=400)
            steps: list[dict[str, Any]] = []
            for alert in alerts:
                if on_handled is not None:
                    on_handled(alert)
                steps.extend(record.as_dict() for record in runner.handle(alert))
            return JSONResponse({"alerts": len(alerts), "steps": steps})

        return handle

    return Starlette(
        routes=[
            Route("/hooks/kibana", endpoint(from_kibana), methods=["POST"]),
            Route("/hooks/splunk", endpoint(from_splunk), methods=["POST"]),
            Route("/hooks/alerts", endpoint(from_engine), methods=["POST"]),
        ]
    )
