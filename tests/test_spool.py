"""The spool: whole-record appends, torn tails, ENOSPC, resumed appends, one shipper at a time.

The last test is issue 17's "Done when": five SIGKILLs during shipping plus an outage, an
auth failure and a full disk, against a loopback ``_bulk`` endpoint; 0 events lost and 0
left undeliverable (every event id indexed exactly once; 409s count as delivered).
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fake_bulk import API_KEY, BulkState, bulk_endpoint
from llmsiem.connectors import spool as spool_module
from llmsiem.connectors.elastic import document_id
from llmsiem.connectors.sink import Delivery, json_bytes, json_document
from llmsiem.connectors.spool import Spool, SpoolBusyError, Spooled, SpoolWriteError
from llmsiem.rule_samples import build_event
from sink_helpers import ListSink

LLMSIEM = str(Path(sys.executable).parent / "llmsiem")


def _events(count: int) -> list[dict[str, Any]]:
    return [
        build_event({"event.id": f"evt-{n}", "llmsiem.prompt.text": f"hello {n}"}, n, "spool")
        for n in range(1, count + 1)
    ]


def _all(spool: Spool) -> list[dict[str, Any]]:
    return spool.read_batch(spool.cursor(), 10**7)[0]


@settings(max_examples=300, deadline=None)
@example({"value": -(2**63) - 1})  # 19 digits, below int64: orjson reads it as a float
@example({"value": 2**64})
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**80), max_value=2**80)
        | st.floats(allow_nan=False)
        | st.text(),  # lone surrogates included
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
        max_leaves=20,
    ).map(lambda value: {"value": value})
)
def test_spool_lines_read_back_exactly(document: dict[str, Any]) -> None:
    """What the spool writes (orjson, else json) reads back equal, big integers included."""
    line = json_bytes(document)
    assert b"\n" not in line
    assert json_document(line) == document == json.loads(line)


def test_a_torn_tail_is_cut_on_open_with_a_message(tmp_path: Path) -> None:
    Spool(tmp_path).append(_events(5))
    (segment,) = tmp_path.glob("segment-*.jsonl")
    with segment.open("ab") as stream:
        stream.write(b'{"@timestamp": "2026-')  # a crash mid-write
    reopened = Spool(tmp_path)
    assert reopened.repaired is not None and "torn" in reopened.repaired
    reopened.append(_events(7)[5:])  # appends after the cut, not onto the torn line
    assert [e["event"]["id"] for e in _all(Spool(tmp_path))] == [f"evt-{n}" for n in range(1, 8)]


def test_enospc_is_an_error_with_the_spool_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = {"n": 0}

    def full_disk(handle: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # part of the second batch lands, then the disk is full
            real_write(handle, data[: len(data) // 2 + 3])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(handle, data)

    monkeypatch.setattr(spool_module, "FSYNC_EVENTS", 5)  # a write per 5 records
    monkeypatch.setattr(spool_module.os, "write", full_disk)
    events = _events(20)
    items = [Spooled(e, "in.jsonl", n) for n, e in enumerate(events, start=1)]
    with pytest.raises(SpoolWriteError, match="No space left"):
        Spool(tmp_path).append(items)
    monkeypatch.setattr(spool_module.os, "write", real_write)
    spool = Spool(tmp_path)
    assert spool.repaired is None  # cut back at once: no torn line was left
    assert len(_all(spool)) == 5
    assert spool.append(items) == 15  # the same inputs again: resumes at record 6
    assert [e["event"]["id"] for e in _all(spool)] == [e["event"]["id"] for e in events]


def test_an_interrupted_append_resumes_from_the_recorded_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "FSYNC_EVENTS", 10)
    events = _events(50)

    def killed_after(count: int) -> Iterator[Spooled]:
        for n, event in enumerate(events[:count], start=1):
            yield Spooled(event, "in.jsonl", n)
        raise KeyboardInterrupt  # the process dies here

    with pytest.raises(KeyboardInterrupt):
        Spool(tmp_path).append(killed_after(35))
    spool = Spool(tmp_path)
    assert len(_all(spool)) == 30  # the batch in progress was never written: nothing twice
    assert spool.append(Spooled(e, "in.jsonl", n) for n, e in enumerate(events, start=1)) == 20
    assert [e["event"]["id"] for e in _all(spool)] == [e["event"]["id"] for e in events]
    assert spool.append(Spooled(e, "in.jsonl", n) for n, e in enumerate(events, 1)) == 50


def _ids(count: int) -> list[str]:
    return [f"evt-{n}" for n in range(1, count + 1)]


def test_delivery_starts_while_the_inputs_are_still_read(tmp_path: Path) -> None:
    """``deliver`` drains as it appends: the first batches reach the sink before the input
    ends (an input that waits for them would time out on a spool-then-drain), and every
    event arrives once, in order."""
    sink = ListSink()
    seen_midway: list[int] = []

    def slow_input() -> Iterator[dict[str, Any]]:
        for n, event in enumerate(_events(3000), start=1):
            if n == 2001:  # four fsyncs of 500 are behind: wait for the drain to send
                deadline = time.monotonic() + 30
                while len(sink.ids) < 1000 and time.monotonic() < deadline:
                    time.sleep(0.01)
                seen_midway.append(len(sink.ids))
            yield event

    spool = Spool(tmp_path)
    spooled, drained = spool.deliver(slow_input(), sink, batch_size=500)
    assert seen_midway[0] >= 1000
    assert sink.ids == _ids(3000)
    assert (spooled, drained.total.sent, drained.stopped) == (3000, 3000, None)
    assert _all(spool) == []


def test_a_failing_append_stops_the_drain_and_a_refusing_sink_stops_only_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = spool_module.Spool._write
    writes = {"n": 0}

    def full_after_1000(handle: int, data: bytes) -> None:
        writes["n"] += data.count(b"\n")
        if writes["n"] > 1000:  # the third batch of 500
            raise SpoolWriteError(errno.ENOSPC, "cannot append to the spool: disk full")
        real_write(handle, data)

    monkeypatch.setattr(spool_module.Spool, "_write", staticmethod(full_after_1000))
    sink, full = ListSink(), Spool(tmp_path / "a")
    with pytest.raises(SpoolWriteError, match="disk full"):
        full.deliver(_events(3000), sink, batch_size=500)
    monkeypatch.setattr(spool_module.Spool, "_write", staticmethod(real_write))
    assert sink.ids == _ids(len(sink.ids)) and len(sink.ids) <= 1000  # a prefix, no gap
    rest = ListSink()
    drained = full.drain(rest, batch_size=500)  # the same spool, once there is room
    assert sink.ids + rest.ids == _ids(1000) and drained.stopped is None

    refusing = ListSink(Delivery(fatal="credentials refused"), after=500)
    spool = Spool(tmp_path / "b")
    spooled, drained = spool.deliver(_events(3000), refusing, batch_size=500)
    assert spooled == 3000 and drained.stopped == "credentials refused"
    assert refusing.ids == _ids(500)
    assert [e["event"]["id"] for e in _all(spool)] == _ids(3000)[500:]


@pytest.mark.parametrize("sink", ["jsonl", "parquet"])
def test_an_event_no_sink_can_write_is_dead_lettered_and_the_drain_goes_on(
    tmp_path: Path, sink: str
) -> None:
    """Versions before the bounds check spooled strings holding a lone surrogate, as the
    standard library writes them (``\\ud83d``); every later ``ship`` then stopped there."""
    from click.testing import CliRunner

    from llmsiem.cli.main import cli

    events = _events(6)
    events[2]["llmsiem"]["prompt"]["text"] = "cut emoji \ud83d here"
    events[4]["llmsiem"]["prompt"]["text"] = "whole emoji \U0001f600 here"
    (tmp_path / "spool").mkdir()
    segment = tmp_path / "spool" / "segment-00000000.jsonl"
    segment.write_text("".join(json.dumps(e) + "\n" for e in events))  # ASCII escapes
    assert b"\\ud83d here" in segment.read_bytes()
    assert b"\\ud83d\\ude00 here" in segment.read_bytes()  # a pair: a whole character
    dest, dead = tmp_path / f"out.{sink}", tmp_path / "dead.jsonl"
    command = ["ship", "--to", sink, "--dest", str(dest), "--spool", str(tmp_path / "spool")]
    result = CliRunner().invoke(cli, [*command, "--dead-letter", str(dead), "--format", "json"])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["delivered"] == 5
    (letter,) = [json.loads(line) for line in dead.read_text().splitlines()]
    assert letter["source"] == str(tmp_path / "spool") and "evt-3" in letter["reason"]
    assert "lone surrogate" in letter["reason"] and "cut emoji" in letter["raw"]
    if sink == "jsonl":
        shipped = [json.loads(line) for line in dest.read_text().splitlines()]
        assert [e["event"]["id"] for e in shipped] == ["evt-1", "evt-2", "evt-4", "evt-5", "evt-6"]
        assert shipped[3]["llmsiem"]["prompt"]["text"] == "whole emoji \U0001f600 here"
    again = CliRunner().invoke(cli, [*command, "--dead-letter", str(dead), "--format", "json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["delivered"] == 0


def test_a_lock_keeps_a_second_shipper_off(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from llmsiem.connectors.spool import Spool;"
            f"Spool(Path({str(tmp_path)!r})).lock(); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(SpoolBusyError):
            Spool(tmp_path).lock()
        run = subprocess.run(
            [LLMSIEM, "ship", "--to", "jsonl", "--dest", str(tmp_path / "o.jsonl"),
             "--spool", str(tmp_path)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        said = " ".join((run.stdout + run.stderr).split())
        assert run.returncode == 2 and "in use by another shipper" in said
        assert "Traceback" not in run.stderr
    finally:
        holder.kill()
        holder.wait()
    Spool(tmp_path).lock()  # free again once the holder is gone


FULL_DISK = """
import errno, os, sys
from llmsiem.connectors import spool
real, calls = os.write, [0]
def write(handle, data):
    calls[0] += 1
    if calls[0] > {after}:
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(handle, data)
spool.os.write = write
from llmsiem.cli.main import cli
sys.argv = ["llmsiem", *sys.argv[1:]]
cli()
"""


def test_kills_outage_auth_failure_and_full_disk_lose_nothing(tmp_path: Path) -> None:
    total = 3000
    events = _events(total)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events))
    spool = tmp_path / "spool"
    state = BulkState(item_429=0.05, delay=0.05)
    rng = random.Random(17)
    figures: dict[str, Any] = {"kills": 0, "exits": []}

    def ship(
        *, key: str = API_KEY, inputs: bool = True, full_disk: int | None = None, deadline: int = 3
    ) -> Any:
        args = ["ship", *([str(source)] if inputs else []), "--to", "elasticsearch",
                "--dest", url, "--spool", str(spool), "--batch-size", "100",
                "--dead-letter", str(tmp_path / "dead.jsonl")]  # fmt: skip
        command = (
            [sys.executable, "-c", FULL_DISK.format(after=full_disk), *args]
            if full_disk is not None
            else [LLMSIEM, *args]
        )
        env = {**os.environ, "LLMSIEM_ES_API_KEY": key, "LLMSIEM_RETRY_DEADLINE": str(deadline)}
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def finish(process: Any) -> tuple[int, str]:
        out, err = process.communicate(timeout=300)
        text = " ".join((out + err).decode().split())
        assert "Traceback" not in text, text
        figures["exits"].append(process.returncode)
        return int(process.returncode), text

    with bulk_endpoint(state) as url:
        for _ in range(5):  # SIGKILL at a random point, appending or shipping
            process = ship()
            time.sleep(rng.uniform(1.5, 5.0))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                figures["kills"] += 1
        state.outage = "drop"
        code, text = finish(ship())
        assert code == 2 and "undelivered events stay in" in text
        state.outage = None
        code, text = finish(ship(key="wrong-key"))
        assert code == 2 and "401" in text
        unsent_after_auth = len(_all(Spool(spool)))
        code, text = finish(ship(full_disk=1))  # its second batch of 500 finds the disk full
        assert code == 2 and "No space left" in text
        figures["unsent_after_auth_failure"] = unsent_after_auth
        code, text = finish(ship(deadline=30))  # the same inputs: resumes and drains
        assert code == 0, text
    expected = {document_id(e) for e in events}
    indexed = set(state.created)
    figures.update(
        events=total,
        indexed=len(indexed & expected),
        lost=len(expected - indexed),
        indexed_twice=sum(1 for n in state.created.values() if n > 1),
        undeliverable=len(_all(Spool(spool))),
        dead_lettered=len((tmp_path / "dead.jsonl").read_text().splitlines())
        if (tmp_path / "dead.jsonl").exists()
        else 0,
        requests=state.requests,
    )
    print("\nkill test:", json.dumps(figures))
    assert figures["kills"] == 5
    assert figures["lost"] == 0 and figures["indexed_twice"] == 0
    assert figures["undeliverable"] == 0 and figures["dead_lettered"] == 0
    assert indexed == expected


def test_batches_read_in_turn_equal_one_read_of_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Remembered byte offsets give the same batches as reading each segment from its start."""
    monkeypatch.setattr(spool_module, "SEGMENT_EVENTS", 7)
    spool = Spool(tmp_path)
    events = _events(30)
    spool.append(events[:20])
    fresh = Spool(tmp_path)  # reads each batch to the end: never remembers an offset
    with (tmp_path / "segment-00000002.jsonl").open("ab") as torn:
        torn.write(b'{"torn":')  # a line still being written is not read
    seen: list[dict[str, Any]] = []
    cursor = spool.cursor()
    while True:
        batch, cursor = spool.read_batch(cursor, 3)
        if not batch:
            break
        seen.extend(batch)
        assert fresh.read_batch(cursor, 10**6)[0] == events[len(seen) : 20]
    assert seen == events[:20] and len(list(tmp_path.glob("segment-*"))) == 3
