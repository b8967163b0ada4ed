"""The webhook receiver: authentication, replays, limits, validation, isolation, logs."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from starlette.testclient import TestClient

from llmsiem.respond.action import Action, Outcome, Plan
from llmsiem.respond.actions.local import EnforcementList
from llmsiem.respond.config import RunnerConfig
from llmsiem.respond.playbook import Playbook, Trigger, load_playbooks
from llmsiem.respond.runner import Runner
from llmsiem.respond.server import access_log_config, create_app, sign
from respond_helpers import AUDIT_KEY, make_alert

SECRET, TOKEN = "s3cret-for-tests", "t0ken-for-tests"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    runner = Runner(RunnerConfig(state_dir=tmp_path / "state"), load_playbooks(), "hook", AUDIT_KEY)
    return TestClient(create_app(runner, SECRET, TOKEN))


def _kibana_body() -> dict[str, Any]:
    return {
        "context": {
            "rule": {"rule_id": "ef6ee2ae-009e-5e6f-b82d-8634f454e441", "name": "llmsiem: x"},
            "alerts": [{"user": {"id": "u-13"}, "event": {"id": "e-9"}, "kibana.alert.uuid": "k1"}],
        }
    }


def test_unauthenticated_requests_get_401_and_change_nothing(
    client: TestClient, tmp_path: Path
) -> None:
    body = json.dumps(_kibana_body()).encode()
    assert client.post("/hooks/kibana", content=body).status_code == 401
    bearer = {"Authorization": "Bearer nope"}
    assert client.post("/hooks/kibana", content=body, headers=bearer).status_code == 401
    stale = {"X-Llmsiem-Signature": sign(SECRET, body, int(time.time()) - 3600)}
    assert client.post("/hooks/kibana", content=body, headers=stale).status_code == 401
    forged = {"X-Llmsiem-Signature": sign("other-secret", body)}
    assert client.post("/hooks/kibana", content=body, headers=forged).status_code == 401
    assert not (tmp_path / "state" / "audit.jsonl").exists()


def test_signed_kibana_webhook_runs_playbooks(client: TestClient) -> None:
    body = json.dumps(_kibana_body()).encode()
    response = client.post(
        "/hooks/kibana", content=body, headers={"X-Llmsiem-Signature": sign(SECRET, body)}
    )
    assert response.status_code == 200
    steps = response.json()["steps"]
    assert any(s["playbook"] == "block_user" and s["principal"] == "u-13" for s in steps)


def test_splunk_webhook_with_query_token(client: TestClient) -> None:
    body = {
        "sid": "scheduler_x",
        "search_name": "Guardrail Block Burst Per User",
        "app": "llmsiem",
        "owner": "nobody",
        "results_link": "https://splunk.test/app/search",
        "result": {"user.id": "u-13"},
    }
    response = client.post(f"/hooks/splunk?token={TOKEN}", json=body)
    assert response.status_code == 200 and response.json()["alerts"] == 1


def test_malformed_bodies_get_400_with_reason(client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    bad = client.post("/hooks/kibana", content=b"{not json", headers=headers)
    assert bad.status_code == 400 and "malformed" in bad.json()["error"]
    missing = client.post("/hooks/splunk", json={"sid": "x"}, headers=headers)
    assert missing.status_code == 400 and "search_name" in missing.json()["error"]
    unknown = client.post(
        "/hooks/splunk", json={"search_name": "Not Ours", "result": {}}, headers=headers
    )
    assert unknown.status_code == 400 and "unknown rule" in unknown.json()["error"]


# -- hardening -------------------------------------------------------------------------------


def _engine_alert(alert_id: str = "e-1", **changes: Any) -> dict[str, Any]:
    alert = make_alert(rule="correlation_token_burst_per_api_key", alert_id=alert_id)
    alert.update(changes)
    return alert


def _bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


class CountingReceive:
    """An ASGI ``receive`` that serves an endless body and counts what was read."""

    def __init__(self, chunk: bytes = b"x" * 65536) -> None:
        self.chunk = chunk
        self.calls = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls > 100:
            raise AssertionError("the receiver read 6.5 MB of an endless body")
        return {"type": "http.request", "body": self.chunk, "more_body": True}


def _call(app: Any, headers: dict[str, str], receive: CountingReceive, query: str = "") -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/hooks/alerts",
        "raw_path": b"/hooks/alerts",
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8787),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


def _runner(tmp_path: Path, **config: Any) -> Runner:
    settings = {"state_dir": tmp_path / "state", **config}
    return Runner(RunnerConfig(**settings), load_playbooks(), "hook", AUDIT_KEY)


def test_authentication_happens_before_the_body_is_read(tmp_path: Path) -> None:
    app = create_app(_runner(tmp_path), SECRET, TOKEN)
    stale = sign(SECRET, b"{}", int(time.time()) - 3600)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-Llmsiem-Signature": stale}):
        receive = CountingReceive()
        assert _call(app, headers, receive) == 401
        assert receive.calls == 0, headers


def test_bodies_over_the_cap_get_413_without_being_read_whole(tmp_path: Path) -> None:
    app = create_app(_runner(tmp_path), SECRET, TOKEN, max_body_bytes=1_000_000)
    declared = CountingReceive()
    headers = {**_bearer(), "Content-Length": str(250_000_000)}
    assert _call(app, headers, declared) == 413 and declared.calls == 0
    endless = CountingReceive()
    assert _call(app, _bearer(), endless) == 413
    assert endless.calls * 65536 <= 1_000_000 + 65536


def test_more_alerts_than_the_cap_get_413_and_nothing_is_audited(tmp_path: Path) -> None:
    client = TestClient(create_app(_runner(tmp_path), SECRET, TOKEN, max_alerts=10))
    alerts = [_engine_alert(f"e-{n}") for n in range(11)]
    response = client.post("/hooks/alerts", json={"alerts": alerts}, headers=_bearer())
    assert response.status_code == 413 and "10" in response.json()["error"]
    assert not (tmp_path / "state" / "audit.jsonl").exists()


def test_a_replayed_signature_is_refused(client: TestClient) -> None:
    body = json.dumps(_kibana_body()).encode()
    headers = {"X-Llmsiem-Signature": sign(SECRET, body)}
    assert client.post("/hooks/kibana", content=body, headers=headers).status_code == 200
    replay = client.post("/hooks/kibana", content=body, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]


def test_a_replay_after_undo_does_not_act_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enforcement = tmp_path / "enforcement.json"
    monkeypatch.setenv("LLMSIEM_ENFORCEMENT_FILE", str(enforcement))
    runner = _runner(tmp_path, execute=True, approve_high_impact=False, dedup_seconds=0)
    client = TestClient(create_app(runner, SECRET, TOKEN))
    body = json.dumps(_engine_alert("e-replay")).encode()
    first = client.post("/hooks/alerts", content=body, headers=_bearer()).json()["steps"]
    revoke = next(s for s in first if s["ref"] == "revoke_api_key/revoke_key_local")
    assert revoke["status"] == "executed"
    assert EnforcementList(enforcement).contains("keys", "key-7")
    runner.undo(revoke["run_id"], "analyst")
    assert not EnforcementList(enforcement).contains("keys", "key-7")
    again = client.post("/hooks/alerts", content=body, headers=_bearer())
    assert again.status_code == 200
    assert {s["status"] for s in again.json()["steps"]} == {"replayed"}
    assert not EnforcementList(enforcement).contains("keys", "key-7")


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"alerts": 5}, "list"),
        (_engine_alert(rule="x"), "rule"),
        (_engine_alert(llmsiem={"alert": {"level": "severe"}}), "level"),
        (_engine_alert(tags=5), "tags"),
        (_engine_alert(llmsiem={"api_key": {"id": {"x": 1}}}), "api_key.id"),
        (_engine_alert(user={"id": ["u", {"x": 1}]}), "user.id"),
        (_engine_alert(extra=_nested(10_000)), "nested"),
        ([1, 2], "object"),
    ],
    ids=[
        "alerts-5",
        "rule-x",
        "unknown-level",
        "tags-5",
        "key-object",
        "user-list",
        "deep",
        "list",
    ],
)
def test_malformed_alerts_get_400_with_the_reason_and_nothing_is_audited(
    tmp_path: Path, body: Any, reason: str
) -> None:
    client = TestClient(create_app(_runner(tmp_path, execute=True), SECRET, TOKEN))
    content = _deep_json(body) if reason == "nested" else json.dumps(body)
    response = client.post("/hooks/alerts", content=content, headers=_bearer())
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    assert not (tmp_path / "state" / "audit.jsonl").exists()


def _deep_json(body: dict[str, Any]) -> str:
    """JSON nested 10,000 deep, written without recursion."""
    head = json.dumps({k: v for k, v in body.items() if k != "extra"})[:-1]
    return head + ', "extra": ' + '{"a": ' * 10_000 + '"x"' + "}" * 10_000 + "}"


class Server:
    """The app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=access_log_config()
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_an_unauthenticated_request_gets_its_401_fast_during_a_large_batch(
    tmp_path: Path,
) -> None:
    app = create_app(_runner(tmp_path), SECRET, TOKEN, max_alerts=5000, max_body_bytes=10_000_000)
    batch = {"alerts": [_engine_alert(f"e-{n}") for n in range(5000)]}
    with Server(app) as url:
        results: list[requests.Response] = []
        worker = threading.Thread(
            target=lambda: results.append(
                requests.post(f"{url}/hooks/alerts", json=batch, headers=_bearer(), timeout=300)
            )
        )
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive(), "the batch finished too soon to test anything"
        started = time.perf_counter()
        rejected = requests.post(f"{url}/hooks/alerts", json={}, timeout=30)
        waited = time.perf_counter() - started
        assert worker.is_alive(), "the batch finished before the 401: nothing was measured"
        worker.join(timeout=300)
    assert rejected.status_code == 401 and waited < 0.5
    assert results[0].status_code == 200 and results[0].json()["alerts"] == 5000


