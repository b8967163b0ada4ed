"""Chunked detection equals whole-input detection: the differential test of issue 18.

The oracle is the engine's own one-step evaluation of the whole input (everything loaded,
then the pack once), which ``test_differential`` checks against pySigma's SQLite backend.
Chunk sizes are small and odd so that chunk boundaries fall inside correlation windows
(the test asserts that some correlation alert cites events on both sides of a boundary).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from differential_corpus import corpus
from llmsiem.connectors.files import ParquetSink
from llmsiem.deadletter import DeadLetter
from llmsiem.engine.batch import detect_files
from llmsiem.engine.chunks import jsonl_chunks
from llmsiem.engine.rules import EngineRules, compile_for_engine
from llmsiem.engine.store import EventStore
from llmsiem.engine.stream import DetectionStream, Follower, LineSource
from llmsiem.pipeline import Pipeline
from llmsiem.pipeline.survey import flagged_lines, object_levels, survey
from llmsiem.rulepack import RulePack
from llmsiem.scrub import Scrubber
from llmsiem.synthetic import generate

WHOLE = 10**9


@pytest.fixture(scope="module")
def rules() -> EngineRules:
    return compile_for_engine(RulePack.load())


def _write(path: Path, documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    written = list(documents)
    path.write_text("".join(json.dumps(d) + "\n" for d in written), encoding="utf-8")
    return written


def _canonical(alerts: list[dict[str, Any]]) -> list[str]:
    """Alerts as comparable text (``event.created`` is the wall clock of the run)."""
    out = []
    for alert in alerts:
        copy = json.loads(json.dumps(alert))
        del copy["event"]["created"]
        out.append(json.dumps(copy, sort_keys=True))
    return out


def _detect(rules: EngineRules, paths: list[Path], chunk: int, chunk_bytes: int = 10**12) -> Any:
    with DeadLetter(None) as letters:
        pipeline = Pipeline(Scrubber(), letters)
        return detect_files(paths, rules, pipeline, chunk_lines=chunk, chunk_bytes=chunk_bytes)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    path = tmp_path_factory.mktemp("chunked") / "events.jsonl"
    return path, _write(path, generate(3000, seed=18, attack_every=4))


def test_chunked_alerts_equal_whole_input_alerts(
    rules: EngineRules, generated: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, documents = generated
    whole = _detect(rules, [path], WHOLE)
    correlations = [a for a in whole.alerts if a["llmsiem"]["alert"]["kind"] == "correlation"]
    assert len(correlations) >= 20 and len(whole.alerts) >= 200
    line_of = {d["event"]["id"]: n for n, d in enumerate(documents)}

    def straddling(chunk: int) -> int:
        """Correlation alerts whose events lie in more than one chunk."""
        return sum(
            len({line_of[e] // chunk for e in a["llmsiem"]["alert"]["event_ids"]}) > 1
            for a in correlations
        )

    sizes = [size for size in range(331, 1500, 17) if straddling(size) >= 3][:2]
    assert len(sizes) == 2, "chunk sizes that cut through correlation windows"
    for chunk in sizes:
        chunked = _detect(rules, [path], chunk)
        assert chunked.loaded == whole.loaded == len(documents)
        assert _canonical(chunked.alerts) == _canonical(whole.alerts), f"chunk {chunk}"


def test_chunked_equals_whole_on_the_differential_corpus(
    rules: EngineRules, tmp_path: Path
) -> None:
    """The corpus that exercises every rule, values and thresholds around each rule."""
    path = tmp_path / "corpus.jsonl"
    _write(path, islice(corpus(4000, seed=23), 4000))
    whole = _detect(rules, [path], WHOLE)
    assert {a["llmsiem"]["alert"]["kind"] for a in whole.alerts} == {"detection", "correlation"}
    assert _canonical(_detect(rules, [path], 1234).alerts) == _canonical(whole.alerts)


def test_chunks_by_bytes_equal_whole_input(
    rules: EngineRules, generated: tuple[Path, list[dict[str, Any]]]
) -> None:
    """Load chunks cut by an input byte budget (odd sizes, through correlation windows),
    each prepared on the worker thread, give the alerts of one whole-input evaluation."""
    path, documents = generated
    whole = _detect(rules, [path], WHOLE)
    for budget in (97_001, 400_003):
        chunked = _detect(rules, [path], 777, chunk_bytes=budget)
        assert chunked.loaded == len(documents)
        assert _canonical(chunked.alerts) == _canonical(whole.alerts), f"budget {budget}"


def test_bad_lines_are_quarantined_and_the_rest_stays_on_the_bulk_path(
    rules: EngineRules, tmp_path: Path, generated: tuple[Path, list[dict[str, Any]]]
) -> None:
    source, documents = generated
    lines = source.read_text(encoding="utf-8").splitlines()[:600]
    typed_wrong = json.loads(lines[100])
    typed_wrong["gen_ai"]["usage"] = {"input_tokens": "many"}
    unknown = json.loads(lines[200])
    unknown["event"]["nonsense"] = 1
    quoted_key = json.loads(lines[250])
    quoted_key['a", "b'] = 1  # not a JSON path once quoted: it must not break the scan
    dotted_key = json.loads(lines[260])
    dotted_key["llmsiem.prompt.injection_score"] = 0.0  # a top level key, not the nested one
    bad = {
        50: lines[50][: len(lines[50]) // 2],  # torn in the middle
        100: json.dumps(typed_wrong),
        200: json.dumps(unknown),
        250: json.dumps(quoted_key),
        260: json.dumps(dotted_key),
        300: "[1, 2]",
        599: lines[599][:-7],  # a writer's truncated last line
    }
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "\n".join(bad.get(n, line) for n, line in enumerate(lines)) + "\n", encoding="utf-8"
    )
    dead = tmp_path / "dead.jsonl"
    with DeadLetter(dead) as letters:
        store = EventStore()
        report = store.load_file(path, Pipeline(Scrubber(), letters))
    assert (report.loaded, report.rejected) == (593, 7)
    assert report.quarantined == 7, "only the bad lines leave the bulk path"
    letters_by_line = {
        json.loads(x)["line"]: json.loads(x)["reason"] for x in dead.read_text().splitlines()
    }
    assert set(letters_by_line) == {n + 1 for n in bad}
    assert "input_tokens" in letters_by_line[101] and "nonsense" in letters_by_line[201]
    kept = {
        row[0]: row[1]
        for row in store.con.execute('SELECT "event"."id", _line FROM events').fetchall()
    }
    expected = {d["event"]["id"]: n + 1 for n, d in enumerate(documents[:600]) if n not in bad}
    assert kept == expected, "every good line loaded once, with its own line number"


def test_parquet_and_hive_folders_give_the_jsonl_alerts(
    rules: EngineRules, tmp_path: Path, generated: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, documents = generated
    folder = tmp_path / "lake"
    by_hour: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        stamp = document["@timestamp"]
        by_hour.setdefault(f"dt={stamp[:10]}/hour={stamp[11:13]}", []).append(document)
    assert len(by_hour) >= 3, "the corpus spans several hours (partitions)"
    for partition, events in by_hour.items():
        ParquetSink(folder / partition).send(events)
    from_jsonl = _detect(rules, [path], 1000)
    from_parquet = _detect(rules, [folder], 1000)
    assert from_parquet.loaded == len(documents)
    assert _canonical(from_parquet.alerts) == _canonical(from_jsonl.alerts)
    single = next(folder.rglob("*.parquet"))
    partition = f"{single.parent.parent.name}/{single.parent.name}"
    assert _detect(rules, [single], WHOLE).loaded == len(by_hour[partition])


def test_follow_reads_a_backlog_in_bounded_polls(
    rules: EngineRules,
    monkeypatch: pytest.MonkeyPatch,
    generated: tuple[Path, list[dict[str, Any]]],
) -> None:
    import llmsiem.engine.stream as stream

    path, documents = generated
    monkeypatch.setattr(stream, "POLL_BYTES", 200_000)
    polls: list[int] = []
    source = LineSource.open(path)
    poll = source.poll

    def counted() -> Any:
        records = list(poll())
        polls.append(len(records))
        return iter(records)

    monkeypatch.setattr(source, "poll", counted)
    emitted: list[dict[str, Any]] = []
    with DeadLetter(None) as letters:
        follower = Follower(rules, Pipeline(Scrubber(), letters), emitted.append)
        follower.follow(source, interval=0.01, idle_exit=0.05)
    assert follower.events == len(documents)
    assert len([n for n in polls if n]) >= 5 and max(polls) < len(documents) / 4
    batch = _detect(rules, [path], WHOLE).alerts
    # --follow reports an island when it opens: same alerts (ids), the metric may be lower.
    assert sorted(a["event"]["id"] for a in emitted) == sorted(a["event"]["id"] for a in batch)


def test_eval_reads_labelled_rows_from_parquet_folders(tmp_path: Path) -> None:
    """``eval --extra-corpus`` takes the hard negatives as a hive-partitioned Parquet folder
    (``source=...`` as the partition key) and finds the rows the JSONL file holds."""
    import duckdb

    from llmsiem.evaluation import labelled_rows

    source = Path("corpora/hard_negatives/llmsiem_hard_negatives.jsonl")
    folder = tmp_path / "negatives"
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_json_auto('{source}')) TO '{folder}' "
        "(FORMAT parquet, PARTITION_BY (source))"
    )
    assert len(list(folder.glob("source=*"))) >= 2

    def rows(path: Path) -> list[str]:
        return sorted(
            json.dumps([case_id.split(":", 1)[1], *rest], sort_keys=True)
            for case_id, *rest in labelled_rows(path)
        )

    assert rows(folder) == rows(source) and len(rows(source)) > 100


def _unknown_names(document: Any, parents: dict[str, frozenset[str]], at: str = "") -> set[str]:
    """Dotted names outside the schema, by walking the parsed document (the oracle)."""
    if not isinstance(document, dict) or at not in parents:
        return set()
    found = set()
    for key, value in document.items():
        name = f"{at}.{key}" if at else key
        if key not in parents[at]:
            found.add(name)
        else:
            found |= _unknown_names(value, parents, name)
    return found


def test_key_survey_names_exactly_the_fields_outside_the_schema(
    tmp_path: Path, generated: tuple[Path, list[dict[str, Any]]]
) -> None:
    """Unknown keys at every level (odd characters included: quotes, commas, brackets,
    non-ASCII) and malformed lines are found as a parse of each line finds them."""
    _, documents = generated
    odd = ['a", "b', "x,y", "[z]", "é\u2028", "id", "user.id"]
    mixed = []
    for n, document in enumerate(json.loads(json.dumps(d)) for d in documents[:400]):
        if n % 7 == 0:
            document[odd[n % len(odd)]] = 1
        if n % 11 == 0:
            document["event"][odd[(n + 3) % len(odd)]] = "v"
        if n % 13 == 0 and isinstance(document.get("gen_ai"), dict):
            document["gen_ai"].setdefault("request", {})[odd[(n + 5) % len(odd)]] = [1]
        mixed.append(document)
    path = tmp_path / "odd.jsonl"
    lines = [json.dumps(d, ensure_ascii=n % 2 == 0) for n, d in enumerate(mixed)]
    lines[17], lines[18], lines[19] = "[1]", "{}", lines[19][:-3]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parents = object_levels()
    expected = set().union(
        *(_unknown_names(d, parents) for n, d in enumerate(mixed) if n not in (17, 18, 19))
    )
    assert len(expected) >= len(odd)
    con = EventStore().con
    found = survey(con, path)
    assert found.malformed == 3
    assert sorted(f"{parent}.{key}" if parent else key for parent, key in found.unknown) == sorted(
        expected
    )
    # The lines quarantined for them: exactly those holding one (a top-level "user.id" is
    # not the schema's nested user.id), and the lines that are no object or an empty one.
    holding = {
        n for n, d in enumerate(mixed) if n not in (17, 18, 19) and _unknown_names(d, parents)
    }
    assert len(holding) > 50
    assert flagged_lines(con, path, found.flagged) == holding | {17, 18, 19}


def test_pruning_drops_the_hits_of_dropped_events(
    rules: EngineRules, generated: tuple[Path, list[dict[str, Any]]]
) -> None:
    """On input in time order, every hit left after a prune belongs to an event kept, and
    every event kept keeps its hits (as a fresh evaluation of the kept events finds)."""
    path, documents = generated
    with DeadLetter(None) as letters:
        stream = DetectionStream(rules, Pipeline(Scrubber(), letters))
        stream.retention = 1800.0  # the pack's longest window would keep all 4.5 hours
        for _ in stream.load_chunks(jsonl_chunks(path, 500, 10**12)):
            stream.step()
    con = stream.store.con
    assert 0 < stream.store.count < len(documents), "the retention window dropped events"
    orphans = con.execute("SELECT count(*) FROM hits WHERE _seq NOT IN (SELECT _seq FROM events)")
    assert orphans.fetchone() == (0,)
    kept = sorted(con.execute("SELECT _seq, rule FROM hits").fetchall())
    con.execute("DELETE FROM hits")
    stream.detector.evaluated_through = 0
    stream.detector.record_hits()
    assert sorted(con.execute("SELECT _seq, rule FROM hits").fetchall()) == kept


def test_a_prune_frees_the_dropped_events_memory_at_once(
    generated: tuple[Path, list[dict[str, Any]]],
) -> None:
    """The store's memory falls with the prune itself, not at some later checkpoint."""
    path, _ = generated
    store = EventStore()
    with DeadLetter(None) as letters:
        store.load_file(path, Pipeline(Scrubber(), letters))

    def used() -> int:
        row = store.con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
        return int(row[0]) if row else 0

    loaded = used()
    cutoff = store.con.execute("SELECT quantile_disc(_ts, 0.9) FROM events").fetchone()
    assert cutoff is not None and store.prune_before(float(cutoff[0])) > store.count
    assert used() < loaded / 3
