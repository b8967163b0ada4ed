"""Delivery to Elasticsearch and Splunk HEC: whole-request answers, retries, transport errors.

Against a loopback ``_bulk`` endpoint (tests/fake_bulk.py) that answers as Elasticsearch
documents it; the CLI runs in-process through click's runner, so a traceback would show as
an exception that is not ``SystemExit``.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from fake_bulk import API_KEY, BulkState, bulk_endpoint
from llmsiem.cli.main import cli
from llmsiem.connectors.elastic import ElasticsearchSink, document_id
from llmsiem.connectors.sink import RetryPolicy
from llmsiem.connectors.spool import Spool
from llmsiem.deadletter import DeadLetter
from llmsiem.rule_samples import build_event


def _events(count: int) -> list[dict[str, Any]]:
    return [
        build_event({"event.id": f"evt-{n}", "llmsiem.prompt.text": f"hello {n}"}, n, "sink")
        for n in range(1, count + 1)
    ]


def _input(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in _events(count)))
    return path


def _ship(url: str, spool: Path, tmp_path: Path, *inputs: Path, key: str = API_KEY) -> Any:
    return CliRunner().invoke(
        cli,
        [
            "ship",
            *map(str, inputs),
            "--to",
            "elasticsearch",
            "--dest",
            url,
            "--spool",
            str(spool),
            "--batch-size",
            "20",
            "--dead-letter",
            str(tmp_path / "dead.jsonl"),
        ],
        env={"LLMSIEM_ES_API_KEY": key, "LLMSIEM_RETRY_DEADLINE": "2"},
    )


def _unsent(spool: Path) -> int:
    store = Spool(spool)
    return len(store.read_batch(store.cursor(), 10**6)[0])


@pytest.mark.parametrize(("status", "key"), [(401, "wrong-key"), (403, API_KEY), (404, API_KEY)])
def test_whole_request_auth_or_not_found_stops_with_the_spool_untouched(
    status: int, key: str, tmp_path: Path
) -> None:
    state = BulkState(whole_status=None if status == 401 else status)
    spool = tmp_path / "spool"
    with bulk_endpoint(state) as url:
        result = _ship(url, spool, tmp_path, _input(tmp_path, 50), key=key)
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
        assert str(status) in result.output and "delivered 50" not in result.output
        assert _unsent(spool) == 50 and not (tmp_path / "dead.jsonl").exists()
        state.whole_status = None
        fixed = _ship(url, spool, tmp_path)  # the right key, the same spool
    assert fixed.exit_code == 0, fixed.output
    assert _unsent(spool) == 0 and len(state.created) == 50


def test_413_splits_the_batch(tmp_path: Path) -> None:
    events = _events(40)
    one = len(json.dumps(events[0])) + 200
    state = BulkState(max_body=one * 3)
    with bulk_endpoint(state) as url, DeadLetter(None) as letters:
        report = ElasticsearchSink(Elasticsearch(url, api_key=API_KEY), letters).send(events)
    assert (report.sent, report.dead_lettered, report.complete) == (40, 0, True)
    assert set(state.created) == {document_id(e) for e in events}


def test_constant_429_ends_at_the_deadline(tmp_path: Path) -> None:
    state = BulkState(whole_status=429)
    retry = RetryPolicy(deadline=3.0, initial=0.2, ceiling=1.0)
    with bulk_endpoint(state) as url, DeadLetter(None) as letters:
        client = Elasticsearch(url, api_key=API_KEY)
        started = time.monotonic()
        report = ElasticsearchSink(client, letters, retry=retry).send(_events(500))
        took = time.monotonic() - started
    assert report.retryable == 500 and not report.complete
    assert took < 4.5 and state.requests <= 8  # one policy: no retry layers multiplying


def test_item_429s_are_retried_until_every_item_is_in(tmp_path: Path) -> None:
    state = BulkState(item_429=0.3)
    retry = RetryPolicy(deadline=30, initial=0.01)
    with bulk_endpoint(state) as url, DeadLetter(None) as letters:
        client = Elasticsearch(url, api_key=API_KEY)
        report = ElasticsearchSink(client, letters, retry=retry).send(_events(100))
    assert report.complete and report.sent == 100 and report.retries > 0


@pytest.mark.parametrize("outage", ["503", "drop", "refused"])
def test_outages_end_in_exit_2_with_a_message(outage: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    if outage == "refused":
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{free.getsockname()[1]}"
        result = _ship(url, spool, tmp_path, _input(tmp_path, 30))
    else:
        with bulk_endpoint(BulkState(outage=outage)) as url:
            result = _ship(url, spool, tmp_path, _input(tmp_path, 30))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "undelivered events stay in" in " ".join(result.output.split())
    assert _unsent(spool) == 30


def test_splunk_transport_error_ends_in_exit_2(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{free.getsockname()[1]}"
    result = CliRunner().invoke(
        cli,
        ["ship", str(_input(tmp_path, 5)), "--to", "splunk", "--dest", url, "--spool",
         str(tmp_path / "spool"), "--dead-letter", str(tmp_path / "dead.jsonl")],
        env={"LLMSIEM_SPLUNK_HEC_TOKEN": "t", "LLMSIEM_RETRY_DEADLINE": "1"},
    )  # fmt: skip
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "HEC unreachable" in result.output and _unsent(tmp_path / "spool") == 5
