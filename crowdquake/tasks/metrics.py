"""Prometheus metrics of the worker: detection latency, backlog, runs, alerts, deliveries.

Each worker process records into its own ``WorkerMetrics`` (``runtime(app).metrics``). With
``CROWDQUAKE_WORKER_METRICS_PORT`` set, ``crowdquake worker`` sets ``PROMETHEUS_MULTIPROC_DIR``
before any task runs and serves the sum over its processes at ``http://<host>:<port>/metrics``.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

LATENCY_BUCKETS_S = (0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.detection_latency = Histogram(
            "crowdquake_detection_latency_seconds",
            "Commit of the newest trigger a revision used -> commit of the revision",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.run_duration = Histogram(
            "crowdquake_association_run_duration_seconds",
            "Duration of one association run of one region",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.runs = Counter(
            "crowdquake_association_runs",
            "Association runs by outcome (done, skipped, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self.triggers = Counter(
            "crowdquake_association_triggers",
            "New triggers fed to the detector",
            registry=self.registry,
        )
        self.backlog = Gauge(
            "crowdquake_detection_backlog_triggers",
            "Unprocessed triggers (status new, within the lookback) at the last sweep",
            multiprocess_mode="mostrecent",
            registry=self.registry,
        )
        self.alerts = Counter(
            "crowdquake_alerts_written", "Alert rows written", registry=self.registry
        )
        self.deliveries = Counter(
            "crowdquake_alert_deliveries",
            "Alert delivery attempts by outcome (delivered, pending retry, dead)",
            ["status"],
            registry=self.registry,
        )


def serve_metrics(port: int, directory: Path) -> None:
    """Expose the sum over the worker's processes (call in the worker's main process, after
    ``PROMETHEUS_MULTIPROC_DIR`` was set to ``directory``)."""
    from prometheus_client import start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    start_http_server(port, registry=registry)


def prepare_multiprocess_dir(instance_dir: str) -> Path:
    directory = Path(instance_dir).resolve() / f"prometheus-worker-{os.getpid()}"
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory
