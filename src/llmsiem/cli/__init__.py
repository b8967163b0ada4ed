"""The ``llmsiem`` command line."""
