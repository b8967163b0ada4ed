"""``llmsiem forget`` on real stores: the person's events and alerts are gone from every
store, every other record is unchanged, a dry run changes nothing, and the audit record
names nobody. The oracle is plain Python over the documents written, not the erasure code."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch

from llmsiem.cli.main import cli
from llmsiem.connectors.files import JsonlSink
from llmsiem.connectors.spool import Cursor, Spool
from llmsiem.deadletter import DeadLetter
from llmsiem.erasure.elastic import ElasticsearchStore
from llmsiem.erasure.forget import forget
from llmsiem.erasure.jsonl import JsonlStore
from llmsiem.erasure.parquet import ParquetStore
from llmsiem.erasure.subject import Subject
from llmsiem.resources import demo_telemetry
from llmsiem.respond.audit import AuditLog
from llmsiem.rule_samples import build_event

CASSETTES = Path(__file__).parent / "cassettes"
ES_URL = os.environ.get("LLMSIEM_TEST_ES_URL", "http://es.test:9200")
TARGET = "u-0021"
AUDIT_KEY = "forget-test-audit-key-0123456789"


@pytest.fixture(autouse=True)
def _away_from_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """forget includes the commands' default files of the working directory: never the
    checkout's."""
    monkeypatch.chdir(tmp_path)


def _owned(document: dict[str, Any]) -> bool:
    """The oracle: the person's own events (user.id or end user id, exactly)."""
    user = (document.get("user") or {}).get("id")
    end_user = ((document.get("llmsiem") or {}).get("end_user") or {}).get("id")
    return TARGET in (user, end_user)


def _events() -> list[dict[str, Any]]:
    """Demo telemetry (over 40 users) plus an end-user event of the person and two near misses."""
    demo = [json.loads(line) for line in demo_telemetry().read_text().splitlines()]
    extra = [
        build_event({"user.id": "u-0099", "llmsiem.end_user.id": TARGET}, 1, "forget"),
        build_event({"user.id": "u-0099", "llmsiem.end_user.id": TARGET + "x"}, 2, "forget"),
        build_event({"user.id": TARGET.upper()}, 3, "forget"),
    ]
    return demo + extra


