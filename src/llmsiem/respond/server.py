"""``llmsiem respond serve``: authenticated webhook receiver (Starlette, run by uvicorn).

Routes: ``POST /hooks/kibana``, ``/hooks/splunk``, ``/hooks/alerts`` (engine alerts).
Authentication, compared in constant time:
- ``X-Llmsiem-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` with
  the timestamp inside a 5-minute window, each signature accepted once; or
- ``Authorization: Bearer <token>`` (Kibana's webhook connector sets static headers); or
- ``?token=<token>`` (Splunk's webhook action can only call a URL; the access log shows
  query strings redacted).

``RequestGuard`` is raw ASGI around the routes: it answers 401 from the headers alone,
before any body byte is read, and 413 for a declared or actual body over the cap. It
relies on uvicorn's h11 protocol (``protocols/http/h11_impl.py``) reading at most its
64 KiB high-water mark until the app calls ``receive``, and discarding the rest of a body
once the response is complete; so an unauthenticated request costs no more memory than
that. Alerts are parsed, validated (``respond.alert``) and acted on in a worker thread, so
a large batch or a slow target never delays another request; a malformed alert gets 400
with the reason and nothing of its request is acted on or audited.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from llmsiem.asgi_body import (
    BodyTooLargeError,
    ClientGoneError,
    forward_with_body,
    read_capped_body,
)
from llmsiem.respond.alert import AlertError, check_alert
from llmsiem.respond.runner import Runner
from llmsiem.respond.webhooks import PayloadError, from_engine, from_kibana, from_splunk

log = logging.getLogger("llmsiem.respond")
WINDOW_SECONDS = 300
MAX_BODY_BYTES = 1_000_000
MAX_ALERTS = 1000
Parser = Callable[[dict[str, Any]], list[dict[str, Any]]]


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for a body (what senders compute)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


class RequestRefusedError(Exception):
    """A request answered with an error status; ``reason`` goes back to the sender."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Signature:
    stamp: int
    digest: str


class RequestGuard:
    """Authenticates from headers, caps the body, checks signatures once; raw ASGI."""

    def __init__(
        self, app: ASGIApp, runner: Runner, secret: str, token: str, max_body_bytes: int
    ) -> None:
        self.app = app
        self.runner = runner
        self.secret = secret
        self.token = token
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            signature = self._authenticate(scope)
            body = await self._read_body(scope, receive)
            if signature is not None:
                self._check_signature(signature, body)
        except RequestRefusedError as refusal:
            log.warning("refused request to %s: %s", scope["path"], refusal.reason)
            response = JSONResponse({"error": refusal.reason}, status_code=refusal.status)
            await response(scope, receive, send)
            return
        await forward_with_body(self.app, scope, body, send)

    def _authenticate(self, scope: Scope) -> Signature | None:
        """Check credentials from headers alone; the signature still to verify on the body."""
        headers = Headers(scope=scope)
        header = headers.get("x-llmsiem-signature", "")
        if header and self.secret:
            parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
            try:
                signature = Signature(int(parts.get("t", "")), parts.get("v1", ""))
            except ValueError:
                raise RequestRefusedError(401, "unauthenticated") from None
            if abs(time.time() - signature.stamp) > WINDOW_SECONDS:
                raise RequestRefusedError(
                    401, "unauthenticated: signature outside the 5-minute window"
                )
            if self.runner.store.signature_seen(signature.digest):
                raise RequestRefusedError(401, "unauthenticated: signature already used (replay)")
            return signature
        bearer = headers.get("authorization", "")
        if bearer.startswith("Bearer "):
            presented = bearer[7:]
        else:
            presented = QueryParams(scope["query_string"]).get("token", "")
        if not (self.token and presented and hmac.compare_digest(presented, self.token)):
            raise RequestRefusedError(401, "unauthenticated")
        return None

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        try:
            return await read_capped_body(Headers(scope=scope), receive, self.max_body_bytes)
        except BodyTooLargeError as exc:
            raise RequestRefusedError(413, str(exc)) from None
        except ClientGoneError as exc:
            raise RequestRefusedError(400, str(exc)) from None

    def _check_signature(self, signature: Signature, body: bytes) -> None:
        expected = sign(self.secret, body, signature.stamp).split("v1=", 1)[1]
        if not hmac.compare_digest(expected, signature.digest):
            raise RequestRefusedError(401, "unauthenticated")
        if not self.runner.store.claim_signature(
            signature.digest, signature.stamp + WINDOW_SECONDS
        ):
            raise RequestRefusedError(401, "unauthenticated: signature already used (replay)")


def parse_alerts(parse: Parser, body: bytes, max_alerts: int) -> list[dict[str, Any]]:
    """Every alert of a request, validated; RequestRefusedError (400/413) on the first problem."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise RequestRefusedError(400, "malformed payload: nested too deep") from None
    except ValueError as exc:
        raise RequestRefusedError(400, f"malformed payload: {exc}") from None
    if not isinstance(payload, dict):
        raise RequestRefusedError(400, "malformed payload: body must be a JSON object")
    try:
        alerts = parse(payload)
    except PayloadError as exc:
        raise RequestRefusedError(400, f"malformed payload: {exc}") from None
    if len(alerts) > max_alerts:
        raise RequestRefusedError(
            413, f"{len(alerts)} alerts in one request; the limit is {max_alerts}"
        )
    checked = []
    for number, alert in enumerate(alerts):
        try:
            checked.append(check_alert(alert))
        except AlertError as exc:
            raise RequestRefusedError(400, f"malformed alert {number}: {exc}") from None
    return checked


def access_log_config() -> dict[str, Any]:
    """uvicorn's logging config with query strings (``?token=``) cut from the access log."""
    import uvicorn.config

    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"redact_query": {"()": RedactQueryString}}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_query"]
    return config


class RedactQueryString(logging.Filter):
    """Replaces the query string of uvicorn's access-log path argument."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and "?" in str(args[2]):
            path = str(args[2]).split("?", 1)[0]
            record.args = (*args[:2], f"{path}?[redacted]", *args[3:])
        return True


def create_app(
    runner: Runner,
    secret: str,
    token: str,
    on_handled: Callable[[dict[str, Any]], None] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_alerts: int = MAX_ALERTS,
) -> Starlette:
    """The webhook application; ``on_handled`` observes each alert as its handling starts."""
    if not secret and not token:
        raise ValueError("set a webhook secret or token: unauthenticated receivers are refused")

    def process(parse: Parser, body: bytes) -> Response:
        try:
            alerts = parse_alerts(parse, body, max_alerts)
        except RequestRefusedError as refusal:
            log.warning("refused payload: %s", refusal.reason)
            return JSONResponse({"error": refusal.reason}, status_code=refusal.status)
        steps: list[dict[str, Any]] = []
        for alert in alerts:
            if on_handled is not None:
                on_handled(alert)
            steps.extend(record.as_dict() for record in runner.handle(alert))
        return JSONResponse({"alerts": len(alerts), "steps": steps})

    def endpoint(parse: Parser) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            body = await request.body()
            return await anyio.to_thread.run_sync(process, parse, body)

        return handle

    return Starlette(
        routes=[
            Route("/hooks/kibana", endpoint(from_kibana), methods=["POST"]),
            Route("/hooks/splunk", endpoint(from_splunk), methods=["POST"]),
            Route("/hooks/alerts", endpoint(from_engine), methods=["POST"]),
        ],
        middleware=[
            Middleware(
                RequestGuard,
                runner=runner,
                secret=secret,
                token=token,
                max_body_bytes=max_body_bytes,
            )
        ],
    )
