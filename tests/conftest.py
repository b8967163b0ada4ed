"""Shared fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmsiem.conformance.corpus import SampleCorpus, build_corpus
from llmsiem.conformance.verdicts import Verdicts, engine_verdicts

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def examples() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text())
        for path in sorted((REPO / "schema" / "examples").glob("*.json"))
    }


@pytest.fixture(scope="session")
def conformance_corpus() -> SampleCorpus:
    """Every rule's samples plus their derived variants (built once per test session)."""
    return build_corpus()


@pytest.fixture(scope="session")
def engine_reference(conformance_corpus: SampleCorpus) -> Verdicts:
    """The embedded engine's verdicts on the conformance corpus: what every target must give."""
    return engine_verdicts(conformance_corpus)


def _user_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("LLMSIEM_")
    }


@pytest.fixture(scope="session")
def user_env() -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH into the checkout, no llmsiem
    settings of the test run."""
    return _user_env()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The llmsiem wheel, built once per test session."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("llmsiem-*.whl")
    return built


@pytest.fixture(scope="session")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel and its dependencies installed from the
    package index (pinned by constraints.txt, pip's cache shared), as a user installs it;
    returns its ``bin`` folder."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    constraints = str(REPO / "constraints.txt")
    subprocess.run([*pip, str(wheel), "-c", constraints], check=True, env=_user_env(), timeout=1200)
    return venv / "bin"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the test with a clear reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not present: {path} (tests that need ../shared skip)")
    return path


LIVE_ENV = ("LLMSIEM_TEST_ES_URL", "LLMSIEM_TEST_KIBANA_URL", "LLMSIEM_TEST_SPLUNK_URL")


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, object]:
    """Replay recorded HTTP by default; re-record when a live SIEM URL is configured.

    Matching ignores scheme, host and port, so cassettes recorded against any URL replay
    against the placeholder hosts. Credentials never reach a cassette.
    """
    import os

    live = any(os.environ.get(name) for name in LIVE_ENV)
    return {
        "record_mode": "all" if live else "none",
        "match_on": ["method", "path", "query"],
        "filter_headers": ["authorization", "x-api-key", "cookie", "set-cookie"],
        "decode_compressed_response": True,
    }


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    """Every request an ``elasticsearch`` client sends: method, path and query, and body
    (before serializing)."""
    from elastic_transport import Transport

    requests: list[tuple[str, str, Any]] = []
    perform = Transport.perform_request

    def spy(self: Transport, method: str, target: str, **kwargs: Any) -> Any:
        requests.append((method, target, kwargs.get("body")))
        return perform(self, method, target, **kwargs)

    monkeypatch.setattr(Transport, "perform_request", spy)
    return requests
