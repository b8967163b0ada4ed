"""A request body read by an ASGI middleware that must check it before the app runs.

``collect`` and ``respond serve`` authenticate from the headers first, then read the body
under a size cap (refused from ``Content-Length`` or as soon as the bytes pass it), then
hand the app that body as if it were arriving: one ``http.request`` message.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLargeError(Exception):
    """The body is over the cap (declared or read)."""


class ClientGoneError(Exception):
    """The client disconnected before the whole body arrived."""


async def read_capped_body(headers: Headers, receive: Receive, cap: int) -> bytes:
    """The whole body, never holding more than ``cap`` + one message of it."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLargeError(f"body over {cap} bytes")
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError("client disconnected")
        body += message.get("body", b"")
        if len(body) > cap:
            raise BodyTooLargeError(f"body over {cap} bytes")
        if not message.get("more_body", False):
            return bytes(body)


async def forward_with_body(app: ASGIApp, scope: Scope, body: bytes, send: Send) -> None:
    """Run ``app`` on a body already read: it receives it whole, then a disconnect."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    await app(scope, replay, send)
