"""Real Apache Lucene in-process through JPype: find the jar, start the JVM, run a RegExp.

The jar is Lucene 9 (``make lucene`` extracts the anserini fat jar of the pyserini wheel,
Lucene 9.5.0, Elasticsearch 8.7's, into the venv; ``$LLMSIEM_LUCENE_JAR`` overrides it).
JPype and the jar are development dependencies: callers that can do without Lucene catch
:class:`LuceneUnavailableError`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

LUCENE_JAR_ENV = "LLMSIEM_LUCENE_JAR"
# Lucene's Operations.DEFAULT_DETERMINIZE_WORK_LIMIT, Elasticsearch's max_determinized_states.
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
    return str(java_class("org.apache.lucene.util.Version").LATEST)


def java_class(name: str) -> Any:
    import jpype

    if not jpype.isJVMStarted():
        start_jvm()
    return jpype.JClass(name)


def regex_matcher(regex: str) -> Callable[[str], bool]:
    """Whole-value matcher for a Lucene RegExp, built as ``RegexpQuery`` builds it (all
    syntax flags, the 10,000-state determinization limit); raises on a rejected regex."""
    reg_exp = java_class("org.apache.lucene.util.automaton.RegExp")
    run = java_class("org.apache.lucene.util.automaton.CharacterRunAutomaton")
    automaton = reg_exp(regex, reg_exp.ALL).toAutomaton(DETERMINIZE_WORK_LIMIT)
    runner = run(automaton, DETERMINIZE_WORK_LIMIT)
    return lambda text: bool(runner.run(text))
