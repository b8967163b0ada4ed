"""The wheel installed in a fresh venv (dependencies from the package index), outside the
checkout: a user's rule folder next to the bundled pack goes through validate, test, compile
and detect, and pySigma's plugin discovery finds the plugin."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from llmsiem.rule_samples import build_event
from user_rule_helpers import write_user_folder

# One worker builds the wheel and its fresh venv (session fixtures) for every test using them.
pytestmark = pytest.mark.xdist_group("wheel")

RULE = "agent_disables_audit_logging"


def _llmsiem(
    bin_dir: Path, env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "llmsiem"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=900,
        check=False,
    )


@pytest.mark.slow
def test_user_rule_next_to_the_pack_from_the_installed_wheel(
    fresh_venv: Path, user_env: dict[str, str], tmp_path: Path
) -> None:
    """The user's project: a rule folder and an llmsiem.toml naming it next to the pack;
    commands run from a subfolder find the file."""
    write_user_folder(tmp_path)
    (tmp_path / "llmsiem.toml").write_text('rules = ["my-rules"]\nwith-pack = true\n')
    work = tmp_path / "work"
    work.mkdir()

    def llmsiem(*args: str) -> subprocess.CompletedProcess[str]:
        return _llmsiem(fresh_venv, user_env, work, *args)

    where = llmsiem("test", "../my-rules", "--with-pack", "--format", "json")
    assert where.returncode == 0, where.stderr + where.stdout
    cases = json.loads(where.stdout)["cases"]
    assert [c["verdicts"]["engine"] for c in cases] == ["fires", "silent"]

    validated = llmsiem("validate", "--format", "json")
    assert validated.returncode == 0, validated.stdout[-2000:]
    report = json.loads(validated.stdout)
    assert report["rules"] > 100 and report["findings"] == []
    assert [w["check"] for w in report["warnings"]] == ["attack-data"]

    compiled = llmsiem("compile", "--target", "splunk-spl", "--out", "out")
    assert compiled.returncode == 0, compiled.stderr
    assert "auditctl -e 0" in (work / "out" / "splunk-spl" / "queries.txt").read_text()

    event = build_event(
        {"event.action": "tool_call", "gen_ai.tool.call.arguments": "sudo auditctl -e 0"},
        0,
        "wheel",
    )
    (work / "events.jsonl").write_text(json.dumps(event) + "\n")
    detected = llmsiem("detect", "events.jsonl", "--alerts", "a.jsonl", "--format", "json")
    assert detected.returncode == 1, detected.stderr
    assert json.loads(detected.stdout)["by_rule"].get(RULE) == 1
    alerts = [json.loads(line) for line in (work / "a.jsonl").read_text().splitlines()]
    (mine,) = [a for a in alerts if a["rule"]["name"] == RULE]
    assert mine["rule"]["reference"].endswith(f"my-rules/{RULE}.yml")
    assert {"field": "gen_ai.tool.call.arguments", "excerpt": "sudo auditctl -e 0"} in mine[
        "llmsiem"
    ]["alert"]["evidence"]


@pytest.mark.slow
def test_sigma_plugin_is_found_in_the_installed_wheel(
    fresh_venv: Path, user_env: dict[str, str], tmp_path: Path
) -> None:
    code = (
        "import sigma.pipelines.llmsiem as p, sigma.backends.llmsiem as b\n"
        "from sigma.plugins import InstalledSigmaPlugins as I\n"
        "found = I.autodiscover()\n"
        "print(p.__file__, b.__file__, 'llmsiem_elastic' in found.pipelines,"
        " 'llmsiem_lucene' in found.backends)"
    )
    done = subprocess.run(
        [str(fresh_venv / "python"), "-c", code],
        capture_output=True,
        text=True,
        env=user_env,
        cwd=tmp_path,
        check=True,
    )
    pipelines, backends, has_pipeline, has_backend = done.stdout.split()
    venv = str(fresh_venv.parent)
    assert pipelines.startswith(venv) and backends.startswith(venv)
    assert (has_pipeline, has_backend) == ("True", "True")
