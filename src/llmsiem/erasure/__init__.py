"""Erasure of one person's events (GDPR Art. 17, CCPA deletion requests).

``Subject`` says which events and alerts belong to the person; every place llmsiem keeps
events is a ``Store`` that can count them (dry run) and erase them; ``forget`` runs the
stores in order and ``record_erasure`` writes the keyed audit record (never the content).
"""
