"""The keyed audit chain and its head: tampering of every kind is detected; concurrent
writers and torn writes are handled."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llmsiem.respond.audit import AuditLog
from llmsiem.respond.step import Status
from respond_helpers import AUDIT_KEY, FlakyAction, make_alert, make_runner


def _log(tmp_path: Path, records: int = 200) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl", AUDIT_KEY)
    for n in range(records):
        log.append("decision", n=n)
    assert log.verify().problems == []
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines()


def _write(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("".join(line + "\n" for line in lines))


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _rehash(record: dict[str, Any], key: bytes) -> str:
    body = _dump({k: v for k, v in record.items() if k != "hash"}).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def test_editing_a_middle_record_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    record = json.loads(lines[50])
    record["n"] = 999
    lines[50] = _dump(record)
    _write(log, lines)
    assert [p.line for p in log.verify().problems][:1] == [51]


def test_editing_the_last_record_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    record = json.loads(lines[-1])
    record["n"] = 999
    lines[-1] = _dump(record)
    _write(log, lines)
    assert log.verify().problems


def test_deleting_the_last_record_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _write(log, _lines(log)[:-1])
    assert "head records 200" in log.verify().problems[0].message


def test_truncating_the_last_hundred_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _write(log, _lines(log)[:-100])
    assert "holds 100" in log.verify().problems[0].message


def test_a_forged_append_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    last = json.loads(lines[-1])
    forged = {**last, "n": "forged", "seq": last["seq"] + 1, "prev_hash": last["hash"]}
    forged["hash"] = _rehash(forged, b"a key that is not the audit key")
    _write(log, [*lines, _dump(forged)])
    assert log.verify().problems


def test_an_edit_with_recomputed_later_hashes_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path, 20)
    records = [json.loads(line) for line in _lines(log)]
    records[5]["n"] = "edited"
    previous = records[4]["hash"]
    for record in records[5:]:
        record["prev_hash"] = previous
        record["hash"] = previous = _rehash(record, b"attacker key without the real one")
    _write(log, [_dump(r) for r in records])
    assert [p.line for p in log.verify().problems][:1] == [6]


def test_a_missing_head_is_detected_and_a_rebuild_stays_visible(tmp_path: Path) -> None:
    log = _log(tmp_path, 5)
    log.head_path.unlink()
    assert "missing" in log.verify().problems[0].message
    log.append("decision", n="after")
    assert any("rebuilt" in p.message for p in log.verify().problems)


def test_a_torn_last_line_is_quarantined_never_fatal(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (FlakyAction,), execute=True)
    runner.handle(make_alert(alert_id="a-1", user="u-1"))
    assert runner.audit is not None
    with runner.audit.path.open("ab") as stream:
        stream.write(b'{"kind":"request","run_id":"half-writ')
    report = runner.audit.verify()
    assert report.problems == [] and "torn last line" in report.warnings[0]
    (record,) = runner.handle(make_alert(alert_id="a-2", user="u-2"))
    assert record.status is Status.EXECUTED
    report = runner.audit.verify()
    assert report.problems == [] and "quarantined" in report.warnings[0]
    assert b"half-writ" in runner.audit.torn_path.read_bytes()


WRITER = """
import sys
from pathlib import Path
from llmsiem.respond.config import RunnerConfig
from llmsiem.respond.playbook import load_playbooks
from llmsiem.respond.runner import Runner

state, name = Path(sys.argv[1]), sys.argv[2]
config = RunnerConfig(execute=True, state_dir=state, approve_high_impact=False,
                      per_action_limit=10_000, global_limit=10_000, dedup_seconds=0)
runner = Runner(config, load_playbooks(), actor=name, audit_key=sys.argv[3].encode())
for n in range(150):
    alert = {
        "event": {"kind": "alert", "id": f"{name}-{n}"},
        "rule": {"id": "r", "name": "correlation_guardrail_block_burst"},
        "user": {"id": f"{name}-user-{n}"},
        "llmsiem": {"alert": {"level": "high"}},
    }
    runner.handle(alert)
"""


def test_two_runner_processes_share_one_state_folder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env_file = tmp_path / "enforcement.json"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(state), name, AUDIT_KEY.decode()],
            stderr=subprocess.PIPE,
            env={"LLMSIEM_ENFORCEMENT_FILE": str(env_file), "PATH": "/usr/bin:/bin"},
        )
        for name in ("first", "second")
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr.decode()[-2000:]
    log = AuditLog(state / "audit.jsonl", AUDIT_KEY)
    report = log.verify()
    assert report.problems == [] and report.warnings == []
    records = log.records()
    requests = [r for r in records if r["kind"] == "request"]
    assert len(requests) == 300
    assert len(json.loads(env_file.read_text())["users"]) == 300
    writers = [r["actor"] for r in records if r["kind"] == "alert"]
    switches = sum(1 for a, b in itertools.pairwise(writers) if a != b)
    assert switches >= 2, "the two processes never wrote at the same time"


def test_cli_refuses_to_execute_without_the_key_and_verifies_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmsiem.cli.main import cli

    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text(json.dumps(make_alert()) + "\n")
    config = tmp_path / "respond.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n")
    monkeypatch.delenv("LLMSIEM_AUDIT_KEY", raising=False)
    refused = CliRunner().invoke(
        cli, ["respond", "run", str(alerts), "--execute", "--config", str(config)]
    )
    assert refused.exit_code == 2 and "LLMSIEM_AUDIT_KEY" in refused.output
    assert not (tmp_path / "state" / "audit.jsonl").exists()
    monkeypatch.setenv("LLMSIEM_AUDIT_KEY", AUDIT_KEY.decode())
    monkeypatch.setenv("LLMSIEM_ENFORCEMENT_FILE", str(tmp_path / "enforcement.json"))
    ran = CliRunner().invoke(
        cli, ["respond", "run", str(alerts), "--execute", "--config", str(config)]
    )
    assert ran.exit_code == 0, ran.output
    verify = ["respond", "audit", "verify", "--config", str(config)]
    assert CliRunner().invoke(cli, verify).exit_code == 0
    log = tmp_path / "state" / "audit.jsonl"
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:-1]))
    tampered = CliRunner().invoke(cli, verify)
    assert tampered.exit_code == 1 and "head records" in tampered.output
