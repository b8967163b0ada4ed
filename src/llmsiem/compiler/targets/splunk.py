"""Splunk SPL searches and a Splunk app of saved searches."""

from __future__ import annotations

from sigma.conversion.base import Backend
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from llmsiem.compiler.backends import SavedSearchSplunkBackend, SigmaSplunkBackend
from llmsiem.compiler.output import write_splunk_app
from llmsiem.compiler.targets import SPLUNK, Stage, Target
from llmsiem.levels import SPLUNK_SEVERITY


def _query_settings(rule: SigmaRule) -> dict[str, str]:
    level = rule.level.name.lower() if rule.level else "medium"
    return {
        "cron_schedule": "*/5 * * * *",
        "enableSched": "1",
        "dispatch.earliest_time": "-10m",
        "dispatch.latest_time": "now",
        "alert.severity": str(SPLUNK_SEVERITY[level]),
        "alert.suppress": "0",
        "alert.track": "1",
        "counttype": "number of events",
        "relation": "greater than",
        "quantity": "0",
        "action.llmsiem_rule_id": str(rule.id),
    }


def _splunk(pipeline: ProcessingPipeline) -> Backend:
    return SigmaSplunkBackend(pipeline)


def _splunk_saved(pipeline: ProcessingPipeline) -> Backend:
    return SavedSearchSplunkBackend(
        pipeline, query_settings=_query_settings, min_time="-10m", max_time="now"
    )


SPL = Target(
    "splunk-spl",
    "Splunk SPL searches",
    SPLUNK,
    Stage(_splunk),
    (Stage(_splunk),),
    evaluator="llmsiem.conformance.evaluators:spl",
    baselines=True,
)
SAVEDSEARCHES = Target(
    "splunk-savedsearches",
    "Splunk app folder with savedsearches.conf and filter macros",
    SPLUNK,
    Stage(_splunk_saved, "savedsearches"),
    (Stage(_splunk_saved, "savedsearches"),),
    write_splunk_app,
    baselines=True,
)