def _alerts(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerts as detect writes them, plus two multi-user correlations without a user.id."""
    theirs = next(e["event"]["id"] for e in events if _owned(e))
    others = [e["event"]["id"] for e in events if not _owned(e)][:3]

    def correlation(ids: list[str]) -> dict[str, Any]:
        return {
            "event": {"kind": "alert", "id": "corr-" + "-".join(ids)},
            "rule": {"name": "many_users"},
            "llmsiem": {"alert": {"kind": "correlation", "event_ids": ids}},
        }

    singles = [
        {
            "event": {"kind": "alert", "id": f"a-{e['event']['id']}"},
            "user": e["user"],
            "llmsiem": {"alert": {"kind": "detection", "event_ids": [e["event"]["id"]]}},
        }
        for e in events[::7]
    ]
    return [*singles, correlation([others[0], theirs]), correlation(others)]


def _alert_owned(alert: dict[str, Any], owned_ids: set[str]) -> bool:
    return _owned(alert) or bool(owned_ids & set(alert["llmsiem"]["alert"]["event_ids"]))


def _write_jsonl(path: Path, documents: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents))


def _parquet_rows(folder: Path, pattern: str = "*.parquet") -> list[dict[str, Any]]:
    """Every row of every part file as JSON, in file and row order."""
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob(pattern)):
        table = (
            duckdb.connect()
            .execute("SELECT to_json(t) FROM read_parquet(?) t", [str(path)])
            .fetchall()
        )
        rows += [json.loads(value) for (value,) in table]
    return rows


def _ship(source: Path, to: str, dest: Path, spool: Path, batch_size: int) -> None:
    arguments = ["ship", str(source), "--to", to, "--dest", str(dest), "--spool", str(spool)]
    shipped = CliRunner().invoke(cli, [*arguments, "--batch-size", str(batch_size)])
    assert shipped.exit_code == 0, shipped.output


@pytest.fixture(scope="module")
def written_stores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every kind of local store, written by llmsiem itself, holding several users."""
    tmp_path = tmp_path_factory.mktemp("stores")
    events = _events()
    source = tmp_path / "events-in.jsonl"
    _write_jsonl(source, events)
    for to, dest in (("parquet", "cold"), ("jsonl", "siem.jsonl")):
        _ship(source, to, tmp_path / dest, tmp_path / f"spool-{to}", 100)
    pending = Spool(tmp_path / "pending")  # a spool whose sink is down: 250 delivered, rest waiting
    pending.append(events)
    pending.commit(Cursor(0, 250))
    alerts = tmp_path / "alerts.jsonl"
    _write_jsonl(alerts, _alerts(events))
    dead = tmp_path / "dead.jsonl"
    with DeadLetter(dead) as letters:
        letters.write("in.jsonl", 3, "invalid", {"user": {"id": TARGET}, "text": "x"})
        letters.write("in.jsonl", 4, "invalid", {"user": {"id": TARGET + "0"}, "text": "x"})
        letters.write("in.jsonl", 5, "invalid", "not json mentioning u-0021 unquoted")
    return tmp_path


@pytest.fixture
def stores(written_stores: Path, tmp_path: Path) -> dict[str, Any]:
    """A fresh copy of the written stores for one test."""
    shutil.copytree(written_stores, tmp_path, dirs_exist_ok=True)
    events = _events()
    owned_ids = {e["event"]["id"] for e in events if _owned(e)}
    return {
        "root": tmp_path,
        "events": events,
        "owned_ids": owned_ids,
        "before": {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()},
    }


def _forget(root: Path, *extra: str) -> Result:
    arguments = ["forget", "--user", TARGET, "--format", "json"]
    arguments += ["--jsonl", str(root / "siem.jsonl"), "--jsonl", str(root / "alerts.jsonl")]
    arguments += ["--parquet", str(root / "cold"), "--dead-letter", str(root / "dead.jsonl")]
    for spool in ("spool-parquet", "spool-jsonl", "pending"):
        arguments += ["--spool", str(root / spool)]
    arguments += ["--state", str(root / "state")]
    return CliRunner().invoke(cli, [*arguments, *extra])


def test_dry_run_counts_every_store_and_changes_nothing(stores: dict[str, Any]) -> None:
    root, events = stores["root"], stores["events"]
    result = _forget(root)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["dry_run"] is True
    found = {r["location"]: r["found"] for r in report["stores"]}
    owned = sum(map(_owned, events))
    assert owned == 35  # 34 demo events of u-0021 and one where they are the end user
    alerts = [json.loads(line) for line in (root / "alerts.jsonl").read_text().splitlines()]
    assert found == {
        str(root / "spool-parquet"): owned,
        str(root / "spool-jsonl"): owned,
        str(root / "pending"): owned,
        str(root / "cold"): owned,
        str(root / "siem.jsonl"): owned,
        str(root / "alerts.jsonl"): sum(_alert_owned(a, stores["owned_ids"]) for a in alerts),
        str(root / "dead.jsonl"): 1,
    }
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == stores["before"]  # not a byte changed, no audit written


def test_execute_erases_the_person_everywhere_and_keeps_every_other_record(
    stores: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSIEM_AUDIT_KEY", AUDIT_KEY)
    root, events, before = stores["root"], stores["events"], stores["before"]
    result = _forget(root, "--execute", "--request", "ticket-42")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["erased"] == report["found"] > 0

    def kept_lines(path: Path, owned: Any) -> list[bytes]:
        lines = before[path].splitlines(keepends=True)
        return [line for line in lines if not owned(json.loads(line))]

    # JSONL events and spool segments: exactly the other lines, byte for byte, in order
    for path in [root / "siem.jsonl", *root.glob("*/segment-*.jsonl")]:
        assert path.read_bytes().splitlines(keepends=True) == kept_lines(path, _owned), path
    alerts = root / "alerts.jsonl"
    owned_ids = stores["owned_ids"]
    expected = kept_lines(alerts, lambda a: _alert_owned(a, owned_ids))
    assert alerts.read_bytes().splitlines(keepends=True) == expected
    assert any("corr-" in line.decode() for line in expected)  # the other users' correlation
    dead = [json.loads(line) for line in (root / "dead.jsonl").read_text().splitlines()]
    assert [d["line"] for d in dead] == [4, 5]

    # Parquet: the others' rows, none of the person's (row-level equality: the test below)
    rows = _parquet_rows(root / "cold")
    assert sorted(r["event"]["id"] for r in rows) == sorted(
        e["event"]["id"] for e in events if not _owned(e)
    )

    # the pending spool still delivers every undelivered event of the others, once
    delivered = root / "delivered.jsonl"
    Spool(root / "pending").drain(JsonlSink(delivered))
    got = [json.loads(line)["event"]["id"] for line in delivered.read_text().splitlines()]
    assert got == [e["event"]["id"] for e in events[250:] if not _owned(e)]

    # the audit record: keyed chain intact, the person only as an HMAC, no content
    log = AuditLog(root / "state" / "audit.jsonl", AUDIT_KEY.encode())
    assert not log.verify().problems
    (record,) = log.records()
    assert record["kind"] == "erasure" and record["request"] == "ticket-42"
    expected_hmac = hmac.new(AUDIT_KEY.encode(), f"user.id|{TARGET}".encode(), hashlib.sha256)
    assert record["subject_hmac"] == expected_hmac.hexdigest()
    assert TARGET not in log.path.read_text()
    assert record["erased"] == report["erased"]

    again = json.loads(_forget(root).output)
    assert again["found"] == 0


def test_parquet_rows_of_others_are_unchanged(tmp_path: Path) -> None:
    events = _events()
    source = tmp_path / "in.jsonl"
    _write_jsonl(source, events)
    _ship(source, "parquet", tmp_path / "cold", tmp_path / "spool", 64)
    before = _parquet_rows(tmp_path / "cold")
    parts = sorted((tmp_path / "cold").glob("*.parquet"))
    theirs = next(p for p in parts if any(map(_owned, _parquet_rows(p.parent, p.name))))
    orphan = tmp_path / "cold" / "part-orphan.tmp"  # what a ship killed before its rename leaves
    shutil.copyfile(theirs, orphan)
    orphan_before = _parquet_rows(tmp_path / "cold", "part-orphan.tmp")
    assert any(map(_owned, orphan_before))
    report = forget(Subject(TARGET), [ParquetStore(tmp_path / "cold")], execute=True)
    assert not report.failed
    assert report.erased == 35 + sum(map(_owned, orphan_before))
    assert _parquet_rows(tmp_path / "cold") == [r for r in before if not _owned(r)]
    remaining = _parquet_rows(tmp_path / "cold", "part-orphan.tmp")
    assert remaining == [r for r in orphan_before if not _owned(r)]


def test_execute_needs_the_audit_key_and_changes_nothing_without_it(
    stores: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMSIEM_AUDIT_KEY", raising=False)
    result = _forget(stores["root"], "--execute")
    assert result.exit_code == 2 and "LLMSIEM_AUDIT_KEY" in result.output
    after = {p: p.read_bytes() for p in stores["root"].rglob("*") if p.is_file()}
    assert after == stores["before"]


def test_a_busy_spool_fails_alone_and_the_other_stores_are_erased(
    stores: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSIEM_AUDIT_KEY", AUDIT_KEY)
    root = stores["root"]
    shipper = Spool(root / "pending")
    shipper.lock()  # a ship run holds it
    try:
        result = _forget(root, "--execute")
    finally:
        shipper.unlock()
    assert result.exit_code == 1
    report = json.loads(result.output)
    failed = [r for r in report["stores"] if "error" in r]
    assert [r["location"] for r in failed] == [str(root / "pending")]
    assert "ship is not running" in failed[0]["error"]
    assert (root / "pending" / "segment-00000000.jsonl").read_bytes() == stores["before"][
        root / "pending" / "segment-00000000.jsonl"
    ]
    assert not any(_owned(json.loads(line)) for line in (root / "siem.jsonl").open())


def _es_store() -> ElasticsearchStore:
    client = Elasticsearch(
        ES_URL, api_key=os.environ.get("LLMSIEM_TEST_ES_API_KEY", "unused"), max_retries=0
    )
    return ElasticsearchStore(client)


EXACT = {"match_on": ("method", "path", "query", "raw_body")}
"""Requests must carry exactly the recorded body: the documented query, nothing else."""


@pytest.mark.vcr(str(CASSETTES / "es_delete_by_query.handwritten.yaml"), **EXACT)
def test_elasticsearch_counts_then_deletes_by_query(vcr: Any) -> None:
    dry = forget(Subject(TARGET), [_es_store()], execute=False)
    assert (dry.found, dry.erased, dry.failed) == (35, 0, [])
    done = forget(Subject(TARGET), [_es_store()], execute=True)
    assert (done.found, done.erased, done.failed) == (35, 35, [])
    assert vcr.all_played  # _count, then _count and _delete_by_query (conflicts=proceed)


@pytest.mark.vcr(str(CASSETTES / "es_delete_by_query_conflicts.handwritten.yaml"), **EXACT)
def test_elasticsearch_partial_delete_is_a_failure() -> None:
    report = forget(Subject(TARGET), [_es_store()], execute=True)
    (result,) = report.failed
    assert "1 version conflicts" in (result.error or "") and "run forget again" in (
        result.error or ""
    )


def test_forget_takes_the_stores_of_a_routes_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSIEM_AUDIT_KEY", AUDIT_KEY)
    routes = tmp_path / "routes.yml"
    routes.write_text(
        f"sinks:\n  cold: {{type: parquet, dest: {tmp_path}/cold}}\n"
        f"  siem: {{type: jsonl, dest: {tmp_path}/siem.jsonl}}\n"
        "routes:\n  - {name: all, to: cold}\n"
        "  - {name: tools, to: siem, when: {field: event.action, equals: tool_call}}\n"
    )
    source = tmp_path / "in.jsonl"
    _write_jsonl(source, _events())
    arguments = ["ship", str(source), "--routes", str(routes), "--spool", str(tmp_path / "sp")]
    assert CliRunner().invoke(cli, arguments).exit_code == 0
    siem_before = (tmp_path / "siem.jsonl").read_bytes().splitlines(keepends=True)
    forget_args = ["forget", "--user", TARGET, "--routes", str(routes), "--format", "json"]
    forget_args += ["--spool", str(tmp_path / "sp"), "--state", str(tmp_path / "state")]
    result = CliRunner().invoke(cli, [*forget_args, "--execute"])
    assert result.exit_code == 0, result.output
    erased = {r["location"]: r["erased"] for r in json.loads(result.output)["stores"]}
    tools = sum(1 for e in _events() if _owned(e) and e["event"]["action"] == "tool_call")
    assert erased == {
        str(tmp_path / "sp" / "cold"): 35,
        str(tmp_path / "sp" / "siem"): tools,
        str(tmp_path / "cold"): 35,
        str(tmp_path / "siem.jsonl"): tools,
        str(tmp_path / "state"): 0,
    }
    kept = [line for line in siem_before if not _owned(json.loads(line))]
    assert (tmp_path / "siem.jsonl").read_bytes().splitlines(keepends=True) == kept
    assert json.loads(CliRunner().invoke(cli, forget_args).output)["found"] == 0


@pytest.mark.vcr(str(CASSETTES / "es_delete_by_query.handwritten.yaml"), **EXACT)
def test_cli_counts_in_elasticsearch_and_incident_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSIEM_ES_URL", ES_URL)
    arguments = ["forget", "--user", TARGET, "--elasticsearch", "--format", "json"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    (store,) = json.loads(result.output)["stores"]
    assert store == {
        "kind": "elasticsearch",
        "location": "logs-llm-*,llmsiem-incidents",
        "found": 35,
        "erased": 0,
    }


def test_the_default_files_of_the_commands_are_found_without_options(
    stores: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = stores["root"]
    (root / "alerts.jsonl").rename(root / "llmsiem-alerts.jsonl")  # collect --alerts default
    (root / "dead.jsonl").rename(root / "llmsiem-deadletter.jsonl")  # --dead-letter default
    (root / "pending").rename(root / ".llmsiem-spool")  # ship --spool default
    monkeypatch.chdir(root)
    result = CliRunner().invoke(cli, ["forget", "--user", TARGET, "--format", "json"])
    assert result.exit_code == 0, result.output
    found = {r["location"]: r["found"] for r in json.loads(result.output)["stores"]}
    assert found[".llmsiem-spool"] == 35 and found["llmsiem-deadletter.jsonl"] == 1
    assert found["llmsiem-alerts.jsonl"] > 0


def test_ids_a_json_encoder_escapes_are_still_found(tmp_path: Path) -> None:
    person = 'renée/ö"q'
    events = [
        build_event({"user.id": person}, 1, "esc"),
        build_event({"user.id": "renee"}, 2, "esc"),
        build_event({"llmsiem.end_user.id": person}, 3, "esc"),
    ]
    path = tmp_path / "escaped.jsonl"  # written by an encoder that escapes non-ASCII and '/'
    path.write_text("".join(json.dumps(e).replace("/", "\\/") + "\n" for e in events))
    kept = path.read_bytes().splitlines(keepends=True)[1]
    report = forget(Subject(person), [JsonlStore(path)], execute=True)
    assert report.erased == 2 and path.read_bytes() == kept


def test_a_torn_last_line_naming_the_person_goes_too(tmp_path: Path) -> None:
    theirs, other = (build_event({"user.id": u}, n, "torn") for n, u in enumerate([TARGET, "x"]))
    path = tmp_path / "events.jsonl"  # a crash mid-append leaves half a line
    whole = json.dumps(other) + "\n"
    path.write_text(whole + json.dumps(theirs)[:200])
    assert f'"{TARGET}"' in path.read_text().splitlines()[1]
    assert forget(Subject(TARGET), [JsonlStore(path)], execute=True).erased == 1
    assert path.read_text() == whole


def test_response_records_are_counted_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmsiem.respond.state import Approval, StateStore

    monkeypatch.setenv("LLMSIEM_AUDIT_KEY", AUDIT_KEY)
    state = tmp_path / "state"
    store = StateStore(state / "respond.db")
    for n, (principal, user) in enumerate([(TARGET, TARGET), ("key-9", TARGET), ("x", "y")]):
        alert = {"event": {"id": f"a{n}"}, "user": {"id": user}}
        store.add_approval(
            Approval(f"ap{n}", "run", "pb/block", "impl", alert, {}, principal, {}, 0, 9, "pending")
        )
    store.db.close()
    log = AuditLog(state / "audit.jsonl", AUDIT_KEY.encode())
    log.append("request", run_id="run", action="pb/block", principal=TARGET)
    log.append("request", run_id="run", action="pb/block", principal=TARGET + "0")
    database_before = (state / "respond.db").read_bytes()
    arguments = ["forget", "--user", TARGET, "--state", str(state), "--format", "json"]
    result = CliRunner().invoke(cli, [*arguments, "--execute"])
    assert result.exit_code == 0, result.output
    (kept,) = json.loads(result.output)["stores"]
    assert kept["found"] == 3 and kept["erased"] == 0 and "Art. 17(3)" in kept["retained"]
    assert (state / "respond.db").read_bytes() == database_before
    records = log.records()
    assert [r["kind"] for r in records] == ["request", "request", "erasure"]
    assert not log.verify().problems
