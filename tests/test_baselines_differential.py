"""Per-entity baselines: the engine against a plain-Python reference on generated data.

The reference below is written from the rule semantics in docs/baselines.md, not from the
engine: events are grouped by entity (lower-cased) and fixed bucket, each entity's buckets
are walked in time order with a list of its previous values, and a bucket fires when it
reaches the rule's floor and exceeds mean + k x max(sample stddev, ratio x mean) of the
last N values (at least ``min_history`` of them). The engine runs the pack's two baseline
rules through ``detect`` (whole input, and chunks whose boundaries cut firing buckets) and
``detect --follow``; the alerts must be the same buckets, values and events. The Splunk
targets' SPL for the same rules, run by the documented SPL evaluator
(``llmsiem.conformance.spl``), must fire on the same buckets with the same values.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import llmsiem.engine.stream as stream
from llmsiem.compiler.compile import compile_pack
from llmsiem.compiler.output import write_result
from llmsiem.conformance import spl
from llmsiem.deadletter import DeadLetter
from llmsiem.engine.batch import detect_files
from llmsiem.engine.rules import CorrelationRule, EngineRules, compile_for_engine
from llmsiem.engine.stream import Follower, LineSource
from llmsiem.pipeline import Pipeline
from llmsiem.rule_samples import BASE_TIME, build_event
from llmsiem.rulepack import RulePack
from llmsiem.scrub import Scrubber

TOOL_RULE = "agent_tool_call_rate_baseline"
TOKEN_RULE = "correlation_token_baseline_per_api_key"
WHOLE = 10**9
START = BASE_TIME.timestamp()


def _only(rules: EngineRules, name: str) -> EngineRules:
    (correlation,) = [c for c in rules.correlations if c.meta.name == name]
    bases = [d for d in rules.detections if d.meta.name in correlation.rules]
    return EngineRules(detections=bases, correlations=[correlation])


@pytest.fixture(scope="module")
def pack_rules() -> EngineRules:
    return compile_for_engine(RulePack.load())


def _tool_events(rng: random.Random, minutes: int) -> list[dict[str, Any]]:
    """Agents at their own rates (quiet ones, bulk ones near 40 a minute), idle minutes,
    jumps of 3-6x, other events and calls without an agent id; the id's case varies."""
    rates = {f"agent-{n}": rng.choice([3, 5, 8, 12, 38, 45]) for n in range(8)}
    partials: list[tuple[float, dict[str, Any]]] = []
    for minute in range(minutes):
        for agent, rate in rates.items():
            if rng.random() < 0.15:
                continue  # idle minute: not part of the agent's history
            calls = max(1, round(rng.gauss(rate, math.sqrt(rate))))
            if minute > 8 and rng.random() < 0.04:
                calls *= rng.randint(3, 6)
            for _ in range(calls):
                name = agent.upper() if rng.random() < 0.1 else agent
                event = {
                    "event.action": "tool_call",
                    "gen_ai.tool.name": "search_docs",
                    "gen_ai.agent.id": name,
                }
                partials.append((minute * 60 + rng.uniform(0, 59.999), event))
        for _ in range(3):
            other = {"event.action": "tool_call", "gen_ai.tool.name": "lookup"}
            partials.append((minute * 60 + rng.uniform(0, 59.999), other))
            prompt = {"event.action": "prompt", "gen_ai.agent.id": "agent-0"}
            partials.append((minute * 60 + rng.uniform(0, 59.999), prompt))
    return _documents(partials, "tool")


def _token_events(rng: random.Random, buckets: int) -> list[dict[str, Any]]:
    """API keys spending their own amounts per 10 minutes, some jumping, some calls
    without a token count."""
    spend = {f"key-{n}": rng.choice([4_000, 20_000, 60_000, 300_000]) for n in range(6)}
    partials: list[tuple[float, dict[str, Any]]] = []
    for bucket in range(buckets):
        for key, amount in spend.items():
            target = amount * (rng.randint(3, 8) if bucket > 8 and rng.random() < 0.06 else 1)
            calls = rng.randint(1, 6)
            for _ in range(calls):
                event: dict[str, Any] = {"event.action": "response", "llmsiem.api_key.id": key}
                if rng.random() < 0.9:
                    event["llmsiem.usage.total_tokens"] = max(
                        0, round(rng.gauss(target / calls, target / calls / 4))
                    )
                partials.append((bucket * 600 + rng.uniform(0, 599.999), event))
    return _documents(partials, "token")


