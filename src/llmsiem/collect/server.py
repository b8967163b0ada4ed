"""``llmsiem collect``'s HTTP side: OTLP/HTTP, LiteLLM's generic API logger, ``/metrics``.

Routes: ``POST /v1/traces`` and ``POST /v1/logs`` (OTLP/HTTP, protobuf or JSON, optionally
gzip), ``POST /v1/litellm`` (``StandardLoggingPayload`` batches) and ``GET /metrics``.
``AccessGuard`` is raw ASGI around them: it answers 401 from the headers alone (bearer
token compared in constant time; with mTLS the TLS handshake has already checked the
client certificate), 503 with ``Retry-After`` when the queue is full, and 413 for a
declared or actual body over the cap, all before any body byte is read (uvicorn reads at
most its 64 KiB high-water mark until the app asks). Error bodies are ``google.rpc.Status``
in the request's encoding, as the OTLP/HTTP specification says; successes carry
``Export*ServiceResponse``, with ``partial_success`` counting the spans or log records that
went to the dead letter and why the first one did.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.datastructures import Headers
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
from llmsiem.collect import litellm, otlp
from llmsiem.collect.otlp import JSON, PROTOBUF, BodyError
from llmsiem.collect.worker import (
    Collector,
    Outcome,
    QueueFullError,
    RequestTooLargeError,
    SinkUnavailableError,
)

log = logging.getLogger("llmsiem.collect")
MAX_BODY_BYTES = 8 * 1024 * 1024
INGEST_PATHS = frozenset({"/v1/traces", "/v1/logs", "/v1/litellm"})
# google.rpc.Code values
INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE, UNAUTHENTICATED = 3, 8, 14, 16
UNIMPLEMENTED, INTERNAL = 12, 13


@dataclass(frozen=True)
class Settings:
    """What the receiver enforces. An empty ``token`` means no bearer token is required
    (the command allows that only with mTLS or an explicit ``--no-auth`` on loopback)."""

    token: str = ""
    max_body_bytes: int = MAX_BODY_BYTES
    retry_after_seconds: int = 2


class RefusedError(Exception):
    def __init__(self, status: int, code: int, message: str, retry: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry = retry


def _encoding_of(headers: Headers) -> str:
    return otlp.media_type(headers.get("content-type", "")) or JSON


def refusal_response(refusal: RefusedError, kind: str) -> Response:
    headers = {"Retry-After": str(refusal.retry)} if refusal.retry else {}
    if refusal.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return Response(
        otlp.status_body(refusal.code, refusal.message, kind),
        status_code=refusal.status,
        media_type=kind,
        headers=headers,
    )


class AccessGuard:
    """Authentication, back-pressure and the body cap, from headers, before the body."""

    def __init__(self, app: ASGIApp, collector: Collector, settings: Settings) -> None:
        self.app = app
        self.collector = collector
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            self._authenticate(headers)
            if scope["path"] in INGEST_PATHS:
                if self.collector.full:
                    raise RefusedError(
                        503,
                        UNAVAILABLE,
                        "the collector's queue is full; retry later",
                        self.settings.retry_after_seconds,
                    )
                body = await self._read_body(headers, receive)
            else:
                body = b""
        except RefusedError as refusal:
            if refusal.status != 503:
                log.warning("refused request to %s: %s", scope["path"], refusal.message)
            await refusal_response(refusal, _encoding_of(headers))(scope, receive, send)
            return
        await forward_with_body(self.app, scope, body, send)

    def _authenticate(self, headers: Headers) -> None:
        if not self.settings.token:
            return
        presented = headers.get("authorization", "")
        scheme, _, credential = presented.partition(" ")
        if not (
            scheme.lower() == "bearer"
            and credential
            and hmac.compare_digest(credential.strip().encode(), self.settings.token.encode())
        ):
            raise RefusedError(401, UNAUTHENTICATED, "unauthenticated")

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes:
        try:
            return await read_capped_body(headers, receive, self.settings.max_body_bytes)
        except BodyTooLargeError as exc:
            raise RefusedError(413, RESOURCE_EXHAUSTED, str(exc)) from None
        except ClientGoneError as exc:
            raise RefusedError(400, INVALID_ARGUMENT, str(exc)) from None


def decompress(body: bytes, encoding: str, cap: int) -> bytes:
    """The body without its Content-Encoding (identity or gzip), at most ``cap`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise RefusedError(415, INVALID_ARGUMENT, f"Content-Encoding {encoding!r} (use gzip)")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        plain = inflater.decompress(body, cap + 1)
    except zlib.error as exc:
        raise RefusedError(400, INVALID_ARGUMENT, f"not gzip: {exc}") from None
    if len(plain) > cap or inflater.unconsumed_tail:
        raise RefusedError(413, RESOURCE_EXHAUSTED, f"body over {cap} bytes once decompressed")
    return plain


def _otlp_records(signal: str, body: bytes, kind: str) -> list[dict[str, Any]]:
    if signal == "traces":
        traces = ExportTraceServiceRequest()
        otlp.decode(body, kind, traces)
        return otlp.span_records(traces)
    logs = ExportLogsServiceRequest()
    otlp.decode(body, kind, logs)
    return otlp.log_records(logs)


async def _collect(
    collector: Collector,
    settings: Settings,
    request: Request,
    parse: Callable[[bytes], list[dict[str, Any]]],
    source: str,
    source_format: str,
) -> Outcome:
    """Decode, queue and wait for one request's outcome; RefusedError on any failure."""
    body = decompress(
        await request.body(), request.headers.get("content-encoding", ""), settings.max_body_bytes
    )
    try:
        records = await anyio.to_thread.run_sync(parse, body)
    except BodyError as exc:
        raise RefusedError(400, INVALID_ARGUMENT, str(exc)) from None
    if not records:
        return Outcome(0, 0)
    try:
        future = collector.submit(source, source_format, records, source == "otlp-logs")
    except QueueFullError as exc:
        raise RefusedError(503, UNAVAILABLE, str(exc), settings.retry_after_seconds) from None
    except RequestTooLargeError as exc:
        raise RefusedError(413, RESOURCE_EXHAUSTED, str(exc)) from None
    try:
        return await asyncio.wrap_future(future)
    except SinkUnavailableError as exc:
        raise RefusedError(
            503, UNAVAILABLE, f"sink unavailable: {exc}", settings.retry_after_seconds
        ) from None
    except Exception:
        raise RefusedError(
            500, INTERNAL, "the batch could not be processed (see the log)"
        ) from None


def create_app(collector: Collector, settings: Settings) -> Starlette:
    """The receiver; starting it starts the collector's worker, stopping it drains the queue."""

    def otlp_endpoint(signal: str) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            kind = otlp.media_type(request.headers.get("content-type", ""))
            try:
                if kind is None:
                    raise RefusedError(
                        415, INVALID_ARGUMENT, f"Content-Type must be {PROTOBUF} or {JSON}"
                    )
                outcome = await _collect(
                    collector,
                    settings,
                    request,
                    lambda body: _otlp_records(signal, body, kind),
                    f"otlp-{signal}",
                    "otlp",
                )
            except RefusedError as refusal:
                return refusal_response(refusal, kind or JSON)
            body = otlp.export_response(signal, outcome.rejected, outcome.reason, kind)
            return Response(body, media_type=kind)

        return handle

    async def litellm_endpoint(request: Request) -> Response:
        try:
            outcome = await _collect(
                collector, settings, request, litellm.payloads, "litellm", "litellm"
            )
        except RefusedError as refusal:
            return refusal_response(refusal, JSON)
        return JSONResponse(
            {"accepted": outcome.accepted, "rejected": outcome.rejected, "error": outcome.reason}
        )

    async def metrics_endpoint(request: Request) -> Response:
        return Response(collector.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        collector.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(collector.stop)

    app = Starlette(
        routes=[
            Route("/v1/traces", otlp_endpoint("traces"), methods=["POST"]),
            Route("/v1/logs", otlp_endpoint("logs"), methods=["POST"]),
            Route("/v1/litellm", litellm_endpoint, methods=["POST"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(AccessGuard, collector=collector, settings=settings)
    return app
