"""The config file of rule sources: ``llmsiem.toml``, or ``[tool.llmsiem]`` in ``pyproject.toml``.

Found from the current directory upwards (the first folder holding either; ``llmsiem.toml``
first, a ``pyproject.toml`` without the table does not count), or named with ``--config
FILE``. Keys, with paths relative to the file's folder::

    rules = ["my-rules", "shared/rule.yml"]   # as --rules, repeated
    with-pack = true                          # as --with-pack

Per key, the command line wins over the environment variable, which wins over the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_NAME = "llmsiem.toml"
PYPROJECT = "pyproject.toml"
KEYS = ("rules", "with-pack")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class RuleConfig:
    """Rule sources set by a config file (empty when there is no file)."""

    path: Path | None = None
    rules: tuple[Path, ...] = ()
    with_pack: bool | None = None


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def _table(path: Path, data: dict[str, Any]) -> dict[str, Any] | None:
    """The llmsiem settings of a parsed file: the whole ``llmsiem.toml``, or a pyproject's
    ``[tool.llmsiem]`` (None when it has none)."""
    if path.name != PYPROJECT:
        return data
    tool = data.get("tool", {})
    table = tool.get("llmsiem") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: tool.llmsiem: expected a table")
    return table


def find_config(start: Path) -> Path | None:
    """The nearest config file from ``start`` upwards, or None."""
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _table(pyproject, _read(pyproject)) is not None:
            return pyproject
    return None


def load_config(path: Path | None = None, start: Path | None = None) -> RuleConfig:
    """The rule sources of ``path``, or of the nearest config file from ``start`` (default:
    the current directory); an empty ``RuleConfig`` when there is none."""
    path = path or find_config((start or Path.cwd()).resolve())
    if path is None:
        return RuleConfig()
    table = _table(path, _read(path))
    where = f"{path}: tool.llmsiem" if path.name == PYPROJECT else str(path)
    if table is None:
        raise ConfigError(f"{path}: no [tool.llmsiem] table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    rules = table.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise ConfigError(f"{where}: rules: expected a list of paths, got {rules!r}")
    paths = tuple(path.parent / rule for rule in rules)
    for rule, resolved in zip(rules, paths, strict=True):
        if not resolved.exists():
            raise ConfigError(f"{where}: rules: {rule!r} does not exist ({resolved})")
    with_pack = table.get("with-pack")
    if with_pack is not None and not isinstance(with_pack, bool):
        raise ConfigError(f"{where}: with-pack: expected true or false, got {with_pack!r}")
    return RuleConfig(path, paths, with_pack)