def _documents(partials: list[tuple[float, dict[str, Any]]], label: str) -> list[dict[str, Any]]:
    partials.sort(key=lambda item: item[0])
    documents = []
    for n, (offset, partial) in enumerate(partials):
        stamp = round(START + offset, 3)
        partial["@timestamp"] = _iso_from(stamp)
        documents.append(build_event(partial, n, label))
    return documents


def _iso_from(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _epoch(document: dict[str, Any]) -> float:
    return datetime.fromisoformat(document["@timestamp"].replace("Z", "+00:00")).timestamp()


def _dotted(document: dict[str, Any], name: str) -> Any:
    value: Any = document
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def active_buckets(
    documents: list[dict[str, Any]], entity: str, matches: Any, bucket: float
) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """Each entity's (lower-cased) matching events by bucket index, active buckets only."""
    buckets: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for document in documents:
        key = _dotted(document, entity)
        if key is None or not matches(document):
            continue
        index = math.floor(round(_epoch(document), 3) / bucket)
        buckets[str(key).lower()][index].append(document)
    return buckets


def reference(
    documents: list[dict[str, Any]],
    entity: str,
    matches: Any,
    value: Any,
    bucket: float,
    settings: dict[str, float],
    floor: float,
) -> list[tuple[str, float, float, tuple[str, ...]]]:
    """(entity, bucket start, bucket value, event ids) of every firing bucket."""
    buckets = active_buckets(documents, entity, matches, bucket)
    fired = []
    size, k = int(settings["history_buckets"]), settings["deviations"]
    for key, by_index in buckets.items():
        history: list[float] = []
        for index in sorted(by_index):
            events = by_index[index]
            total = float(sum(value(e) for e in events))
            previous = history[-size:]
            if len(previous) >= settings["min_history"] and total >= floor:
                mean = sum(previous) / len(previous)
                variance = sum((x - mean) ** 2 for x in previous) / (len(previous) - 1)
                spread = max(math.sqrt(variance), settings["min_spread_ratio"] * abs(mean))
                if total > mean + k * spread:
                    ids = tuple(sorted(e["event"]["id"] for e in events))
                    fired.append((key, index * bucket, total, ids))
            history.append(total)
    return sorted(fired)


def _is_tool_call(document: dict[str, Any]) -> bool:
    return (
        _dotted(document, "event.action") == "tool_call"
        and _dotted(document, "gen_ai.tool.name") is not None
    )


def _is_api_call(document: dict[str, Any]) -> bool:
    return _dotted(document, "event.action") in ("prompt", "response", "refusal")


def _tokens(document: dict[str, Any]) -> float:
    return float(_dotted(document, "llmsiem.usage.total_tokens") or 0)


def _engine(alerts: list[dict[str, Any]]) -> list[tuple[str, float, float, tuple[str, ...]]]:
    out = []
    for alert in alerts:
        correlation = alert["llmsiem"]["alert"]["correlation"]
        (entity,) = correlation["group_by"].values()
        start = datetime.fromisoformat(correlation["window"]["start"]).timestamp()
        ids = tuple(sorted(alert["llmsiem"]["alert"]["event_ids"]))
        out.append((entity, start, float(correlation["metric"]), ids))
    return sorted(out)


def _write(path: Path, documents: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    return path


def _detect(rules: EngineRules, path: Path, chunk: int) -> list[dict[str, Any]]:
    with DeadLetter(None) as letters:
        run = detect_files([path], rules, Pipeline(Scrubber(), letters), chunk_lines=chunk)
    assert run.rejected == 0 and run.late == 0
    return run.alerts


CASES = {
    TOOL_RULE: (_tool_events, 70, "gen_ai.agent.id", _is_tool_call, lambda _: 1.0, 60.0),
    TOKEN_RULE: (_token_events, 60, "llmsiem.api_key.id", _is_api_call, _tokens, 600.0),
}


def _reference_for(
    name: str, correlation: CorrelationRule, documents: list[dict[str, Any]]
) -> list[tuple[str, float, float, tuple[str, ...]]]:
    """The reference's firing buckets for the pack rule ``name`` on ``documents``."""
    _, _, entity, matches, value, bucket = CASES[name]
    assert correlation.baseline is not None and correlation.condition is not None
    settings = vars(correlation.baseline)
    return reference(
        documents, entity, matches, value, bucket, settings, correlation.condition.value
    )


@pytest.mark.parametrize("name", list(CASES))
def test_engine_equals_reference_whole_chunked_and_follow(
    pack_rules: EngineRules, tmp_path: Path, name: str
) -> None:
    make, size, *_, bucket = CASES[name]
    rules = _only(pack_rules, name)
    (correlation,) = rules.correlations
    assert correlation.timespan == bucket
    documents = make(random.Random(14), size)
    path = _write(tmp_path / "events.jsonl", documents)
    expected = _reference_for(name, correlation, documents)
    assert len(expected) >= 5, "the generator makes entities jump above their norm"
    whole = _detect(rules, path, WHOLE)
    assert _engine(whole) == expected

    # Chunk sizes whose boundaries fall inside firing buckets (and their history).
    line = {d["event"]["id"]: n for n, d in enumerate(documents)}

    def cut(chunk: int) -> int:
        return sum(len({line[i] // chunk for i in ids}) > 1 for *_, ids in expected)

    sizes = [c for c in range(97, 900, 31) if cut(c) >= 2][:2]
    assert len(sizes) == 2
    for chunk in sizes:
        assert _engine(_detect(rules, path, chunk)) == expected, f"chunk {chunk}"

    emitted: list[dict[str, Any]] = []
    with DeadLetter(None) as letters:
        follower = Follower(rules, Pipeline(Scrubber(), letters), emitted.append)
        source = LineSource.open(path)
        poll = stream.POLL_BYTES
        stream.POLL_BYTES = 50_000
        try:
            follower.follow(source, interval=0.0, idle_exit=0.01)
        finally:
            stream.POLL_BYTES = poll
            source.stream.close()
    assert sorted(a["event"]["id"] for a in emitted) == sorted(a["event"]["id"] for a in whole)
    # --follow reports a bucket when its running value crosses the threshold: a prefix.
    final = {a["event"]["id"]: a["llmsiem"]["alert"]["correlation"]["metric"] for a in whole}
    assert all(
        a["llmsiem"]["alert"]["correlation"]["metric"] <= final[a["event"]["id"]] for a in emitted
    )


@pytest.fixture(scope="module")
def splunk_searches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Each pack baseline rule's search per Splunk target: the ``splunk-spl`` query, and the
    ``splunk-savedsearches`` stanza read back from the written app, macros expanded."""
    out: dict[str, dict[str, str]] = {}
    spl_result = compile_pack("splunk-spl")
    out["splunk-spl"] = {str(c.name): str(q) for c in spl_result.compiled for q in c.queries}
    app_result = compile_pack("splunk-savedsearches")
    folder = tmp_path_factory.mktemp("splunk")
    write_result(app_result, folder)
    by_id, macros = spl.app_searches(folder / "splunk-savedsearches" / "llmsiem")
    out["splunk-savedsearches"] = {
        str(c.name): spl.expand_macros(by_id[c.rule_id][0], macros) for c in app_result.compiled
    }
    return out


@pytest.mark.parametrize("target", ["splunk-spl", "splunk-savedsearches"])
@pytest.mark.parametrize("seed", [14, 5])
@pytest.mark.parametrize("name", list(CASES))
def test_splunk_baseline_search_fires_on_the_reference_buckets(
    pack_rules: EngineRules,
    splunk_searches: dict[str, dict[str, str]],
    tmp_path: Path,
    name: str,
    seed: int,
    target: str,
) -> None:
    """The compiled SPL, run by the documented SPL evaluator on the generated entities,
    gives every active bucket its reference value, and fires on exactly the buckets
    (entity, bucket start, value) that the reference and the engine fire on."""
    make, size, entity, matches, value, bucket = CASES[name]
    rules = _only(pack_rules, name)
    (correlation,) = rules.correlations
    documents = make(random.Random(seed), size)
    expected = [
        (key, start, total) for key, start, total, _ in _reference_for(name, correlation, documents)
    ]
    assert len(expected) >= 3, "the generator makes entities jump above their norm"
    engine = [
        row[:3] for row in _engine(_detect(rules, _write(tmp_path / "e.jsonl", documents), WHOLE))
    ]
    assert engine == expected

    search = splunk_searches[target][name]
    pipeline = spl.parse_search(search)
    events = [spl.splunk_event(d) for d in documents]
    fired = sorted(
        (row["llmsiem_group0"][0], float(row["_time"][0]), float(row["llmsiem_value"][0]))
        for row in pipeline.run(events)
    )
    assert fired == expected

    # Every active bucket, before the where that judges it: the same entities, starts and
    # values as the reference's active buckets.
    commands = spl.split_pipeline(search)
    (judge,) = [n for n, c in enumerate(commands) if c.startswith("where llmsiem_history")]
    rows = spl.parse_search(" | ".join(commands[:judge])).run(events)
    buckets = active_buckets(documents, entity, matches, bucket)
    assert sorted(
        (row["llmsiem_group0"][0], float(row["_time"][0]), float(row["llmsiem_value"][0]))
        for row in rows
    ) == sorted(
        (key, index * bucket, float(sum(value(e) for e in events)))
        for key, by_index in buckets.items()
        for index, events in by_index.items()
    )
    print(f"{target} {name} seed {seed}: {len(rows)} buckets, {len(fired)} fired, all agree")


SCHEDULE = 300  # cron_schedule */5 * * * *


@pytest.mark.parametrize("name", list(CASES))
def test_saved_search_time_range_holds_the_history(
    pack_rules: EngineRules, tmp_path: Path, name: str
) -> None:
    """Runs of the saved search every 5 minutes, each over its dispatch time range only
    ([now - earliest, now)): every bucket completed since the previous run has its N previous
    buckets inside the range, and where its entity's N previous active buckets lie there, the
    run fires on it exactly when the reference does on the whole input."""
    make, size, entity, matches, _, bucket = CASES[name]
    (correlation,) = _only(pack_rules, name).correlations
    assert correlation.baseline is not None
    history = correlation.baseline.history_buckets
    result = compile_pack("splunk-savedsearches")
    write_result(result, tmp_path)
    app = tmp_path / "splunk-savedsearches" / "llmsiem"
    stanzas = spl.read_conf((app / "default" / "savedsearches.conf").read_text())
    (settings,) = [
        s for s in stanzas.values() if s.get("action.llmsiem_rule_id") == correlation.meta.id
    ]
    assert settings["cron_schedule"] == "*/5 * * * *"
    lookback = int(settings["dispatch.earliest_time"].removeprefix("-").removesuffix("s"))
    # Per-result alerts, suppressed on (entity, bucket) for as long as a result stays in range.
    assert settings["alert.digest_mode"] == "0" and settings["alert.suppress"] == "1"
    assert settings["alert.suppress.fields"].split(",") == ["llmsiem_group0", "_time"]
    period = int(settings["alert.suppress.period"].removesuffix("s"))
    last_alert: dict[tuple[str, float], int] = {}
    alerted: Counter[tuple[str, float]] = Counter()
    by_id, macros = spl.app_searches(app)
    pipeline = spl.parse_search(by_id[correlation.meta.id][0], macros)

    documents = make(random.Random(14), size)
    fired = {(k, s) for k, s, *_ in _reference_for(name, correlation, documents)}
    active = {k: sorted(v) for k, v in active_buckets(documents, entity, matches, bucket).items()}
    events = [(_epoch(d), spl.splunk_event(d)) for d in documents]
    checked = judged = hits = 0
    first = math.ceil((START + lookback) / SCHEDULE) * SCHEDULE
    for run in range(first, int(START + size * bucket), SCHEDULE):
        earliest = run - lookback
        seen = pipeline.run([e for t, e in events if earliest <= t < run])
        alerts = {(r["llmsiem_group0"][0], float(r["_time"][0])) for r in seen}
        for result in sorted(alerts):  # savedsearches.conf: suppressed within the period
            if result not in last_alert or run - last_alert[result] >= period:
                last_alert[result] = run
                alerted[result] += 1
        for key, indexes in active.items():
            for n, index in enumerate(indexes):
                start = index * bucket
                if not run - SCHEDULE < start + bucket <= run:
                    continue  # not completed since the previous run
                judged += 1
                assert earliest <= start - history * bucket, "N buckets of history in range"
                previous = indexes[max(0, n - history) : n]
                if previous and previous[0] * bucket < earliest:
                    continue  # idle buckets pushed the active history out of range
                checked += 1
                hits += (key, start) in fired
                assert ((key, start) in alerts) == ((key, start) in fired), (run, key, start)
    print(f"{name}: lookback {lookback}s, {judged} buckets judged, {checked} checked, {hits} fire")
    assert checked >= judged / 2 and hits >= 3
    assert max(alerted.values()) == 1, "each firing bucket is one alert, not one per run"
    assert sum(1 for key in fired if key in alerted) >= hits
