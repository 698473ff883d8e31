"""Data generators and loaders for the edge model (numpy/scipy unless a loader says otherwise)."""
