"""``python -m llmsiem`` runs the command line."""

from llmsiem.cli.main import cli

cli()
