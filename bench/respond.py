"""Benchmark of the response path: webhook latency and the effect of dedup under a storm.

    python bench/respond.py [--alerts 1000] [--storm 10000]

1. Alert-to-action-start latency, p50 and p99, for signed alerts POSTed over loopback HTTP
   to the uvicorn-served receiver (time from sending the request to the runner starting
   the alert's playbooks), dry-run.
2. An alert storm for one user: how many response actions actually ran (execute mode,
   local enforcement list only), with deduplication and rate limits on.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
import uvicorn
from starlette.testclient import TestClient

from llmsiem.respond.config import RunnerConfig
from llmsiem.respond.playbook import load_playbooks
from llmsiem.respond.runner import Runner
from llmsiem.respond.server import create_app, sign

SECRET = "bench-secret"
AUDIT_KEY = b"bench-audit-key-0123456789"


def alert(n: int, user: str) -> dict[str, Any]:
    return {
        "event": {"kind": "alert", "id": f"bench-{n}"},
        "rule": {
            "id": "correlation_guardrail_block_burst",
            "name": "correlation_guardrail_block_burst",
        },
        "tags": ["owasp.llm01"],
        "user": {"id": user},
        "llmsiem": {"alert": {"level": "high", "title": "Guardrail Block Burst Per User"}},
    }


def latency(count: int, state: Path) -> list[float]:
    sent: dict[str, float] = {}
    started: list[float] = []

    def on_handled(item: dict[str, Any]) -> None:
        started.append(time.perf_counter() - sent[item["event"]["id"]])

    runner = Runner(RunnerConfig(state_dir=state), load_playbooks(), "bench", AUDIT_KEY)
    app = create_app(runner, SECRET, "", on_handled=on_handled)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    session = requests.Session()
    url = f"http://127.0.0.1:{port}/hooks/alerts"
    for n in range(count):
        body = json.dumps(alert(n, f"u-{n}")).encode()
        headers = {"X-Llmsiem-Signature": sign(SECRET, body), "Content-Type": "application/json"}
        sent[f"bench-{n}"] = time.perf_counter()
        session.post(url, data=body, headers=headers, timeout=30).raise_for_status()
    server.should_exit = True
    thread.join(timeout=10)
    return started


def storm(count: int, state: Path) -> tuple[int, int]:
    os.environ["LLMSIEM_ENFORCEMENT_FILE"] = str(state / "enforcement.json")
    config = RunnerConfig(execute=True, state_dir=state, approve_high_impact=False)
    runner = Runner(config, load_playbooks(), "bench", AUDIT_KEY)
    client = TestClient(create_app(runner, SECRET, ""))
    executed = 0
    for n in range(count):
        body = json.dumps(alert(n, "u-storm")).encode()
        response = client.post(
            "/hooks/alerts", content=body, headers={"X-Llmsiem-Signature": sign(SECRET, body)}
        )
        executed += sum(1 for step in response.json()["steps"] if step["status"] == "executed")
    assert runner.audit is not None
    requests_made = sum(1 for r in runner.audit.records() if r["kind"] == "request")
    return executed, requests_made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--storm", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        times = sorted(latency(args.alerts, Path(scratch) / "latency"))
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        print(
            f"webhook alert-to-action-start over {len(times)} alerts: "
            f"p50 {statistics.median(times) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms"
        )
        started = time.perf_counter()
        executed, requests_made = storm(args.storm, Path(scratch) / "storm")
        print(
            f"alert storm: {args.storm:,} alerts for one user in "
            f"{time.perf_counter() - started:.1f}s -> {executed} action(s) executed "
            f"({requests_made} audited requests); the rest deduplicated"
        )


if __name__ == "__main__":
    main()
