"""The embedded detection engine: the Sigma rule pack over local telemetry in DuckDB."""
