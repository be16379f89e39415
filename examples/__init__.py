"""Models that are not in the paper, trained through the config's `models:` section."""
