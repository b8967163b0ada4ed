"""Response actions against real local servers: a LiteLLM proxy and an MLflow server."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from llmsiem.respond.config import RunnerConfig
from llmsiem.respond.playbook import load_playbooks
from llmsiem.respond.runner import Runner
from respond_helpers import AUDIT_KEY

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise TimeoutError(url)


def _alert(rule: str, **fields: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "event": {"kind": "alert", "id": secrets.token_hex(4)},
        "rule": {"id": rule, "name": rule},
        "tags": [],
        "llmsiem": {"alert": {"level": "high", "title": rule}},
    }
    for dotted, value in fields.items():
        *parents, leaf = dotted.split(".")
        node = alert
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return alert


@pytest.fixture
def litellm_proxy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    executable = Path(sys.executable).with_name("litellm")
    if not executable.exists():
        found = shutil.which("litellm")
        if found is None:
            pytest.skip("litellm[proxy] is not installed (pip install llmsiem[actions])")
        executable = Path(found)
    config = tmp_path / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: fake-model\n"
        "    litellm_params:\n"
        "      model: openai/fake-model\n"
        "      api_key: not-used\n"
        "      mock_response: hello from the mock model\n"
        "general_settings:\n"
        "  custom_auth: llmsiem.integrations.litellm_auth.user_api_key_auth\n"
    )
    enforcement = tmp_path / "enforcement.json"
    port = _free_port()
    env = {
        **os.environ,
        "LITELLM_MASTER_KEY": "sk-master-" + secrets.token_hex(16),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LLMSIEM_ENFORCEMENT_FILE": str(enforcement),
    }
    process = subprocess.Popen(
        [str(executable), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/health/liveliness", process)
        yield f"http://127.0.0.1:{port}", enforcement
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_revoked_key_gets_401_and_undo_restores_it(
    litellm_proxy: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, enforcement = litellm_proxy
    monkeypatch.setenv("LLMSIEM_ENFORCEMENT_FILE", str(enforcement))
    key = "sk-test-" + secrets.token_hex(8)

    def call() -> int:
        return requests.post(
            f"{url}/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        ).status_code

    assert call() == 200
    key_id = hashlib.sha256(key.encode()).hexdigest()[:16]
    runner = Runner(
        RunnerConfig(execute=True, state_dir=tmp_path / "state", approve_high_impact=False),
        load_playbooks(),
        audit_key=AUDIT_KEY,
    )
    records = runner.handle(
        _alert("correlation_token_burst_per_api_key", **{"llmsiem.api_key.id": key_id})
    )
    revoke = next(r for r in records if r.action == "revoke_key_local")
    assert revoke.status == "executed"
    assert call() == 401
    runner.undo(revoke.run_id, "tester")
    assert call() == 200
    assert runner.audit is not None and runner.audit.verify().problems == []


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    pytest.importorskip("mlflow", reason="mlflow is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--default-artifact-root",
            str(tmp_path / "art"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # litellm's remote cost-map retry thread deadlocks MLflow's import hooks when both
        # are installed; the bundled cost map avoids the thread (and the network).
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    try:
        _wait(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_prompt_alias_rollback_and_undo(
    mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("LLMSIEM_MLFLOW_URI", mlflow_server)
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    client.register_prompt("support-answer", "You are the ACME assistant. v1")
    client.register_prompt("support-answer", "You are the ACME assistant. v2 (unreviewed)")
    client.set_prompt_alias("support-answer", "production", 2)
    runner = Runner(
        RunnerConfig(execute=True, state_dir=tmp_path / "state", approve_high_impact=False),
        load_playbooks(),
        audit_key=AUDIT_KEY,
    )
    alert = _alert(
        "prompt_template_version_drift", **{"llmsiem.prompt.template.name": "support-answer"}
    )
    records = runner.handle(alert)
    rollback = next(r for r in records if r.action == "mlflow_rollback_prompt_alias")
    assert rollback.status == "executed", (rollback.detail, [r.as_dict() for r in records])
    assert int(client.get_prompt_version_by_alias("support-answer", "production").version) == 1
    runner.undo(rollback.run_id, "tester")
    assert int(client.get_prompt_version_by_alias("support-answer", "production").version) == 2
