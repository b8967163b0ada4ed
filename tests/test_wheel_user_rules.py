"""The installed wheel, outside the checkout: a user's rule folder next to the bundled pack
goes through validate, test, compile and detect, and sigma-cli finds the plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmsiem.rule_samples import build_event
from user_rule_helpers import write_user_folder

RULE = "agent_disables_audit_logging"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into its own folder (dependencies: this interpreter's)."""
    repo = Path(__file__).resolve().parent.parent
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(repo)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("llmsiem-*.whl")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), wheel],
        check=True,
    )
    return target


def _llmsiem(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "llmsiem", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=900,
        check=False,
    )


@pytest.mark.slow
def test_user_rule_next_to_the_pack_from_the_installed_wheel(
    installed: Path, tmp_path: Path
) -> None:
    write_user_folder(tmp_path)
    rules = ["--with-pack", "--rules", "my-rules"]

    where = _llmsiem(installed, tmp_path, "test", "my-rules", "--with-pack", "--format", "json")
    assert where.returncode == 0, where.stderr + where.stdout
    cases = json.loads(where.stdout)["cases"]
    assert [c["verdicts"]["engine"] for c in cases] == ["fires", "silent"]

    validated = _llmsiem(installed, tmp_path, "validate", *rules, "--format", "json")
    assert validated.returncode == 0, validated.stdout[-2000:]
    report = json.loads(validated.stdout)
    assert report["rules"] > 100 and report["findings"] == []
    assert [w["check"] for w in report["warnings"]] == ["attack-data"]

    compiled = _llmsiem(
        installed, tmp_path, "compile", *rules, "--target", "splunk-spl", "--out", "out"
    )
    assert compiled.returncode == 0, compiled.stderr
    assert "auditctl -e 0" in (tmp_path / "out" / "splunk-spl" / "queries.txt").read_text()

    event = build_event(
        {"event.action": "tool_call", "gen_ai.tool.call.arguments": "sudo auditctl -e 0"},
        0,
        "wheel",
    )
    (tmp_path / "events.jsonl").write_text(json.dumps(event) + "\n")
    detected = _llmsiem(
        installed,
        tmp_path,
        "detect",
        "events.jsonl",
        *rules,
        "--alerts",
        "a.jsonl",
        "--format",
        "json",
    )
    assert detected.returncode == 1, detected.stderr
    assert json.loads(detected.stdout)["by_rule"].get(RULE) == 1
    alerts = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    (mine,) = [a for a in alerts if a["rule"]["name"] == RULE]
    assert mine["rule"]["reference"].endswith(f"my-rules/{RULE}.yml")
    assert {"field": "gen_ai.tool.call.arguments", "excerpt": "sudo auditctl -e 0"} in mine[
        "llmsiem"
    ]["alert"]["evidence"]


@pytest.mark.slow
def test_sigma_plugin_is_found_in_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    code = (
        "import sigma.pipelines.llmsiem as p, sigma.backends.llmsiem as b\n"
        "from sigma.plugins import InstalledSigmaPlugins as I\n"
        "found = I.autodiscover()\n"
        "print(p.__file__, b.__file__, 'llmsiem_elastic' in found.pipelines,"
        " 'llmsiem_lucene' in found.backends)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(installed)},
        cwd=tmp_path,
        check=True,
    )
    pipelines, backends, has_pipeline, has_backend = done.stdout.split()
    assert pipelines.startswith(str(installed)) and backends.startswith(str(installed))
    assert (has_pipeline, has_backend) == ("True", "True")
