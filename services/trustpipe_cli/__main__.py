"""`python -m trustpipe_cli`: the `trustpipe` command (the local stack starts its registry so)."""

from trustpipe_cli.main import main

main()
