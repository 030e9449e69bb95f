"""trustpipe core: what every deployable shares (contracts, codec, settings, AWS adapters)."""
