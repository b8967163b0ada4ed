"""``llmsiem detect``: batch and follow modes, alerts, dead letters, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from llmsiem.cli.main import cli
from llmsiem.resources import demo_telemetry
from llmsiem.synthetic import Generator


def _jsonl(path: Path, events: list[dict[str, Any]], extra: list[bytes] = ()) -> Path:  # type: ignore[assignment]
    with path.open("wb") as out:
        for event in events:
            out.write(json.dumps(event).encode() + b"\n")
        for line in extra:
            out.write(line + b"\n")
    return path


def test_detect_demo_telemetry_raises_ecs_alerts(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    result = CliRunner().invoke(
        cli, ["detect", str(demo_telemetry()), "--alerts", str(alerts), "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["rejected"] == 0 and summary["events"] > 500
    docs = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert len(docs) == summary["alerts"]
    names = {d["rule"]["name"] for d in docs}
    assert {"correlation_injection_then_sensitive_tool", "tool_sensitive_file_access"} <= names
    sample = next(d for d in docs if d["rule"]["name"] == "tool_sensitive_file_access")
    assert sample["event"]["kind"] == "alert"
    assert sample["user"]["id"] and sample["llmsiem"]["api_key"]["id"]
    assert sample["llmsiem"]["alert"]["event_ids"]
    burst = next(d for d in docs if d["rule"]["name"] == "correlation_guardrail_block_burst")
    assert burst["llmsiem"]["alert"]["correlation"]["group_by"] == {"user.id": "u-0013"}


def _alerts_in_zone(zone: str, tmp_path: Path) -> list[dict[str, Any]]:
    """The alerts of ``llmsiem detect`` on the demo telemetry, run with ``TZ=zone``,
    without the time each was made."""
    name = zone.replace("/", "-")
    alerts, dead = tmp_path / f"alerts-{name}.jsonl", tmp_path / f"dead-{name}.jsonl"
    command = [sys.executable, "-m", "llmsiem", "detect", str(demo_telemetry())]
    done = subprocess.run(
        [*command, "--alerts", str(alerts), "--dead-letter", str(dead), "--format", "json"],
        env={**os.environ, "TZ": zone},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    docs = [json.loads(line) for line in alerts.read_text(encoding="utf-8").splitlines()]
    for doc in docs:
        del doc["event"]["created"]
    return docs


def test_alert_times_are_the_events_instants_whatever_the_machine_time_zone(
    tmp_path: Path,
) -> None:
    """DuckDB formats times in its session's zone, which is the machine's unless set: an
    alert of one event carries that event's instant, in UTC, under any ``TZ``."""
    events = {
        e["event"]["id"]: datetime.fromisoformat(e["@timestamp"])
        for e in map(json.loads, demo_telemetry().read_text(encoding="utf-8").splitlines())
    }
    utc = _alerts_in_zone("UTC", tmp_path)
    single = [d for d in utc if len(d["llmsiem"]["alert"]["event_ids"]) == 1]
    assert len(single) > 10
    for doc in single:
        (event_id,) = doc["llmsiem"]["alert"]["event_ids"]
        assert datetime.fromisoformat(doc["@timestamp"]) == events[event_id], doc["rule"]
    for zone in ("America/New_York", "Asia/Kolkata"):
        assert _alerts_in_zone(zone, tmp_path) == utc, zone


