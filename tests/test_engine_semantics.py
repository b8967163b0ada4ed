"""Sigma semantics of the DuckDB engine, including the four cases pySigma-backend-duckdb
0.1.4 gets wrong: LIKE wildcards in values, case-insensitive equality, event_count
timespans, and temporal_ordered ordering."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from engine_helpers import compile_texts, fired, run_partials

TOOL_RULE = """
title: Read File Tool
id: 6a1b0c3e-0000-4000-8000-000000000001
name: read_file_tool
status: test
description: Detects the read_file tool.
logsource: {product: llm, category: tool_call}
detection:
    selection:
        gen_ai.tool.name: read_file
    condition: selection
level: low
"""


def _tool(name: str) -> dict[str, str]:
    return {"event.action": "tool_call", "gen_ai.tool.name": name}


def test_underscore_and_percent_in_values_are_literals(tmp_path: Path) -> None:
    rules = compile_texts(tmp_path, TOOL_RULE)
    alerts = run_partials(rules, [_tool("readXfile"), _tool("read%file"), _tool("read_file")])
    assert len(fired(alerts, "read_file_tool")) == 1
    assert alerts[0]["llmsiem"]["alert"]["event_ids"] == ["t-2"]


def test_equality_is_case_insensitive(tmp_path: Path) -> None:
    rules = compile_texts(tmp_path, TOOL_RULE)
    alerts = run_partials(rules, [_tool("READ_FILE"), _tool("Read_File"), _tool("read_files")])
    assert sorted(a["llmsiem"]["alert"]["event_ids"][0] for a in alerts) == ["t-0", "t-1"]


def test_case_insensitivity_covers_non_ascii_letters(tmp_path: Path) -> None:
    """Sigma ignores case for every letter; SQLite's NOCASE (the differential oracle) only
    folds ASCII, so this is checked here rather than in the differential test."""
    rules = compile_texts(tmp_path, TOOL_RULE.replace("read_file", "lösche_datei"))
    alerts = run_partials(rules, [_tool("LÖSCHE_DATEI"), _tool("losche_datei")])
    assert [a["llmsiem"]["alert"]["event_ids"] for a in alerts] == [["t-0"]]
    contains = TOOL_RULE.replace("gen_ai.tool.name: read_file", "gen_ai.tool.name|contains: élève")
    rules = compile_texts(tmp_path / "contains", contains)
    alerts = run_partials(rules, [_tool("noter_ÉLÈVE_3"), _tool("noter_eleve_3")])
    assert [a["llmsiem"]["alert"]["event_ids"] for a in alerts] == [["t-0"]]


BURST = """
title: Tool Burst
id: 6a1b0c3e-0000-4000-8000-000000000002
name: tool_burst
status: test
description: Detects bursts.
correlation:
    type: event_count
    rules: [read_file_tool]
    group-by: [user.id]
    timespan: 10m
    condition: {gte: 3}
level: high
"""


def _at(minute: int, user: str = "u-1") -> dict[str, str]:
    return {
        **_tool("read_file"),
        "user.id": user,
        "@timestamp": f"2026-11-20T12:{minute:02d}:00+00:00",
    }


def test_event_count_respects_the_timespan(tmp_path: Path) -> None:
    rules = compile_texts(tmp_path, TOOL_RULE, BURST)
    spread = run_partials(rules, [_at(0), _at(11), _at(22), _at(33)])
    assert fired(spread, "tool_burst") == []
    close = run_partials(rules, [_at(0), _at(4), _at(9), _at(40)])
    (alert,) = fired(close, "tool_burst")
    assert alert["llmsiem"]["alert"]["event_ids"] == ["t-0", "t-1", "t-2"]
    assert alert["llmsiem"]["alert"]["correlation"]["group_by"] == {"user.id": "u-1"}


def test_event_count_groups_by_field(tmp_path: Path) -> None:
    rules = compile_texts(tmp_path, TOOL_RULE, BURST)
    alerts = run_partials(rules, [_at(0, "a"), _at(1, "b"), _at(2, "a"), _at(3, "b")])
    assert fired(alerts, "tool_burst") == []


INJECTION = """
title: Injection Phrase
id: 6a1b0c3e-0000-4000-8000-000000000003
name: injection_phrase
status: test
description: Detects injection.
logsource: {product: llm, category: prompt}
detection:
    selection:
        llmsiem.prompt.text|contains: ignore previous instructions
    condition: selection
level: high
"""
ORDERED = """
title: Injection Then Read
id: 6a1b0c3e-0000-4000-8000-000000000004
name: injection_then_read
status: test
description: Detects injection followed by read_file.
correlation:
    type: temporal_ordered
    rules: [injection_phrase, read_file_tool]
    group-by: [trace.id]
    timespan: 5m
