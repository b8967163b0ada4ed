"""Runner settings (``respond.yml``); the defaults are the safe ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A ``respond.yml`` that cannot be read or names unknown settings."""


@dataclass
class RunnerConfig:
    """Policy limits, retry budget and state folder of the response runner."""

    execute: bool = False
    state_dir: Path = Path(".llmsiem")
    protected_principals: list[str] = field(
        default_factory=lambda: ["admin", "admin-*", "svc-*", "service-*", "master", "sk-master*"]
    )
    approve_high_impact: bool = True
    approval_timeout_seconds: int = 3600
    per_action_limit: int = 10
    global_limit: int = 50
    rate_window_seconds: int = 3600
    dedup_seconds: int = 3600
    retry_attempts: int = 3
    retry_backoff_seconds: float = 1.0
    call_timeout_seconds: float = 15.0
    step_deadline_seconds: float = 60.0

    @classmethod
    def load(cls, path: Path | None) -> RunnerConfig:
        """Settings from ``respond.yml``; ConfigError names the file and the problem."""
        if path is None:
            return cls()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if not isinstance(data, dict):
                raise ConfigError(f"{path}: expected a mapping of settings")
            if "state_dir" in data:
                data["state_dir"] = Path(data["state_dir"])
            return cls(**data)
        except (OSError, yaml.YAMLError, TypeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    @property
    def kill_switch(self) -> Path:
        return self.state_dir / "KILL"
