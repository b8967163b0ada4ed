"""Splunk SPL backends (ad-hoc searches and savedsearches.conf)."""

from __future__ import annotations

import re
from typing import Any

from sigma.backends.splunk.splunk import SplunkBackend
from sigma.conversion.state import ConversionState


class SavedSearchSplunkBackend(SplunkBackend):
    """Splunk backend whose savedsearches.conf searches are runnable and tunable.

    pySigma-backend-splunk 2.1 moves OR-ed regular expressions into leading
    ``| rex ... | eval`` commands; its ``savedsearches`` format then starts the search with
    a pipe, which Splunk refuses for a saved search. This subclass applies the same
    reordering the ``default`` format uses (base search terms first), starts with
    ``search`` when nothing else can lead, and ends every search with the rule's filter
    macro, the tuning hook that survives app upgrades (``local/macros.conf``).
    """

    def finalize_query_savedsearches(
        self,
        rule: Any,
        query: str,
        index: int,
        state: ConversionState,
    ) -> str:
        ordered = self.finalize_query_default(rule, query, index, state).strip()
        if ordered.startswith("|"):
            ordered = "search *\n" + ordered
        ordered += f"\n| `{filter_macro_name(rule.name or str(rule.id))}`"
        return str(super().finalize_query_savedsearches(rule, ordered, index, state))


def filter_macro_name(rule_name: str) -> str:
    """Name of the per-rule Splunk filter macro (``llmsiem_filter_<rule name>``)."""
    return "llmsiem_filter_" + re.sub(r"[^a-z0-9_]", "_", rule_name.lower())
