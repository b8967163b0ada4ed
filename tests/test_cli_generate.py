"""``llmsiem generate`` writes exactly the requested number of valid events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmsiem.cli.main import cli
from llmsiem.event import LLMEvent


@pytest.mark.parametrize("count", [1, 7, 1001])
def test_generate_writes_exactly_count_events(tmp_path: Path, count: int) -> None:
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(cli, ["generate", "--count", str(count), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == count
    for line in lines:
        LLMEvent.model_validate(json.loads(line))
