"""Re-implementations of the peers' published methods, for evaluation only."""