class NeverAnswers(Action):
    """A target whose every call hangs until released."""

    name = "never_answers"
    impact = "low"
    release = threading.Event()

    def principal(self, inputs: dict[str, str]) -> str:
        return inputs["user"]

    def plan(self, inputs: dict[str, str]) -> Plan:
        type(self).release.wait()
        return Plan(self.name, inputs["user"], {}, {"done": True}, self.impact)

    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        return Outcome({})


def test_a_target_that_never_answers_does_not_freeze_the_receiver(tmp_path: Path) -> None:
    playbook = Playbook(
        id="stuck",
        title="Stuck",
        trigger=Trigger(rules=("correlation_guardrail_block_burst",), min_level="high"),
        inputs={"user": "user.id"},
        steps=(NeverAnswers,),
    )
    config = RunnerConfig(state_dir=tmp_path / "state", call_timeout_seconds=2.0)
    app = create_app(Runner(config, [playbook], "hook", AUDIT_KEY), SECRET, TOKEN)
    try:
        with Server(app) as url:
            results: list[requests.Response] = []
            stuck = threading.Thread(
                target=lambda: results.append(
                    requests.post(
                        f"{url}/hooks/alerts", json=make_alert(), headers=_bearer(), timeout=60
                    )
                )
            )
            stuck.start()
            time.sleep(0.3)
            started = time.perf_counter()
            other = requests.post(
                f"{url}/hooks/alerts",
                json=make_alert(level="low", alert_id="a-2"),
                headers=_bearer(),
                timeout=30,
            )
            waited = time.perf_counter() - started
            stuck.join(timeout=30)
    finally:
        NeverAnswers.release.set()
    assert other.status_code == 200 and waited < 0.5
    (step,) = results[0].json()["steps"]
    assert step["status"] == "failed" and "no answer within 2s" in step["detail"]


def test_tokens_never_reach_the_access_log(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    app = create_app(_runner(tmp_path), SECRET, TOKEN)
    body = {
        "search_name": "Guardrail Block Burst Per User",
        "result": {"user.id": "u-13"},
    }
    with Server(app) as url:
        ok = requests.post(f"{url}/hooks/splunk?token={TOKEN}", json=body, timeout=30)
        bad = requests.post(f"{url}/hooks/splunk?token=wrong-{TOKEN}", json=body, timeout=30)
    assert ok.status_code == 200 and bad.status_code == 401
    out, err = capfd.readouterr()
    assert "/hooks/splunk?[redacted]" in out + err
    assert TOKEN not in out + err
