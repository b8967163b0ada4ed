"""Each compile target's evaluator: what its compiled queries say on a sample corpus.

One signature for all, ``(CompileResult, SampleCorpus) -> Verdicts``, so a ``Target`` names
its evaluator by reference (``Target.evaluator``) and ``llmsiem test --targets`` runs any
registered target that has one. Each imports its runtime when called: a missing one (a
``dev`` extra, Java, the Lucene jar) raises ``ImportError``, ``OSError`` or ``RuntimeError``.
"""

from __future__ import annotations

from llmsiem.compiler.compile import CompileResult
from llmsiem.conformance.corpus import SampleCorpus
from llmsiem.conformance.verdicts import Verdicts


def lucene(result: CompileResult, corpus: SampleCorpus) -> Verdicts:
    """Real Apache Lucene (elastic-lucene, opensearch-lucene)."""
    from llmsiem.conformance.lucene import lucene_verdicts

    return lucene_verdicts(result, corpus)


def esql(result: CompileResult, corpus: SampleCorpus) -> Verdicts:
    """Elastic's ES|QL parser and analyzer, then the documented semantics."""
    from llmsiem.conformance.esql import compiled_esql, esql_verdicts

    return esql_verdicts([rule for rule in result.compiled if compiled_esql(rule)], corpus)


def eql(result: CompileResult, corpus: SampleCorpus) -> Verdicts:
    """The ``eql`` reference parser, then the documented semantics."""
    from llmsiem.conformance.eql import compiled_eql, eql_verdicts

    return eql_verdicts([rule for rule in result.compiled if compiled_eql(rule)], corpus)


def spl(result: CompileResult, corpus: SampleCorpus) -> Verdicts:
    """SPL semantics with real PCRE2."""
    from llmsiem.conformance.spl import spl_verdicts

    return spl_verdicts(result, corpus)


def logql(result: CompileResult, corpus: SampleCorpus) -> Verdicts:
    """LogQL semantics with real RE2."""
    from llmsiem.conformance.logql import logql_verdicts

    return logql_verdicts(result, corpus)
