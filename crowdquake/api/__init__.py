"""HTTP API: ``/api/v1`` (ingest) and the operational endpoints."""
