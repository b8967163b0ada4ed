"""gzip-compressed input (rotated logs): read as the plain file is, and a cut-off or corrupt
stream keeps every record before the break on both the bulk and the per-record path."""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llmsiem.cli.main import cli
from llmsiem.synthetic import generate

SOURCES = Path(__file__).parent / "sources"


def _run(*args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert "Traceback" not in result.output
    return result


def _alerts(path: Path) -> list[tuple[str, str]]:
    """Rule and event ids of each alert (``event.created`` is the time of the run)."""
    alerts = [json.loads(line) for line in path.read_text().splitlines()]
    return sorted((a["rule"]["name"], json.dumps(a["llmsiem"]["alert"])) for a in alerts)


def _events(path: Path) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for event in events:
        event["event"].pop("ingested", None)
    return events


def _gzip(path: Path, target: Path) -> Path:
    with path.open("rb") as plain, gzip.open(target, "wb") as packed:
        shutil.copyfileobj(plain, packed)
    return target


@pytest.fixture(scope="module")
def telemetry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Normalized JSONL with attacks (the bulk path of ``detect``)."""
    path = tmp_path_factory.mktemp("plain") / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in generate(6000, seed=11)))
    return path


@pytest.mark.parametrize("chunk", ["250000", "700"])
def test_detect_reads_gzip_as_the_plain_file(tmp_path: Path, telemetry: Path, chunk: str) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    _gzip(telemetry, folder / "events.jsonl.gz")  # found in a folder by its double suffix
    runs = {}
    for name, given in (("plain", telemetry), ("gzip", folder)):
        alerts = tmp_path / f"{name}.alerts.jsonl"
        result = _run("detect", str(given), "--alerts", str(alerts), "--chunk-events", chunk)
        assert result.exit_code == 1, result.output
        summary = json.loads(result.stdout)
        runs[name] = (summary["events"], summary["rejected"], _alerts(alerts))
    assert runs["gzip"] == runs["plain"]
    assert runs["plain"][0] == 6000 and len(runs["plain"][2]) > 100


@pytest.mark.parametrize("source", ["lakera.handwritten.json", "helicone.handwritten.json"])
def test_ingest_reads_gzip_as_the_plain_file(tmp_path: Path, source: str) -> None:
    plain = SOURCES / source
    packed = _gzip(plain, tmp_path / f"{source}.gz")
    outputs = []
    for given in (plain, packed):
        out = tmp_path / f"{given.name}.out.jsonl"
        result = _run("ingest", str(given), "--out", str(out), "--dead-letter", str(out) + ".dl")
        assert result.exit_code == 0, result.output
        outputs.append(_events(out))
    assert outputs[0] == outputs[1] and outputs[0]


def _complete_lines_before_the_break(data: bytes) -> int:
    """The oracle: complete lines zlib decompresses from ``data`` before it fails or ends."""
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = b""
    for start in range(0, len(data), 4096):
        try:
            out += inflate.decompress(data[start : start + 4096])
        except zlib.error:
            break
    return out.count(b"\n")


def _broken(telemetry: Path, target: Path, how: str) -> Path:
    data = gzip.compress(telemetry.read_bytes())
    if how == "cut off":
        target.write_bytes(data[: len(data) // 2])
    else:  # a run of bytes overwritten part-way
        middle = len(data) * 2 // 3
        target.write_bytes(data[:middle] + bytes(64) + data[middle + 64 :])
    return target


@pytest.mark.parametrize("how", ["cut off", "corrupt"])
def test_a_broken_gzip_keeps_every_record_before_the_break(
    tmp_path: Path, telemetry: Path, how: str
) -> None:
    broken = _broken(telemetry, tmp_path / "events.jsonl.gz", how)
    lines = telemetry.read_text().splitlines(keepends=True)
    loaded = {}
    for command, target in (("detect", "--alerts"), ("ingest", "--out")):
        dead, out = tmp_path / f"{command}.dead.jsonl", tmp_path / f"{command}.out.jsonl"
        chunks = ["--chunk-events", "500"] if command == "detect" else []
        result = _run(command, str(broken), target, str(out), "--dead-letter", str(dead), *chunks)
        assert result.exit_code == 1, result.output
        letters = [json.loads(line) for line in dead.read_text().splitlines()]
        reads = [d for d in letters if "read error" in d["reason"]]
        assert len(reads) == 1 and reads[0]["source"] == str(broken)
        kept = reads[0]["line"] - 1
        assert f"after line {kept:,}" in reads[0]["reason"]
        loaded[command] = (kept, json.loads(result.stdout)["events"])
    # The events out are those of the file's first lines, read plain. Overwritten bytes
    # may inflate to garbage up to the checksum at the end: those lines are dead letters.
    prefix = tmp_path / "prefix.jsonl"
    prefix.write_text("".join(lines[: loaded["ingest"][0]]))
    expected = tmp_path / "prefix.out.jsonl"
    _run("ingest", str(prefix), "--out", str(expected), "--dead-letter", str(tmp_path / "p.dl"))
    out = _events(tmp_path / "ingest.out.jsonl")
    assert out == _events(expected)[: len(out)] and out
    assert len(out) == loaded["ingest"][1] == loaded["detect"][1]
    assert loaded["detect"] == loaded["ingest"]
    if how == "cut off":
        assert (
            loaded["detect"][0] == len(out) == _complete_lines_before_the_break(broken.read_bytes())
        )
    assert 0 < loaded["detect"][0] < len(lines)


def test_follow_refuses_a_gzip_file(tmp_path: Path, telemetry: Path) -> None:
    packed = _gzip(telemetry, tmp_path / "events.log")  # recognised by its bytes, not its name
    alerts, dead = str(tmp_path / "alerts.jsonl"), str(tmp_path / "dead.jsonl")
    command = ["detect", "--follow", str(packed), "--idle-exit", "1", "--alerts", alerts]
    result = CliRunner().invoke(cli, [*command, "--dead-letter", dead])
    assert result.exit_code == 2
    assert "gzip" in result.output and str(packed) in result.output
