"""Output formats of the published catalogue (pure: data in, bytes out)."""
