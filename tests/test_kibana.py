"""Kibana rule documents: schedules that see whole correlation windows, the shared exception
list, the rule's own author and ATT&CK threat, and re-imports that keep exception items."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from llmsiem.compiler.compile import compile_pack
from llmsiem.compiler.kibana import ALLOWLIST_ID, schedule
from llmsiem.compiler.output import write_kibana
from llmsiem.connectors.deploy import KibanaDeployer

CASSETTES = Path(__file__).parent / "cassettes"
KIBANA_URL = os.environ.get("LLMSIEM_TEST_KIBANA_URL", "http://kibana.test:5601")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([smh])", duration)
    assert match, duration
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def ndjson(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    (path,) = write_kibana(compile_pack("kibana-ndjson"), tmp_path_factory.mktemp("kibana"))
    return _lines(path)


def _windows_seen_whole(window: int, interval: int, lookback: int) -> bool:
    """Simulate runs every ``interval`` s, each searching ``[run - lookback, run]``; true when
    every window ``[start, start + window]`` (start on a 1 s grid over two hours) lies inside
    the range of some run at or after its end."""
    horizon = 7200
    runs = range(0, horizon + window + 2 * interval, interval)
    for start in range(0, horizon):
        end = start + window
        if not any(run >= end and run - lookback <= start for run in runs):
            return False
    return True


@pytest.mark.parametrize("window", [60, 300, 600, 3600])
def test_correlation_schedule_sees_every_window_whole(window: int) -> None:
    plan = schedule(window)
    interval = _seconds(plan["interval"])
    lookback = _seconds(plan["from"].removeprefix("now-"))
    assert interval <= window
    assert lookback == interval + _seconds(plan["meta"]["from"])
    assert _windows_seen_whole(window, interval, lookback)
    # the old schedule (now-5m every 5m) never sees a 10-minute window whole
    assert not _windows_seen_whole(window, 300, 300) or window <= 300


def test_every_compiled_rule_has_a_covering_schedule(ndjson: list[dict[str, Any]]) -> None:
    result = compile_pack("kibana-ndjson")
    windows = {c.rule_id: c.window_seconds for c in result.compiled}
    rules = ndjson[1:]
    assert rules and {r["rule_id"] for r in rules} == set(windows)
    for rule in rules:
        interval = _seconds(rule["interval"])
        lookback = _seconds(rule["from"].removeprefix("now-"))
        window = windows[rule["rule_id"]]
        if window is None:  # detection: a small overlap for late-indexed events
            assert interval < lookback <= interval + 120, rule["name"]
        else:
            assert _windows_seen_whole(window, interval, lookback), rule["name"]


def test_ndjson_creates_the_exception_list_every_rule_references(
    ndjson: list[dict[str, Any]],
) -> None:
    container, *rules = ndjson
    assert container["list_id"] == ALLOWLIST_ID and "rule_id" not in container
    assert container["type"] == "detection" and container["namespace_type"] == "single"
    assert container["name"] and container["description"]
    assert "item_id" not in container and not any("item_id" in r for r in rules)
    for rule in rules:
        (reference,) = rule["exceptions_list"]
        assert (reference["list_id"], reference["namespace_type"], reference["type"]) == (
            ALLOWLIST_ID,
            "single",
            "detection",
        )


RULE = """\
title: Audit Logging Disabled By Agent Tool
id: 6f2a8c1e-2b7d-4c55-9a51-3f0e8d7c9b21
name: audit_logging_disabled_by_tool
status: experimental
description: Detects an agent tool call that disables audit logging.
references:
    - https://attack.mitre.org/techniques/T1562/008/
author: Jane Doe, John Roe
date: '2026-11-30'
tags:
    - attack.defense-evasion
    - attack.t1562.008
    - attack.t1070.008
    - atlas.aml.t0053
    - owasp.llm06
logsource:
    product: llm
    category: tool_call
detection:
    selection:
        gen_ai.tool.name: disable_audit_logging
    condition: selection
falsepositives:
    - Administrators
level: high
"""


def test_rule_author_and_attack_tags_are_carried(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "audit_logging_disabled_by_tool.yml").write_text(RULE)
    (path,) = write_kibana(compile_pack("kibana-ndjson", rules), tmp_path / "out")
    _, rule = _lines(path)
    assert rule["author"] == ["Jane Doe", "John Roe"]
    attack = [t for t in rule["threat"] if t["framework"] == "MITRE ATT&CK"]
    assert [t["tactic"] for t in attack] == [
        {
            "id": "TA0005",
            "name": "Defense Evasion",
            "reference": "https://attack.mitre.org/tactics/TA0005",
        }
    ]
    techniques = {t["id"]: t for t in attack[0]["technique"]}
    # T1070.008 is in the bundled ATT&CK data; T1562.008 is not and keeps its id as name
    assert techniques["T1070"]["name"] == "Indicator Removal"
    assert [s["id"] for s in techniques["T1070"]["subtechnique"]] == ["T1070.008"]
    assert techniques["T1562"]["subtechnique"][0]["reference"].endswith("/T1562/008")
    atlas = [t for t in rule["threat"] if t["framework"] == "MITRE ATLAS"]
    assert atlas and atlas[0]["technique"][0]["id"] == "AML.T0053"
    assert "attack-t1562.008" in rule["tags"] and "atlas-aml.t0053" in rule["tags"]


@pytest.mark.vcr(str(CASSETTES / "kibana_import_twice.handwritten.yaml"))
def test_second_import_keeps_the_exception_list_and_its_items(
    tmp_path: Path,
) -> None:
    """The recorded Kibana answers follow its _import API: the first import creates the list,
    the second reports it as existing (409, skipped). The request never sets
    overwrite_exceptions (the cassette matches on the query string), so items survive."""
    (path,) = write_kibana(compile_pack("kibana-ndjson"), tmp_path)
    ndjson = path.read_text(encoding="utf-8")
    deployer = KibanaDeployer(KIBANA_URL, os.environ.get("LLMSIEM_TEST_KIBANA_API_KEY", "unused"))
    first = deployer.deploy(ndjson)
    assert (first.lists_created, first.lists_kept, first.errors) == ([ALLOWLIST_ID], [], [])
    second = deployer.deploy(ndjson)
    assert (second.lists_created, second.lists_kept, second.errors) == ([], [ALLOWLIST_ID], [])
    assert len(second.update) == len(ndjson.splitlines()) - 1
