"""Shared by the collect and metrics tests: start ``llmsiem collect`` and read what it wrote."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a JSONL file another process is still appending to."""
    if not path.exists():
        return []
    complete = path.read_text(encoding="utf-8").split("\n")[:-1]
    return [json.loads(line) for line in complete if line]


def wait_for(what: Callable[[], Any], seconds: float = 60, message: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {message or what}")


@dataclass
class CollectServer:
    url: str
    token: str
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def alerts(self) -> list[dict[str, Any]]:
        return read_jsonl(self.folder / "alerts.jsonl")

    def events(self) -> list[dict[str, Any]]:
        return read_jsonl(self.folder / "events.jsonl")

    def dead_letters(self) -> list[dict[str, Any]]:
        return read_jsonl(self.folder / "dead.jsonl")


def start_collect(folder: Path, *options: str) -> CollectServer:
    """``llmsiem collect`` on a free port with a token, a JSONL sink, alerts and dead letters."""
    token = secrets.token_urlsafe(24)
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("llmsiem")),
            "collect",
            "--port",
            str(port),
            "--to",
            f"jsonl={folder / 'events.jsonl'}",
            "--alerts",
            str(folder / "alerts.jsonl"),
            "--dead-letter",
            str(folder / "dead.jsonl"),
            *options,
        ],
        cwd=folder,
        env={**os.environ, "LLMSIEM_COLLECT_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = CollectServer(f"http://127.0.0.1:{port}", token, folder, process)

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"collect exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            return requests.get(f"{server.url}/metrics", headers=server.auth, timeout=2).ok
        except (requests.ConnectionError, requests.Timeout):
            return False

    wait_for(ready, 120, "collect to listen")
    return server


def otlp_json(trace: str, prompt: str) -> dict[str, Any]:
    now = time.time_ns()
    genai = {
        "traceId": trace,
        "spanId": "00f067aa0ba902b7",
        "name": "chat gpt-4o",
        "startTimeUnixNano": str(now),
        "endTimeUnixNano": str(now + 5_000_000),
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
            {
                "key": "gen_ai.input.messages",
                "value": {
                    "stringValue": json.dumps(
                        [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]
                    )
                },
            },
        ],
        "unknownFutureField": 1,
    }
    plain = {**genai, "spanId": "00f067aa0ba902b8", "name": "GET /", "attributes": []}
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]
                },
                "scopeSpans": [{"scope": {"name": "t"}, "spans": [genai, plain]}],
            }
        ]
    }
