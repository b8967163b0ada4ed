"""The schema command line: validate, export, fields; exit codes and JSON output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from llmsiem import __version__
from llmsiem.cli.main import cli


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_version_and_help_on_every_command() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output

    def walk(group: Any, prefix: list[str]) -> None:
        for name, command in group.commands.items():
            out = runner.invoke(cli, [*prefix, name, "--help"])
            assert out.exit_code == 0, (prefix, name, out.output)
            assert "Usage:" in out.output
            if hasattr(command, "commands"):
                walk(command, [*prefix, name])

    walk(cli, [])


def test_validate_reports_file_line_field_and_counts(
    tmp_path: Path, examples: dict[str, dict[str, Any]]
) -> None:
    good = json.dumps(examples["prompt"]).encode()
    wrong_type = json.loads(good)
    wrong_type["gen_ai"]["request"]["max_tokens"] = "lots"
    missing = json.loads(good)
    del missing["event"]
    path = _write(
        tmp_path / "mixed.jsonl",
        [
            good,
            b"{broken",
            json.dumps(wrong_type).encode(),
            b"\xc3\x28",
            json.dumps(missing).encode(),
        ],
    )
    dead = tmp_path / "dead.jsonl"
    result = CliRunner().invoke(
        cli, ["schema", "validate", str(path), "--format", "json", "--dead-letter", str(dead)]
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] == 1 and report["invalid"] == 4
    found = {(p["line"], p["field"]) for p in report["problems"]}
    assert (2, None) in found
    assert (3, "gen_ai.request.max_tokens") in found
    assert (4, None) in found
    assert (5, "event") in found
    assert all(p["source"] == str(path) for p in report["problems"])
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [entry["line"] for entry in letters] == [2, 3, 4, 5]
    assert "invalid UTF-8" in letters[2]["reason"]


def test_validate_all_good_exits_zero(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["schema", "validate", str(repo / "schema" / "examples")])
    assert result.exit_code == 0, result.output
    assert str(len(list((repo / "schema" / "examples").glob("*.json")))) in result.output


def test_validate_missing_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["schema", "validate", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "nope.jsonl" in result.output


def test_export_writes_the_schema(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    result = CliRunner().invoke(cli, ["schema", "export", "--out", str(out)])
    assert result.exit_code == 0
    assert json.loads(out.read_text())["title"].startswith("llmsiem")


def test_fields_json_lists_reference() -> None:
    result = CliRunner().invoke(cli, ["schema", "fields", "--format", "json"])
    names = {item["name"] for item in json.loads(result.stdout)}
    assert {"gen_ai.tool.call.arguments", "llmsiem.api_key.hash", "source.ip"} <= names


def test_demo_json_summarises_bundled_telemetry() -> None:
    result = CliRunner().invoke(cli, ["demo", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    summary = report["summary"]
    assert report["invalid"] == 0
    assert summary["events"] > 500
    assert set(summary["by_action"]) >= {"prompt", "response", "tool_call", "guardrail"}
