"""Compiling the Sigma rule pack to SIEM queries with pySigma backends."""
