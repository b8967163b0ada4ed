"""Hostile input: one bad record never costs a good one, and no traceback reaches the user.

The corpus (tests/hostile/, written by make_corpus.py) holds each case of issue 17 between
two copies of a good record of the same source. The oracle is the good record run alone:
a mixed file must give exactly twice its events, and the hostile line (line 2) must be in
the dead letter. File-type cases (a directory named x.jsonl, a dangling link, a FIFO, a
link to /dev/zero) are built per test; a hypothesis fuzz test mutates good records.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmsiem.cli.main import cli
from llmsiem.columns import columns_sql, read_json_columns, table_columns
from llmsiem.deadletter import DeadLetter
from llmsiem.engine.chunks import CHUNK_LINES
from llmsiem.engine.store import EventStore, LoadReport
from llmsiem.pipeline import Pipeline
from llmsiem.records import iter_jsonl
from llmsiem.scrub import Scrubber
from llmsiem.synthetic import generate

CORPUS = Path(__file__).parent / "hostile"
CASES = sorted(CORPUS.glob("*.jsonl"))


def _letters(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().split("\n") if line]


def _events_of(path: Path, dead: Path) -> list[dict[str, Any]]:
    with DeadLetter(dead) as letters:
        pipeline = Pipeline(Scrubber(), letters)
        return [event.document for event in pipeline.file_events(path)]


def _good_alone(case: Path, tmp_path: Path) -> int:
    good = tmp_path / "good.jsonl"
    good.write_text(case.read_text().splitlines()[0] + "\n")
    return len(_events_of(good, tmp_path / "good-dead.jsonl"))


def test_corpus_holds_every_case_of_the_issue() -> None:
    names = {case.stem.split("__")[1] for case in CASES}
    assert len(names) == 17, names
    assert {"deep_json_10000", "message_nested_900", "integer_above_int64"} <= names


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_pipeline_dead_letters_the_hostile_record_and_keeps_the_good(
    case: Path, tmp_path: Path
) -> None:
    good = _good_alone(case, tmp_path)
    assert good > 0
    dead = tmp_path / "dead.jsonl"
    events = _events_of(case, dead)
    letters = _letters(dead)
    assert len(events) >= 2 * good  # a partly good record may still give some events
    assert any(letter["line"] == 2 and letter["reason"] for letter in letters), letters
    assert all(letter["source"] == str(case) for letter in letters)


def test_ingest_and_detect_on_the_corpus_exit_1_without_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    ingest_dead, detect_dead = tmp_path / "ingest-dead.jsonl", tmp_path / "detect-dead.jsonl"
    out = tmp_path / "out.jsonl"
    args = ["--dead-letter", str(ingest_dead), "--out", str(out), "--format", "json"]
    result = runner.invoke(cli, ["ingest", str(CORPUS), *args])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    summary = json.loads(result.stdout)
    assert summary["events"] == len(out.read_text().splitlines())
    hostile_lines = {(str(c), 2) for c in CASES}
    assert hostile_lines <= {(x["source"], x["line"]) for x in _letters(ingest_dead)}

    result = runner.invoke(
        cli,
        [
            "detect",
            str(CORPUS),
            "--dead-letter",
            str(detect_dead),
            "--alerts",
            str(tmp_path / "alerts.jsonl"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert json.loads(result.stdout)["events"] == summary["events"]  # same validation
    assert hostile_lines <= {(x["source"], x["line"]) for x in _letters(detect_dead)}


def _strange_directory(tmp_path: Path) -> tuple[Path, int]:
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "x.jsonl").mkdir()
    (folder / "dangling.jsonl").symlink_to(tmp_path / "missing")
    os.mkfifo(folder / "fifo.jsonl")
    (folder / "zero.jsonl").symlink_to("/dev/zero")
    good = (CORPUS / "jsonl__integer_above_int64.jsonl").read_text().splitlines()[0]
    (folder / "good.jsonl").write_text(good + "\n")
    return folder, 4


@pytest.mark.parametrize("command", ["ingest", "detect"])
def test_non_regular_files_are_skipped_with_a_message(command: str, tmp_path: Path) -> None:
    folder, strange = _strange_directory(tmp_path)
    dead = tmp_path / "dead.jsonl"
    args = ["--out", str(tmp_path / "o.jsonl")] if command == "ingest" else []
    if command == "detect":
        args = ["--alerts", str(tmp_path / "alerts.jsonl")]
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "llmsiem"),
            command,
            str(folder),
            "--dead-letter",
            str(dead),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,  # a FIFO or /dev/zero read would hang or grow without bound
        check=False,
    )
    assert "Traceback" not in run.stderr + run.stdout
    assert run.returncode == 1, run.stderr
    reasons = {Path(x["source"]).name: x["reason"] for x in _letters(dead)}
    assert len(reasons) == strange
    assert "directory" in reasons["x.jsonl"] and "FIFO" in reasons["fifo.jsonl"]
    assert "dangling" in reasons["dangling.jsonl"] and "device" in reasons["zero.jsonl"]


def test_line_length_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSIEM_MAX_LINE_BYTES", "4096")
    good = (CORPUS / "jsonl__integer_above_int64.jsonl").read_text().splitlines()[0]
    long_line = json.dumps({"x": "a" * 100_000})
    path = tmp_path / "long.jsonl"
    path.write_text(f"{good}\n{long_line}\n{good}\n")
    dead = tmp_path / "dead.jsonl"
    assert len(_events_of(path, dead)) == 2
    (letter,) = _letters(dead)
    assert letter["line"] == 2 and "longer than 4,096 bytes" in letter["reason"]
    with DeadLetter(tmp_path / "d2.jsonl") as letters:
        report = EventStore().load_file(path, Pipeline(Scrubber(), letters))
    assert (report.loaded, report.rejected) == (2, 1)


def test_detect_fast_path_rejects_what_ingest_rejects(tmp_path: Path) -> None:
    good = json.loads((CORPUS / "jsonl__integer_above_int64.jsonl").read_text().splitlines()[0])
    unknown = {**good, "bogus": 1}
    nested = json.loads(json.dumps(good))
    nested["event"]["nonsense"] = "x"
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in (good, unknown, nested, good)))
    with DeadLetter(tmp_path / "dead.jsonl") as letters:
        report = EventStore().load_file(path, Pipeline(Scrubber(), letters))
    assert (report.loaded, report.rejected) == (2, 2)
    assert {x["line"] for x in _letters(tmp_path / "dead.jsonl")} == {2, 3}


def test_staged_events_never_have_a_name_in_the_temp_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even SIGKILL mid-load leaves no plaintext file: none is visible while DuckDB reads."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[list[Path]] = []
    insert = EventStore._insert_from_json

    def watching(self: EventStore, path: Path, source: str, meta: tuple[str, ...] = ()) -> int:
        seen.append(list(tmp_path.iterdir()))
        return insert(self, path, source, meta)

    monkeypatch.setattr(EventStore, "_insert_from_json", watching)
    otlp = CORPUS / "otlp__otlp_span_string.jsonl"  # a non-normalized source: staged load
    with DeadLetter(None) as letters:
        report = EventStore().load_events(Pipeline(Scrubber(), letters).file_events(otlp))
    assert report.loaded > 0 and seen == [[]]


GOOD = {
    case.stem.split("__")[0]: json.loads(case.read_text().splitlines()[0])
    for case in CASES
    if case.stem.split("__")[0] in ("jsonl", "litellm", "otlp", "langfuse")
}
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.text(st.sampled_from(["a", "\u00e9", "\ud83d", "\ude00", "\udfff"]), max_size=4),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            found += _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found += _paths(sub, (*prefix, index))
    return found


def _mutated(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(record))
    if not path:
        return {"value": value}
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return dict(copy)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from(sorted(GOOD)),
    choice=st.integers(min_value=0),
    value=JSON_VALUES,
    deep=st.integers(min_value=0, max_value=3000),
)
def test_fuzz_mutated_records_never_escape(source: str, choice: int, value: Any, deep: int) -> None:
    good = GOOD[source]
    paths = _paths(good)
    bad = _mutated(good, paths[choice % len(paths)], value)
    lines = [json.dumps(good).encode(), json.dumps(bad).encode(), json.dumps(good).encode()]
    lines.insert(2, b'{"a": ' + b"[" * deep + b"]" * deep + b"}")
    letters = _Lines()
    pipeline = Pipeline(Scrubber(), letters)
    alone = list(Pipeline(Scrubber(), DeadLetter(None)).events(iter_jsonl(lines[:1], "f")))
    events = list(pipeline.events(iter_jsonl(lines, "f")))  # never raises
    by_line = {n: [e for e in events if e.line == n] for n in (1, 2, 3, 4)}
    assert len(by_line[1]) == len(by_line[4]) == len(alone)  # every good record kept
    assert not by_line[3] and 3 in letters.lines  # not an event: dead-lettered
    # the mutated record: every event it should give, or a dead letter for what it lost
    assert len(by_line[2]) == len(alone) or 2 in letters.lines
    for event in events:  # every event can be written out, as every sink writes: UTF-8 JSON
        orjson.dumps(event.document)


class _Lines(DeadLetter):
    """A dead letter that remembers which lines it took."""

    def __init__(self) -> None:
        super().__init__(None)
        self.lines: set[int] = set()

    def write(self, source: str, line: int, reason: str, raw: Any) -> None:
        assert reason
        self.lines.add(line)
        super().write(source, line, reason, raw)


def test_a_corrupt_parquet_file_is_a_dead_letter_and_exit_1(tmp_path: Path) -> None:
    corrupt = tmp_path / "torn.parquet"
    corrupt.write_bytes(b"PAR1" + os.urandom(64))
    dead = tmp_path / "dead.jsonl"
    args = ["detect", str(corrupt), "--dead-letter", str(dead), "--format", "json"]
    result = CliRunner().invoke(cli, [*args, "--alerts", str(tmp_path / "a.jsonl")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert json.loads(result.stdout)["rejected"] == 1
    (letter,) = _letters(dead)
    assert letter["source"] == str(corrupt) and "cannot read as Parquet" in letter["reason"]


@pytest.mark.parametrize("command", ["detect", "ingest", "ship"])
def test_a_lone_surrogate_escape_is_dead_lettered_exactly_and_the_rest_loads(
    command: str, tmp_path: Path
) -> None:
    """``"\\ud800"`` is valid JSON but decodes to a character UTF-8 cannot hold: the line
    is dead-lettered with its line number, the entry keeps it exactly, the good lines load.
    In a field the schema checks (a time, an enumeration) and in free text, a free-form
    object and a key, where nothing but the surrogate is wrong."""
    lines = [json.dumps(document) for document in generate(20, seed=4)]
    lines[6] = lines[6].replace('"@timestamp": "', '"@timestamp": "\\ud800', 1)
    lines[9] = lines[9].replace('"action": "', '"action": "x\\udfff', 1)
    lines[11] = lines[11].replace('"name": "support-bot"', '"name": "support\\ud83d-bot"', 1)
    lines[13] = lines[13][:-1] + ', "labels": {"team": "a\\udc00"}}'
    lines[15] = lines[15][:-1] + ', "labels": {"te\\ud83dam": "a"}}'
    assert all("\\ud" in lines[i] for i in (6, 9, 11, 13, 15))
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    dead, spool = tmp_path / "dead.jsonl", str(tmp_path / "spool")
    out = {
        "detect": ["--alerts", str(tmp_path / "out.jsonl")],
        "ingest": ["--out", str(tmp_path / "out.jsonl")],
        "ship": ["--to", "jsonl", "--dest", str(tmp_path / "out.jsonl"), "--spool", spool],
    }[command]
    result = CliRunner().invoke(
        cli, [command, str(source), "--dead-letter", str(dead), "--format", "json", *out]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    if command != "ship":
        assert json.loads(result.stdout)["events"] == len(lines) - 5
    else:
        shipped = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(shipped) == len(lines) - 5
    letters = _letters(dead)
    assert [letter["line"] for letter in letters] == [7, 10, 12, 14, 16]
    kept = [Scrubber().scrub_raw(lines[i]) for i in (6, 9, 11, 13, 15)]  # the line, scrubbed
    assert [letter["raw"] for letter in letters] == kept
    assert all("lone surrogate" in letter["reason"] for letter in letters)


@pytest.mark.parametrize("command", [["validate", "--rules"], ["test"], ["detect", "--rules"]])
def test_a_rule_file_that_is_not_utf8_is_named_without_a_traceback(
    command: list[str], tmp_path: Path
) -> None:
    rule = tmp_path / "latin1.yml"
    rule.write_bytes("title: Caf\xe9 rule\n".encode("latin-1"))
    result = CliRunner().invoke(cli, [*command, str(rule)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert f"{rule}: not UTF-8 text" in result.output


def test_follow_refuses_a_parquet_file(tmp_path: Path) -> None:
    parquet = tmp_path / "events.parquet"
    parquet.write_bytes(b"PAR1" + bytes(64) + b"PAR1")
    dead = tmp_path / "dead.jsonl"
    result = CliRunner().invoke(
        cli, ["detect", "--follow", str(parquet), "--dead-letter", str(dead)]
    )
    assert result.exit_code == 2, result.output
    assert f"{parquet}: --follow tails appended lines" in result.output
    assert not dead.exists()  # nothing read as lines


@pytest.mark.parametrize(
    "command",
    [
        ["compile", "--target", "splunk-spl", "--tuning"],
        ["detect", "-", "--tuning"],
        ["forget", "--user", "u-1", "--routes"],
    ],
)
def test_a_bad_tuning_or_routes_file_is_one_named_error(command: list[str], tmp_path: Path) -> None:
    for bad in (b"\xff\xfe not text", b"- [unclosed"):
        path = tmp_path / "bad.yml"
        path.write_bytes(bad)
        result = CliRunner().invoke(cli, [*command, str(path)], input="")
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
        assert result.output.count(f"{path}:") == 1, result.output  # once, not once per rule


def test_generate_refuses_a_negative_count(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generate", "--count", "-5", "--out", str(tmp_path / "g")])
    assert result.exit_code == 2 and "--count" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["schema", "export", "--out", "{out}"],
        ["ingest", "{input}", "--out", "{out}", "--dead-letter", "{dead}"],
        ["detect", "{input}", "--alerts", "{out}", "--dead-letter", "{dead}"],
        ["ship", "{input}", "--to", "parquet", "--dest", "{out}", "--dead-letter", "{dead}"],
        ["compile", "--target", "splunk-spl", "--out", "{out}"],
    ],
)
def test_an_output_path_that_cannot_be_written_is_named_exit_2(
    command: list[str], tmp_path: Path
) -> None:
    good = (CORPUS / "jsonl__integer_above_int64.jsonl").read_text().splitlines()[0]
    (tmp_path / "in.jsonl").write_text(good + "\n")
    out = tmp_path / "missing-folder" / "nested" / "out.jsonl"
    (tmp_path / "missing-folder").write_text("a file, not a folder")
    paths = {"out": out, "input": tmp_path / "in.jsonl", "dead": tmp_path / "dead.jsonl"}
    result = CliRunner().invoke(cli, [a.format(**paths) for a in command])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "error: " in result.output and str(tmp_path / "missing-folder") in result.output


def test_a_bug_is_one_line_and_a_private_traceback_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llmsiem.cli.generate_cmd as generate_cmd

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("gen_ai.request.model")

    monkeypatch.setattr(generate_cmd, "generate", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.delenv("LLMSIEM_DEBUG", raising=False)
    result = CliRunner().invoke(cli, ["generate", "--count", "3", "--out", str(tmp_path / "g")])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "internal error (a bug in llmsiem" in result.output
    assert "Traceback" not in result.output
    (report,) = tmp_path.glob("llmsiem-crash-*.txt")
    assert "KeyError" in report.read_text() and (report.stat().st_mode & 0o077) == 0
    monkeypatch.setenv("LLMSIEM_DEBUG", "1")
    debug = CliRunner().invoke(cli, ["generate", "--count", "3", "--out", str(tmp_path / "g")])
    assert isinstance(debug.exception, KeyError)


def _documents(store: EventStore) -> list[tuple[int, str]]:
    """Every loaded row as its line and its document's JSON text."""
    members = ", ".join(
        f'"{c}" := ' + (f'CAST("{c}" AS VARCHAR)' if c == "@timestamp" else f'"{c}"')
        for c in table_columns()
    )
    query = f"SELECT _line, to_json(struct_pack({members})) FROM events ORDER BY _line"
    return [(int(line), str(document)) for line, document in store.con.execute(query).fetchall()]


