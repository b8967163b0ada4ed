"""Connectors: sources that normalize telemetry in, sinks that ship it out, rule deployers."""
