"""Use cases. Each takes a Session (and small ports), flushes but never commits."""