def _bulk_matches_per_record(
    path: Path, tmp_path: Path, chunk_lines: int = CHUNK_LINES
) -> tuple[LoadReport, set[int]]:
    """Load ``path`` on the bulk path (in chunks of ``chunk_lines``) and through the
    per-record pipeline (what ``ingest`` and ``ship`` run, the oracle); assert both load the
    same lines as the same documents and dead-letter the same lines. Returns the bulk
    load's report and the dead lines."""
    bulk, per_record = EventStore(), EventStore()
    with DeadLetter(tmp_path / "bulk.jsonl") as letters:
        report = bulk.load_file(path, Pipeline(Scrubber(), letters), chunk_lines)
    with DeadLetter(tmp_path / "per-record.jsonl") as letters:
        per_record.load_events(Pipeline(Scrubber(), letters).file_events(path))
    assert _documents(bulk) == _documents(per_record)
    dead = {x["line"] for x in _letters(tmp_path / "bulk.jsonl")}
    assert dead == {x["line"] for x in _letters(tmp_path / "per-record.jsonl")}
    return report, dead


ODD_KEYS = ["x", "a.b", 'q"uote', "it's", "é", "", " ", "user.id", "llmsiem.prompt.text",
            "\u2028", "[0]", "$", "a\\b"]  # fmt: skip
