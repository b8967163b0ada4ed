"""A user's own rule (an agent tool that disables audit logging) with samples beside it."""

from __future__ import annotations

from pathlib import Path

USER_RULE = """\
title: Agent Disables Audit Logging
id: 3f0c9a52-7d51-4d0e-9a56-1b1f3f7e2a10
name: agent_disables_audit_logging
status: experimental
description: Detects an agent tool call that turns audit logging off.
references:
    - https://attack.mitre.org/techniques/T1562/008/
author: A User
date: 2026-12-01
tags:
    - attack.defense-evasion
    - attack.t1562.008
    - owasp.llm06
logsource:
    product: llm
    category: tool
detection:
    selection:
        event.action: tool_call
        gen_ai.tool.call.arguments|contains: 'auditctl -e 0'
    condition: selection
falsepositives:
    - Maintenance windows
level: high
"""
USER_SAMPLES = """\
rule: agent_disables_audit_logging
true_positives:
  - - event.action: tool_call
      gen_ai.tool.name: shell
      gen_ai.tool.call.arguments: '{"cmd": "sudo auditctl -e 0"}'
true_negatives:
  - - event.action: tool_call
      gen_ai.tool.name: shell
      gen_ai.tool.call.arguments: '{"cmd": "sudo auditctl -e 1"}'
"""


def write_user_folder(parent: Path, samples: str = USER_SAMPLES) -> Path:
    """``parent/my-rules`` with the rule and its ``.samples.yml`` next to it."""
    folder = parent / "my-rules"
    folder.mkdir()
    (folder / "agent_disables_audit_logging.yml").write_text(USER_RULE, encoding="utf-8")
    (folder / "agent_disables_audit_logging.samples.yml").write_text(samples, encoding="utf-8")
    return folder