def test_detect_clean_input_exits_zero(tmp_path: Path) -> None:
    generator = Generator(seed=3)
    for _ in range(5):
        generator.benign_exchange(generator.identity("u-0002"))
    path = _jsonl(tmp_path / "benign.jsonl", generator.events)
    result = CliRunner().invoke(
        cli, ["detect", str(path), "--alerts", str(tmp_path / "a.jsonl"), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["alerts"] == 0


def test_the_summary_says_how_many_events_took_the_per_record_path(tmp_path: Path) -> None:
    """A finding inside a free-form object sends its row through the per-record pipeline,
    several times slower: the summary counts those rows and says so past a tenth."""
    generator = Generator(seed=3)
    while len(generator.events) < 100:
        generator.benign_exchange()
    flat = generator.events[:100]
    for event in flat[:30]:
        event["labels"] = {"contact": "write to dana.whitfield@example.com"}
    path = _jsonl(tmp_path / "events.jsonl", flat)
    alerts = str(tmp_path / "alerts.jsonl")
    machine = CliRunner().invoke(cli, ["detect", str(path), "--alerts", alerts, "--format", "json"])
    assert json.loads(machine.stdout)["rescrubbed"] == 30
    table = CliRunner().invoke(cli, ["detect", str(path), "--alerts", alerts])
    assert "30 events took the per-record path" in table.stderr
    for event in flat[:30]:
        event.pop("labels")
    _jsonl(path, flat)
    clean = CliRunner().invoke(cli, ["detect", str(path), "--alerts", alerts])
    assert "per-record path" not in clean.stderr


def test_malformed_lines_are_dead_lettered_and_the_run_continues(tmp_path: Path) -> None:
    generator = Generator(seed=4)
    generator.injection_then_tool()
    bad = [b"{not json", b"\xff\xfe", json.dumps({"@timestamp": "nope"}).encode()]
    path = _jsonl(tmp_path / "mixed.jsonl", generator.events, bad)
    dead = tmp_path / "dead.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "detect",
            str(path),
            "--alerts",
            str(tmp_path / "a.jsonl"),
            "--dead-letter",
            str(dead),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["events"] == len(generator.events) and summary["rejected"] == 3
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    first_bad = len(generator.events) + 1
    assert [entry["line"] for entry in letters] == [first_bad, first_bad + 1, first_bad + 2]
    assert "invalid JSON" in letters[0]["reason"]
    assert "invalid UTF-8" in letters[1]["reason"]
    assert "@timestamp" in letters[2]["reason"]


def test_missing_input_is_exit_code_two(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["detect", str(tmp_path / "absent.jsonl")])
    assert result.exit_code == 2
    assert "absent.jsonl" in result.output


def test_an_error_names_a_long_path_with_brackets_whole_on_one_line(tmp_path: Path) -> None:
    """The path is printed as given: not cut by line wrapping, not read as rich markup."""
    missing = tmp_path / ("deep-folder-name-" * 6) / "telemetry[red]2026[/red].jsonl"
    result = CliRunner().invoke(cli, ["detect", str(missing)])
    assert result.exit_code == 2
    assert str(missing) in result.output.splitlines()[0]


def test_rule_that_fails_to_compile_is_reported_by_id_and_skipped(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yml").write_text(
        "title: Unknown Field\nid: 7b0c6a51-1111-4222-8333-944455556666\nname: unknown_field\n"
        "status: test\ndescription: Detects nothing.\nlogsource: {product: llm}\n"
        "detection:\n  sel:\n    no.such.field: x\n  condition: sel\nlevel: low\n"
    )
    result = CliRunner().invoke(
        cli,
        [
            "detect",
            str(demo_telemetry()),
            "--rules",
            str(rules),
            "--alerts",
            str(tmp_path / "a.jsonl"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0
    skipped = json.loads(result.stdout)["skipped_rules"]
    assert skipped[0]["rule_id"] == "7b0c6a51-1111-4222-8333-944455556666"
    assert "no.such.field" in skipped[0]["message"]


def test_follow_mode_streams_alerts_once(tmp_path: Path) -> None:
    live = tmp_path / "live.jsonl"
    live.touch()
    alerts = tmp_path / "alerts.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmsiem",
            "detect",
            "--follow",
            str(live),
            "--alerts",
            str(alerts),
            "--interval",
            "0.05",
            "--idle-exit",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    generator = Generator(seed=8)
    generator.guardrail_probing()  # six blocks for one user: one burst correlation
    time.sleep(1.5)

    def append() -> None:
        with live.open("a", encoding="utf-8") as out:
            for event in generator.events:
                out.write(json.dumps(event) + "\n")
                out.flush()
                time.sleep(0.05)

    writer = threading.Thread(target=append)
    writer.start()
    writer.join()
    process.wait(timeout=60)
    assert process.returncode == 1, process.stderr.read()
    docs = [json.loads(line) for line in alerts.read_text().splitlines()]
    bursts = [d for d in docs if d["rule"]["name"] == "correlation_guardrail_block_burst"]
    assert len(bursts) == 1, "a growing window must not re-emit the same correlation"
    blocks = [d for d in docs if d["rule"]["name"] == "guardrail_input_blocked"]
    assert len(blocks) == 6
    assert len({d["event"]["id"] for d in docs}) == len(docs)
