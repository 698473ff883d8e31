"""The throwaway PostgreSQL cluster of the fault tests (``crowdquake bench soak`` uses it too)."""

from crowdquake.cli.pg_cluster import PrivateCluster

__all__ = ["PrivateCluster"]
