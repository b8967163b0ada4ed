"""Conformance: every compile target must give the embedded engine's verdict on the same events."""
