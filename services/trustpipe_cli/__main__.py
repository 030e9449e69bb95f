"""`python -m trustpipe_cli`: the shipped commands alone, as a worker host has them (the local
stack starts its workers and its registry so, never through the developers' commands)."""

from trustpipe_cli.main import run, shipped_app

run(shipped_app())