level: critical
"""


def _prompt(minute: int) -> dict[str, str]:
    return {
        "event.action": "prompt",
        "llmsiem.prompt.text": "Please IGNORE previous instructions now",
        "@timestamp": f"2026-11-20T12:{minute:02d}:00+00:00",
    }


def test_temporal_ordered_enforces_order(tmp_path: Path) -> None:
    rules = compile_texts(tmp_path, INJECTION, TOOL_RULE, ORDERED)
    wrong_order = run_partials(rules, [_at(0), _prompt(1)])
    assert fired(wrong_order, "injection_then_read") == []
    right_order = run_partials(rules, [_prompt(0), _at(1)])
    (alert,) = fired(right_order, "injection_then_read")
    assert alert["llmsiem"]["alert"]["event_ids"] == ["t-0", "t-1"]


def test_temporal_ordered_respects_the_timespan(tmp_path: Path) -> None:
    rules = compile_texts(tmp_path, INJECTION, TOOL_RULE, ORDERED)
    assert fired(run_partials(rules, [_prompt(0), _at(6)]), "injection_then_read") == []


NEGATION = """
title: Unapproved Provider
id: 6a1b0c3e-0000-4000-8000-000000000005
name: unapproved_provider
status: test
description: Detects providers outside the list.
logsource: {product: llm, category: usage}
detection:
    selection:
        event.action: response
    filter:
        gen_ai.provider.name: [openai, anthropic]
    condition: selection and not filter
level: low
"""


def test_not_with_missing_field_is_true(tmp_path: Path) -> None:
    rules = compile_texts(tmp_path, NEGATION)
    alerts = run_partials(
        rules,
        [
            {"event.action": "response", "gen_ai.provider.name": "OpenAI"},
            {"event.action": "response", "gen_ai.provider.name": "mistral"},
            {"event.action": "response", "gen_ai.provider": None},
        ],
    )
    assert sorted(a["llmsiem"]["alert"]["event_ids"][0] for a in alerts) == ["t-1", "t-2"]


LIST_AND_REGEX = """
title: List And Regex
id: 6a1b0c3e-0000-4000-8000-000000000006
name: list_and_regex
status: test
description: Detects list membership and unanchored regex.
logsource: {product: llm, category: prompt}
detection:
    types:
        llmsiem.redaction.types: aws_key
    regex:
        llmsiem.prompt.text|re: 'AKIA[A-Z0-9]{4}'
    big:
        llmsiem.prompt.chars|gte: 1000
    condition: types or regex or big
level: low
"""


def test_list_fields_regex_search_and_numbers(tmp_path: Path) -> None:
    rules = compile_texts(tmp_path, LIST_AND_REGEX)
    alerts = run_partials(
        rules,
        [
            {"llmsiem.redaction.types": ["EMAIL_ADDRESS", "AWS_KEY"]},
            {"llmsiem.prompt.text": "key: xxAKIAABCDyy"},
            {"llmsiem.prompt.text": "key: akiaabcd"},
            {"llmsiem.prompt.chars": 1000},
            {"llmsiem.prompt.chars": 999, "llmsiem.redaction.types": ["EMAIL_ADDRESS"]},
        ],
    )
    assert sorted(a["llmsiem"]["alert"]["event_ids"][0] for a in alerts) == ["t-0", "t-1", "t-3"]


REGEX_ALTERNATIVES = r"""
title: Regex Alternatives
id: 6a1b0c3e-0000-4000-8000-000000000007
name: regex_alternatives
status: test
description: Regexes with different flags OR-ed on one field, and on a list field.
logsource: {product: llm, category: prompt}
detection:
    plain:
        llmsiem.prompt.text|re:
            - '^ab+c$'
            - '(?i)x\dy'
    folded:
        llmsiem.prompt.text|re|i: 'hello\s+world'
    dotall:
        llmsiem.prompt.text|re|s: 'start.end'
    listed:
        llmsiem.redaction.types|re:
            - '^aws'
            - 'key$'
    condition: 1 of them
level: low
"""
REGEX_ALTERNATIVE_CHECKS = (
    (re.compile("^ab+c$"), "llmsiem.prompt.text"),
    (re.compile(r"(?i)x\dy"), "llmsiem.prompt.text"),
    (re.compile(r"hello\s+world", re.I), "llmsiem.prompt.text"),
    (re.compile("start.end", re.S), "llmsiem.prompt.text"),
    (re.compile("^aws"), "llmsiem.redaction.types"),
    (re.compile("key$"), "llmsiem.redaction.types"),
)


def test_regexes_ored_on_one_field_keep_each_ones_flags(tmp_path: Path) -> None:
    """The engine scans a field once for all the regexes OR-ed on it (one RE2 alternation,
    each regex with its own flags); the verdicts are Python ``re``'s, regex by regex."""
    texts = ["abbc", "xabbcx", "ABBC", "X7Y", "x7y", "HELLO \n World", "hello-world",
             "start\nend", "START\nEND", "startXend", "stopend"]  # fmt: skip
    types = [["aws_key"], ["ssh_key"], ["AWS"], ["email"], ["keys"]]
    events: list[dict[str, Any]] = [{"llmsiem.prompt.text": t} for t in texts]
    events += [{"llmsiem.redaction.types": t} for t in types]
    rules = compile_texts(tmp_path, REGEX_ALTERNATIVES)
    alerts = run_partials(rules, events)
    expected = [
        f"t-{n}"
        for n, event in enumerate(events)
        if any(
            any(regex.search(v) for v in value) if isinstance(value, list) else regex.search(value)
            for regex, field in REGEX_ALTERNATIVE_CHECKS
            if (value := event.get(field)) is not None
        )
    ]
    assert 0 < len(expected) < len(events)
    assert sorted(a["llmsiem"]["alert"]["event_ids"][0] for a in alerts) == sorted(expected)