"""Names outside the schema at every level: dotted ones (a top-level "user.id" is not the
schema's user.id), quotes, spaces, the empty name, JSON-path syntax."""


def _objects(node: Any) -> list[dict[str, Any]]:
    """Every object of a document, the document itself first."""
    if not isinstance(node, dict):
        return []
    return [node, *(o for value in node.values() for o in _objects(value))]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_path_quarantines_exactly_the_keys_the_pipeline_rejects(
    seed: int, tmp_path: Path
) -> None:
    """``detect`` reads normalized JSONL on DuckDB's bulk path; the per-record pipeline
    (what ``ingest`` and ``ship`` run) is its oracle. With a key outside the schema added
    at some level of every other line, the same lines load, as the same documents, and the
    same lines are dead-lettered."""
    rng = random.Random(seed)
    documents = list(islice(generate(300, seed=seed, attack_every=5), 300))
    for document in documents[1::2]:
        rng.choice(_objects(document))[rng.choice(ODD_KEYS)] = rng.choice([1, "v", [1], {}])
    path = tmp_path / "broken.jsonl"
    path.write_text(
        "".join(json.dumps(d, ensure_ascii=bool(n % 3)) + "\n" for n, d in enumerate(documents)),
        encoding="utf-8",
    )
    report, dead = _bulk_matches_per_record(path, tmp_path)
    assert report.quarantined == len(documents) // 2 == report.rejected
    assert dead == set(range(2, len(documents) + 1, 2))


