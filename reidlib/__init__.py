"""reidlib."""
