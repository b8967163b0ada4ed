"""Dashboards as importables: Grafana, Kibana and Splunk, generated from one description."""
