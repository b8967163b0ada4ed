"""The built-in response actions (listed by name in ``llmsiem.respond.registry``)."""
