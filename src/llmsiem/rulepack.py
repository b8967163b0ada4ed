"""The Sigma rule pack: files on disk, parsed fresh on demand, with located load errors.

A pack is loaded from one or more sources (``RuleSources``): rule files or folders, and
optionally the bundled pack first. A later source's rule with the same id or name as an
earlier one replaces it, and the replacement is recorded as an ``Override``. Files named
``*.samples.yml`` hold a rule's samples (see ``llmsiem.rule_samples``), never rules.
"""

from __future__ import annotations

import copy
import os
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
SAMPLES_SUFFIXES = (".samples.yml", ".samples.yaml")


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

    def identity(self) -> tuple[str | None, str | None]:
        """The rule's ``id`` and ``name`` as written (None when unreadable or absent)."""
        try:
            documents = self._documents()
        except RuleLoadError:
            return None, None
        document = documents[0] if len(documents) == 1 else None
        if not isinstance(document, dict):
            return None, None
        ids = (document.get("id"), document.get("name"))
        return tuple(str(v) if v is not None else None for v in ids)  # type: ignore[return-value]


@dataclass(frozen=True)
class RuleSources:
    """Where a pack comes from: the bundled pack first (``with_pack``), then ``paths``."""

    paths: tuple[Path, ...] = ()
    with_pack: bool = False

    def roots(self) -> list[Path]:
        bundled = [content_dir("rules")] if self.with_pack or not self.paths else []
        return [*bundled, *self.paths]


@dataclass(frozen=True)
class Override:
    """A rule file that replaces an earlier source's rule with the same id or name."""

    key: str
    replaced: Path
    by: Path

    def __str__(self) -> str:
        return f"{self.by} overrides {self.replaced} (same {self.key})"


def is_samples_file(path: Path) -> bool:
    return path.name.endswith(SAMPLES_SUFFIXES)


def _rule_paths(root: Path) -> Iterable[Path]:
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*") if p.suffix in RULE_SUFFIXES and not is_samples_file(p)
    )


@dataclass(frozen=True)
class RulePack:
    """All rule files of one or more sources; ``root`` is their common folder."""

    root: Path
    files: tuple[RuleFile, ...]
    overrides: tuple[Override, ...] = ()

    @classmethod
    def load(cls, source: Path | RuleSources | None = None) -> RulePack:
        """A pack from a file or folder, from several sources, or the bundled pack (None);
        raises ``RuleLoadError`` for a file that is not UTF-8 text."""
        if not isinstance(source, RuleSources):
            source = RuleSources((source,) if source else ())
        files: list[RuleFile] = []
        overrides: list[Override] = []
        for root in source.roots():
            earlier = len(files)
            for path in _rule_paths(root):
                try:
                    text = path.read_text(encoding="utf-8")
                except UnicodeDecodeError as exc:
                    message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
                    raise RuleLoadError(path, message) from exc
                new = RuleFile(path, path.parent.name, text)
                earlier -= _replace_same_rule(files, earlier, overrides, new)
                files.append(new)
        folders = [root if root.is_dir() else root.parent for root in source.roots()]
        common = Path(os.path.commonpath([f.resolve() for f in folders]))
        if len(folders) == 1:
            common = folders[0]
        else:
            files = [RuleFile(f.path.resolve(), f.layer, f.text) for f in files]
        return cls(common, tuple(files), tuple(overrides))

    def parse_all(self) -> list[tuple[RuleFile, AnyRule]]:
        """Every rule, freshly parsed; raises ``RuleLoadError`` naming the first bad file."""
        return [(file, file.parse()) for file in self.files]


def _replace_same_rule(
    files: list[RuleFile], earlier: int, overrides: list[Override], new: RuleFile
) -> int:
    """Drop from ``files[:earlier]`` (earlier sources) the rule with the id or name of
    ``new``, recording the override unless both are one file (a folder and a file in it
    both given); returns how many files were dropped (0 or 1)."""
    new_id, new_name = new.identity()
    for index, old in enumerate(files[:earlier]):
        old_id, old_name = old.identity()
        key = (
            "id"
            if new_id and new_id == old_id
            else "name"
            if new_name and new_name == old_name
            else ""
        )
        if key:
            if old.path.resolve() != new.path.resolve():  # a file named twice overrides nothing
                overrides.append(Override(key, old.path, new.path))
            del files[index]
            return 1
    return 0