def _leaves(node: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(node, dict):
        return [path]
    return [leaf for key, value in node.items() for leaf in _leaves(value, (*path, key))]


def _constraint_broken(document: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The document with one member removed, or one value replaced by another of the same
    JSON type that may break a constraint (an enumeration, a pattern, a bound, a length, an
    address), so that DuckDB's typed read still takes it."""
    copy = json.loads(json.dumps(document))
    *parents, leaf = rng.choice(_leaves(copy))
    node = copy
    for key in parents:
        node = node[key]
    value = node[leaf]
    if rng.random() < 0.3:
        del node[leaf]
    elif isinstance(value, bool):
        node[leaf] = not value
    elif isinstance(value, int | float):
        node[leaf] = rng.choice([-1, 0, 7])
    elif isinstance(value, str) and leaf not in ("@timestamp", "created", "ingested"):
        node[leaf] = rng.choice(["", "bogus", "DEADBEEF", "a" * 64, "10.0.0.256", "sk-" + "x" * 24])
    elif isinstance(value, list):
        node[leaf] = rng.choice([[*value, None], [], ["bogus"]])
    return copy


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_path_rejects_the_constraint_breaks_the_pipeline_rejects(
    seed: int, tmp_path: Path
) -> None:
    """With a member removed or a value changed on every other line, the bulk path loads
    the same lines as the same documents (with the defaults the model fills in for a
    removed member) and dead-letters the same lines as the per-record pipeline."""
    rng = random.Random(seed)
    documents = list(islice(generate(300, seed=seed, attack_every=5), 300))
    lines = [
        json.dumps(_constraint_broken(d, rng) if n % 2 else d) for n, d in enumerate(documents)
    ]
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report, dead = _bulk_matches_per_record(path, tmp_path)
    assert report.quarantined >= report.rejected == len(dead) > 20


DATE_PARTS = {
    "year": ["2026", "0001", "9999", "0000", "12026", "26"],
    "month": ["12", "02", "1", "00", "13"],
    "day": ["01", "31", "30", "1", "00"],
    "separator": ["T", " ", "t", "", "TT"],
    "time": [
        "10:00:00", "10:00", "10", "00:00:00", "23:59:59", "24:00:00", "23:59:60", "1:00:00",
        "10:00:00.123", "10:00:00.1234567", "10:00:00.9999999", "10:00:00.", "10:00:00,5",
    ],
    "zone": ["Z", "+02:00", "+0200", "-00:00", "+23:59", "z", "", "+02", "+24:00", "+02:60",
             " +02:00", "UTC", "+02:00[Europe/Paris]"],
    "padding": ["", " ", "\t"],
}  # fmt: skip
"""The parts of a date string: ISO 8601 and what is near it, which DuckDB and the model
read alike, read differently, or refuse alike."""


def _date(parts: dict[str, str]) -> str:
    p = parts
    return (
        f"{p['padding']}{p['year']}-{p['month']}-{p['day']}{p['separator']}{p['time']}{p['zone']}"
    )


def _date_strings(count: int, seed: int) -> list[str]:
    """Every part varied alone around the first of each, then ``count`` random mixes."""
    first = {name: values[0] for name, values in DATE_PARTS.items()}
    alone = [_date({**first, name: v}) for name, values in DATE_PARTS.items() for v in values]
    rng = random.Random(seed)
    mixed = [_date({n: rng.choice(v) for n, v in DATE_PARTS.items()}) for _ in range(count)]
    return list(dict.fromkeys(alone + mixed))


def test_bulk_path_reads_dates_as_the_pipeline_does(tmp_path: Path) -> None:
    """Date strings around ISO 8601 in each date field (a time without a zone, an hour 24,
    a zone of hours alone, blanks, a day that does not exist...): the bulk path loads the
    same lines as the same documents (the same instant) and dead-letters the same lines
    as the per-record pipeline. DuckDB reads some of them where the model refuses them,
    so only ISO 8601 with a zone stays on the bulk path; the rest is quarantined. Chunks
    of 8 lines keep the lines DuckDB cannot read below the retries of a chunk."""
    document = next(iter(generate(1, seed=3)))
    lines = [
        json.dumps(_mutated(document, field, date))
        for date in _date_strings(60, seed=11)
        for field in (("@timestamp",), ("event", "created"), ("event", "ingested"))
    ]
    path = tmp_path / "dates.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report, dead = _bulk_matches_per_record(path, tmp_path, chunk_lines=8)
    assert 50 < len(dead) < len(lines) - 50, (len(lines), len(dead))
    assert len(lines) - len(dead) > report.quarantined - report.rejected > 0


def test_bulk_path_refuses_a_raw_api_key_as_the_pipeline_does(tmp_path: Path) -> None:
    """The model's validator (no raw secret as an API key's id or alias) holds on the bulk
    path too: ids and aliases around its prefix and length limits load and dead-letter as
    in the per-record pipeline."""
    documents = list(islice(generate(200, seed=7, attack_every=5), 200))
    names = [prefix + "x" * size for prefix in ("sk-", "sk_", "AKIA", "ghp_", "xoxb-", "pk-", "")
             for size in (0, 15, 16, 17, 18, 30)]  # fmt: skip
    changed = 0
    for n, document in enumerate(documents):
        api_key = document.get("llmsiem", {}).get("api_key")
        if api_key:
            api_key["id" if n % 2 else "alias"] = names[n % len(names)]
            changed += 1
    path = tmp_path / "keys.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    report, dead = _bulk_matches_per_record(path, tmp_path)
    assert changed > 100
    assert report.quarantined >= len(dead)  # the pipeline scrubs first: some keys go
    assert 10 < len(dead) < changed


def test_bulk_path_fills_the_model_defaults_as_the_pipeline_does(tmp_path: Path) -> None:
    """Members the model fills in when a line leaves them out (the ``llmsiem`` object
    itself, ``event.kind``/``category``/``type``/``dataset``, a redaction's ``types`` and
    ``count``) are filled in on the bulk path too, to the same documents."""
    documents = list(islice(generate(120, seed=11, attack_every=5), 120))
    for n, document in enumerate(documents):
        if n % 4 == 1:
            document.pop("llmsiem", None)
        elif n % 4 == 2:
            document.setdefault("llmsiem", {})["redaction"] = {"mode": "redact"}
        elif n % 4 == 3:
            for member in ("kind", "category", "type", "dataset"):
                document["event"].pop(member, None)
    path = tmp_path / "defaults.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    report, dead = _bulk_matches_per_record(path, tmp_path)
    assert not dead
    assert report.quarantined == 0  # all on the bulk path


@pytest.mark.parametrize("seed", [1, 2])
def test_parquet_path_rejects_the_constraint_breaks_the_pipeline_rejects(
    seed: int, tmp_path: Path
) -> None:
    """The Parquet path checks the schema's constraints on the columns it reads: with a
    member removed or a value changed on every other row, it loads and dead-letters the
    same rows (by row number) as the per-record pipeline does the same documents."""
    rng = random.Random(seed)
    documents = list(islice(generate(300, seed=seed, attack_every=5), 300))
    lines = [
        json.dumps(_constraint_broken(d, rng) if n % 2 else d) for n, d in enumerate(documents)
    ]
    jsonl, parquet = tmp_path / "broken.jsonl", tmp_path / "broken.parquet"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    EventStore().con.execute(
        f"""COPY (SELECT * FROM read_json(?, format = 'newline_delimited',
                                           columns = {columns_sql(read_json_columns())}))
            TO '{parquet}' (FORMAT parquet)""",
        [str(jsonl)],
    )
    bulk, per_record = EventStore(), EventStore()
    with DeadLetter(tmp_path / "bulk.jsonl") as letters:
        bulk.load_parquet(parquet, Pipeline(Scrubber(), letters))
    with DeadLetter(tmp_path / "per-record.jsonl") as letters:
        per_record.load_events(Pipeline(Scrubber(), letters).file_events(jsonl))
    query = "SELECT _line FROM events ORDER BY _line"
    assert bulk.con.execute(query).fetchall() == per_record.con.execute(query).fetchall()
    dead = {x["line"] for x in _letters(tmp_path / "bulk.jsonl")}
    assert dead == {x["line"] for x in _letters(tmp_path / "per-record.jsonl")}
    assert len(dead) > 20
