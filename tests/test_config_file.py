"""Rule sources from a config file (llmsiem.toml or [tool.llmsiem] in pyproject.toml), found
from the current directory upwards or named by --config; command line > environment >
config file > defaults, per key; a bad file is an exit-2 error naming file and key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from llmsiem.cli.common import rules_option
from llmsiem.cli.main import cli
from llmsiem.rulepack import RuleSources
from user_rule_helpers import write_user_folder

RULE = "agent_disables_audit_logging"


@click.command()
@rules_option
def sources(rules: RuleSources | None) -> None:
    """Print the rule sources a command receives."""
    shown = None if rules is None else {"paths": [str(p) for p in rules.paths]}
    click.echo(json.dumps(shown and {**shown, "pack": rules.with_pack}))


def _sources(
    cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str
) -> dict[str, Any] | None:
    monkeypatch.chdir(cwd)
    for name in ("LLMSIEM_RULES", "LLMSIEM_WITH_PACK", "LLMSIEM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(sources, list(args), env=env)
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] | None = json.loads(result.output)
    return shown


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with a user rule folder, a second folder and an ``llmsiem.toml``."""
    write_user_folder(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "llmsiem.toml").write_text('rules = ["my-rules"]\nwith-pack = true\n')
    (tmp_path / "src" / "deep").mkdir(parents=True)
    return tmp_path


def test_found_from_a_subfolder_paths_relative_to_the_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = _sources(project / "src" / "deep", monkeypatch)
    assert shown == {"paths": [str(project / "my-rules")], "pack": True}


def test_command_line_beats_environment_beats_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = str(project / "other")
    assert _sources(project, monkeypatch, "--rules", other) == {"paths": [other], "pack": True}
    assert _sources(project, monkeypatch, LLMSIEM_WITH_PACK="0") == {
        "paths": [str(project / "my-rules")],
        "pack": False,
    }
    assert _sources(project, monkeypatch, LLMSIEM_RULES=other) == {"paths": [other], "pack": True}
    both = _sources(project, monkeypatch, "--with-pack", LLMSIEM_WITH_PACK="0")
    assert both is not None and both["pack"] is True
    assert _sources(project, monkeypatch, "--without-pack", "--rules", other) == {
        "paths": [other],
        "pack": False,
    }


def test_pyproject_table_and_explicit_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_user_folder(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.llmsiem]\nrules = ["my-rules"]\n'
    )
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "pyproject.toml").write_text('[project]\nname = "y"\n')  # no table
    mine = str(tmp_path / "my-rules")
    assert _sources(tmp_path / "inner", monkeypatch) == {"paths": [mine], "pack": False}
    (tmp_path / "llmsiem.toml").write_text("with-pack = true\n")  # beside it: llmsiem.toml wins
    assert _sources(tmp_path, monkeypatch) == {"paths": [], "pack": True}
    named = _sources(tmp_path, monkeypatch, "--config", str(tmp_path / "pyproject.toml"))
    assert named == {"paths": [mine], "pack": False}  # a named file beats the nearest one


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('rule = ["my-rules"]\n', "unknown key 'rule' (known: rules, with-pack)"),
        ('rules = "my-rules"\n', "rules: expected a list of paths, got 'my-rules'"),
        ('rules = ["missing"]\n', "rules: 'missing' does not exist"),
        ('with-pack = "yes"\n', "with-pack: expected true or false, got 'yes'"),
        ("rules = [\n", "invalid TOML"),
    ],
)
def test_bad_config_names_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    config = tmp_path / "llmsiem.toml"
    config.write_text(text)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["compile", "--target", "splunk-spl"])
    assert result.exit_code == 2
    assert f"{config}: " in result.output and message in result.output
    assert "Traceback" not in result.output


def test_compile_reads_the_config_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "llmsiem.toml").write_text('rules = ["my-rules"]\n')
    monkeypatch.chdir(project / "src")
    result = CliRunner().invoke(
        cli, ["compile", "--target", "splunk-spl", "--out", "out", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    (target,) = json.loads(result.output)["targets"]
    assert target["counts"]["total"] == 1
    assert "auditctl -e 0" in (project / "src" / "out" / "splunk-spl" / "queries.txt").read_text()


def test_help_documents_the_config_and_precedence() -> None:
    text = " ".join(CliRunner().invoke(cli, ["detect", "--help"]).output.split())
    assert "--config FILE" in text and "llmsiem.toml" in text and "[tool.llmsiem]" in text
    assert "Command line > environment > config file > defaults" in text


CORRELATION = """\
title: Audit Logging Disabled Twice
id: 7b8e0f6e-3c1a-4f7e-9a51-6d2c0b9e4a11
name: audit_logging_disabled_twice
status: experimental
description: Detects an agent disabling audit logging twice within ten minutes.
references:
    - https://attack.mitre.org/techniques/T1562/008/
author: A User
date: 2026-12-03
tags:
    - attack.defense-evasion
    - attack.t1562.008
correlation:
    type: event_count
    rules:
        - agent_disables_audit_logging
    group-by:
        - user.id
    timespan: 10m
    condition:
        gte: 2
level: high
"""
CORRELATION_SAMPLES = """\
rule: audit_logging_disabled_twice
true_positives:
  - - event.action: tool_call
      gen_ai.tool.call.arguments: auditctl -e 0
    - event.action: tool_call
      gen_ai.tool.call.arguments: auditctl -e 0
true_negatives:
  - - event.action: tool_call
      gen_ai.tool.call.arguments: auditctl -e 0
    - event.action: tool_call
      gen_ai.tool.call.arguments: auditctl -e 1
"""


def test_llmsiem_test_loads_the_config_rules_as_context(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A correlation in one folder finds its base rule in the config file's folder; only the
    named folder's rules are tested, and a folder named twice is no override."""
    correlations = project / "correlations"
    correlations.mkdir()
    (correlations / "twice.yml").write_text(CORRELATION)
    (correlations / "twice.samples.yml").write_text(CORRELATION_SAMPLES)
    monkeypatch.chdir(project / "src")
    monkeypatch.delenv("LLMSIEM_WITH_PACK", raising=False)
    (project / "llmsiem.toml").write_text("with-pack = false\n")
    alone = CliRunner().invoke(cli, ["test", str(correlations)])
    assert alone.exit_code == 2 and "agent_disables_audit_logging" in alone.output
    (project / "llmsiem.toml").write_text('rules = ["my-rules"]\n')
    result = CliRunner().invoke(cli, ["test", str(correlations), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [c["case"].split(":")[0] for c in data["cases"]] == ["audit_logging_disabled_twice"] * 2
    again = CliRunner().invoke(cli, ["test", str(project / "my-rules"), "--format", "json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["overrides"] == []
