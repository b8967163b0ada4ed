"""The Sigma rule pack: files on disk, parsed fresh on demand, with located load errors."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from llmsiem.resources import content_dir

AnyRule = SigmaRule | SigmaCorrelationRule
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PARSED: dict[str, list[Any]] = {}
RULE_SUFFIXES = (".yml", ".yaml")


class RuleLoadError(Exception):
    """A rule file that cannot be parsed; names the file."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True)
class RuleFile:
    """One rule file: its path, layer (parent folder) and YAML text."""

    path: Path
    layer: str
    text: str

    def _documents(self) -> list[Any]:
        """The YAML documents of the file, parsed once (libyaml when available)."""
        cached = _PARSED.get(self.text)
        if cached is None:
            try:
                cached = [d for d in yaml.load_all(self.text, Loader=SafeLoader) if d is not None]
            except yaml.YAMLError as exc:
                raise RuleLoadError(self.path, f"invalid YAML: {exc}") from exc
            _PARSED[self.text] = cached
        return cached

    def parse(self) -> AnyRule:
        """A fresh rule object (pySigma pipelines mutate rules, so never share one)."""
        documents = copy.deepcopy(self._documents())
        if len(documents) != 1 or not isinstance(documents[0], dict):
            raise RuleLoadError(self.path, f"expected one rule mapping, found {len(documents)}")
        document = documents[0]
        kind = SigmaCorrelationRule if "correlation" in document else SigmaRule
        try:
            rule: AnyRule = kind.from_dict(document)
        except SigmaError as exc:
            raise RuleLoadError(self.path, str(exc)) from exc
        return rule


@dataclass(frozen=True)
class RulePack:
    """All rule files under a directory."""

    root: Path
    files: tuple[RuleFile, ...]

    @classmethod
    def load(cls, root: Path | None = None) -> RulePack:
        root = root or content_dir("rules")
        if root.is_file():
            paths: Iterable[Path] = [root]
            root = root.parent
        else:
            paths = sorted(p for p in root.rglob("*") if p.suffix in RULE_SUFFIXES)
        files = tuple(
            RuleFile(path, path.parent.name, path.read_text(encoding="utf-8")) for path in paths
        )
        return cls(root, files)

    def parse_all(self) -> list[tuple[RuleFile, AnyRule]]:
        """Every rule, freshly parsed; raises ``RuleLoadError`` naming the first bad file."""
        return [(file, file.parse()) for file in self.files]
