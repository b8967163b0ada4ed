"""Real Apache Lucene, in-process through JPype, as Elasticsearch and OpenSearch run it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

LUCENE_JAR_ENV = "LLMSIEM_LUCENE_JAR"
# Elasticsearch's default for regexp queries (index.max_determinized_states is not a
# setting; RegexpQuery's DEFAULT_DETERMINIZE_WORK_LIMIT is used by query_string).
DETERMINIZE_WORK_LIMIT = 10_000


class LuceneUnavailableError(RuntimeError):
    """Java or the Lucene jar is missing (``make lucene`` installs both)."""


def lucene_jar() -> Path:
    """The Lucene 9 jar: ``$LLMSIEM_LUCENE_JAR`` or the one ``make`` puts into the venv."""
    configured = os.environ.get(LUCENE_JAR_ENV)
    candidates = (
        [Path(configured)]
        if configured
        else sorted((Path(sys.prefix) / "share" / "lucene").glob("*.jar"))
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise LuceneUnavailableError(
        f"no Lucene jar found (set {LUCENE_JAR_ENV} or run `make lucene`, which extracts "
        f"it from the pyserini wheel into {Path(sys.prefix) / 'share' / 'lucene'})"
    )


@lru_cache(maxsize=1)
def start_jvm() -> str:
    """Start the JVM once per process with the Lucene jar; returns Lucene's version."""
    try:
        import jpype
    except ImportError as error:  # pragma: no cover - jpype1 is a dev dependency
        raise LuceneUnavailableError(
            "jpype1 is not installed (pip install llmsiem[dev])"
        ) from error
    jar = lucene_jar()
    if not jpype.isJVMStarted():
        try:
            jpype.startJVM(classpath=[str(jar)], convertStrings=True)
        except (OSError, RuntimeError) as error:
            raise LuceneUnavailableError(f"cannot start a JVM for Lucene: {error}") from error
    version = jpype.JClass("org.apache.lucene.util.Version")
    return str(version.LATEST)


def _java(name: str) -> Any:
    start_jvm()
    import jpype

    return jpype.JClass(name)


def regex_matcher(regex: str) -> Callable[[str], bool]:
    """Whole-value matcher for a Lucene RegExp, built as ``RegexpQuery`` builds it (all
    syntax flags, the 10,000-state determinization limit); raises on a rejected regex."""
    reg_exp = _java("org.apache.lucene.util.automaton.RegExp")
    run = _java("org.apache.lucene.util.automaton.CharacterRunAutomaton")
    automaton = reg_exp(regex, reg_exp.ALL).toAutomaton(DETERMINIZE_WORK_LIMIT)
    runner = run(automaton, DETERMINIZE_WORK_LIMIT)
    return lambda text: bool(runner.run(text))
