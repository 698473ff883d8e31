"""Typed settings, read once from ``CROWDQUAKE_*`` environment variables.

``Settings.from_env()`` is the only place that reads the environment; everything else receives a
``Settings`` instance. Tests build their own with ``dataclasses.replace`` or keyword arguments.
The README's configuration table is generated from ``SETTINGS_DOC`` below, so the two agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "CROWDQUAKE_"
DEFAULT_INSTANCE_DIR = Path("instance")
ENVIRONMENTS = ("development", "production")
DEFAULT_CAP_SENDER = "crowdquake@localhost"
DEFAULT_QUAKEML_AUTHORITY = "crowdquake.invalid"
# a device is active if its steady heartbeat is this fresh, s (the one source of this default:
# ``services.detection.PipelineConfig`` takes it too)
DEFAULT_ACTIVE_HEARTBEAT_MAX_AGE_S = 1800.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Every tunable of the service; field name ``x`` is read from ``CROWDQUAKE_X``."""

    # Storage and messaging
    database_url: str = ""
    broker_url: str = ""
    result_backend: str = ""
    instance_dir: str = str(DEFAULT_INSTANCE_DIR)
    rate_limit_storage_url: str = "memory://"
    # Web
    bind: str = "127.0.0.1:8000"
    web_workers: int = 2
    web_threads: int = 1
    max_request_bytes: int = 256 * 1024
    max_batch_triggers: int = 500
    rate_limit_per_minute: int = 120
    registration_rate_limit_per_minute: int = 600
    trusted_proxy_hops: int = 0
    max_request_line_bytes: int = 4094
    max_request_headers: int = 100
    max_request_header_bytes: int = 8190
    auth_cache_ttl_s: float = 10.0
    ingest_group_commit: bool = True
    ingest_group_commit_flushes: int = 1
    ingest_lean_path: bool = True
    # Alert streams (their own asyncio process next to gunicorn)
    stream_bind: str = ""
    stream_url: str = ""
    stream_processes: int = 1
    stream_max_connections: int = 20000
    stream_max_per_device: int = 2
    # Trigger acceptance window
    max_future_skew_s: float = 30.0
    max_trigger_age_s: float = 3600.0
    # Privacy and freshness
    heartbeat_cell_resolution: int = 7
    trigger_retention_days: int = 30
    active_heartbeat_max_age_s: float = DEFAULT_ACTIVE_HEARTBEAT_MAX_AGE_S
    trust_all_devices: bool = False
    device_network_retention_days: float = 365.0
    # Real-time pipeline
    detection_tick_s: float = 0.25
    redrive_after_s: float = 5.0
    detection_handoff: bool = True
    association_batch_max: int = 5000
    association_drain_s: float = 2.0
    alerts_disabled_regions: str = ""
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    webhook_timeout_s: float = 5.0
    cap_sender: str = DEFAULT_CAP_SENDER
    # Publication (FDSN event service, feeds)
    catalog_name: str = "crowdquake"
    quakeml_authority: str = DEFAULT_QUAKEML_AUTHORITY
    fdsn_max_events: int = 20000
    feed_cache_s: float = 5.0
    # Edge model
    edge_model_path: str = ""
    # Embedded broker
    broker_poll_interval_s: float = 0.05
    # Operator console
    console_secure_cookies: bool = True
    console_tile_url: str = ""
    console_login_rate_limit_per_minute: int = 10
    console_lockout_failures: int = 5
    console_lockout_s: float = 900.0
    console_session_hours: float = 12.0
    # Misc
    environment: str = "development"
    log_level: str = "INFO"
    log_format: str = "json"
    worker_metrics_port: int = 0
    secret_key: str = field(default="dev-only-change-me", repr=False)

    def __post_init__(self) -> None:
        instance = Path(self.instance_dir)
        if not self.database_url:
            object.__setattr__(
                self, "database_url", f"sqlite:///{(instance / 'crowdquake.sqlite3').resolve()}"
            )
        if not self.broker_url:
            object.__setattr__(
                self, "broker_url", f"sqla+sqlite:///{(instance / 'broker.sqlite3').resolve()}"
            )
        if not self.result_backend:
            object.__setattr__(
                self, "result_backend", f"db+sqlite:///{(instance / 'results.sqlite3').resolve()}"
            )
        _check_positive(self)
        _check_publication(self)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith(("sqla+", "filesystem:", "memory:"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), then apply ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f.name, f.type, raw)
        values.update(overrides)
        return cls(**values)


def _coerce(name: str, type_name: object, raw: str) -> Any:
    kind = str(type_name)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
    except ValueError:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw


def _check_positive(settings: Settings) -> None:
    for name in (
        "web_workers",
        "web_threads",
        "ingest_group_commit_flushes",
        "max_request_bytes",
        "max_batch_triggers",
        "rate_limit_per_minute",
        "registration_rate_limit_per_minute",
        "max_request_line_bytes",
        "max_request_headers",
        "max_request_header_bytes",
        "max_trigger_age_s",
        "active_heartbeat_max_age_s",
        "broker_poll_interval_s",
        "detection_tick_s",
        "redrive_after_s",
        "association_batch_max",
        "association_drain_s",
        "fdsn_max_events",
        "feed_cache_s",
        "console_login_rate_limit_per_minute",
        "console_lockout_failures",
        "console_lockout_s",
        "console_session_hours",
        "stream_max_connections",
        "stream_max_per_device",
    ):
        if getattr(settings, name) <= 0:
            raise ValueError(f"{ENV_PREFIX}{name.upper()} must be positive")
    if settings.log_format not in ("json", "text"):
        raise ValueError(f"{ENV_PREFIX}LOG_FORMAT must be json or text")
    if settings.trusted_proxy_hops < 0:
        raise ValueError(f"{ENV_PREFIX}TRUSTED_PROXY_HOPS must be 0 (no proxy) or more")
    if settings.stream_processes < 0:
        raise ValueError(f"{ENV_PREFIX}STREAM_PROCESSES must be 0 or more")
    if not 0 <= settings.heartbeat_cell_resolution <= 15:
        raise ValueError(f"{ENV_PREFIX}HEARTBEAT_CELL_RESOLUTION must be an H3 resolution 0-15")


def _check_publication(settings: Settings) -> None:
    """Public identities: well-formed always, and really configured in production (a CAP
    aggregator or catalogue would otherwise merge our messages with anyone else's)."""
    if settings.environment not in ENVIRONMENTS:
        raise ValueError(f"{ENV_PREFIX}ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}")
    # CAP 1.2 3.2.1: sender has no spaces, commas or restricted characters (< and &).
    if not settings.cap_sender or any(c in settings.cap_sender for c in " ,<&\t\n"):
        raise ValueError(f"{ENV_PREFIX}CAP_SENDER must not be empty nor contain spaces, , < &")
    if settings.environment == "production":
        if settings.cap_sender == DEFAULT_CAP_SENDER:
            raise ValueError(
                f"{ENV_PREFIX}CAP_SENDER must be set in production (e.g. alerts@your-domain)"
            )
        if settings.quakeml_authority == DEFAULT_QUAKEML_AUTHORITY:
            raise ValueError(
                f"{ENV_PREFIX}QUAKEML_AUTHORITY must be set in production (a domain you control)"
            )


SETTINGS_DOC: dict[str, str] = {
    "database_url": "SQLAlchemy URL. PostgreSQL: `postgresql+psycopg://user@host/db`. "
    "Default: SQLite file `instance/crowdquake.sqlite3`",
    "broker_url": "Celery broker. Production: `redis://127.0.0.1:6379/0` (or `amqp://`). "
    "Default: server-less `sqla+sqlite:///instance/broker.sqlite3`",
    "result_backend": "Celery result backend. Default: `db+sqlite:///instance/results.sqlite3`",
    "instance_dir": "Folder for the embedded SQLite files",
    "rate_limit_storage_url": "`memory://` (per web process) or a `redis://` URL (shared by all)",
    "bind": "Address `crowdquake serve` listens on",
    "web_workers": "gunicorn worker processes for `crowdquake serve`",
    "web_threads": "threads per gunicorn worker (>1 selects the gthread worker)",
    "max_request_bytes": "Largest request body accepted; larger is 413",
    "max_batch_triggers": "Most triggers in one `POST /api/v1/triggers:batch`",
    "rate_limit_per_minute": "Requests per device in any 60 s (sliding window) on ingest "
    "endpoints; more is 429",
    "registration_rate_limit_per_minute": "Device registrations per client IP in any 60 s "
    "(sliding window)",
    "trusted_proxy_hops": "Reverse proxies in front of the API whose `X-Forwarded-For` / "
    "`X-Forwarded-Proto` are trusted (0: none, the peer address is the client's)",
    "max_request_line_bytes": "Longest request line `crowdquake serve` reads; longer is 414",
    "max_request_headers": "Most request header fields; more is 431",
    "max_request_header_bytes": "Largest request header field; larger is 431",
    "auth_cache_ttl_s": "Seconds a verified device token is cached per web process (0: off); "
    "blocking a device takes effect within this time",
    "ingest_group_commit": "PostgreSQL: `POST /api/v1/triggers` inserts through a group commit, "
    "so concurrent requests of one web process (web_threads > 1) share one INSERT and commit; "
    "each 2xx still follows the commit of its row",
    "ingest_group_commit_flushes": "Group commits one web process runs at once (each on its own "
    "connection). 1: requests that arrive during a flush wait and go together in the next one "
    "(larger groups, fewer WAL flushes under load)",
    "ingest_lean_path": "`POST /api/v1/triggers` and `/api/v1/triggers:batch` are answered by "
    "a lean WSGI path before Flask (same rules, errors, metrics and durability; false: by the "
    "Flask views)",
    "stream_bind": "Address of the alert stream server (`GET /api/v1/alerts/stream`, SSE) that "
    "`crowdquake serve` starts next to gunicorn. Default: the host of `bind`, its port + 1",
    "stream_url": "Public base URL of the stream server that `GET /api/v1/alerts/stream` on the "
    "API redirects to (empty: the request's host with the port of `stream_bind`). Behind a "
    "reverse proxy route the path to the stream server instead",
    "stream_processes": "Stream server processes sharing `stream_bind` (SO_REUSEPORT); 0: none "
    "(run `crowdquake stream` yourself)",
    "stream_max_connections": "Open streams per stream process; more is 503 with Retry-After",
    "stream_max_per_device": "Open streams per device and process; a new one closes the oldest",
    "trust_all_devices": "Every registered, unblocked device gets trust 1 at once (deployments "
    "that vet their phones, demos). Default: trust is earned (30-day probation, docs/science.md)",
    "device_network_retention_days": "Days a device's registration network prefix (/24, /48) is "
    "kept for the per-network evidence cap; then it is cleared",
    "max_future_skew_s": "A corrected trigger time further than this in the future is 422",
    "max_trigger_age_s": "A corrected trigger time older than this is 422",
    "heartbeat_cell_resolution": "H3 resolution of the coarsened heartbeat position (7: ~5 km²)",
    "trigger_retention_days": "Days triggers (the phone's position and time) and their waveforms "
    "are kept; an hourly job deletes older ones, events keep their aggregates (0: keep forever)",
    "active_heartbeat_max_age_s": "A device is active if its steady heartbeat is this fresh",
    "detection_tick_s": "Period of the sweeper that queues association runs of dirty regions",
    "redrive_after_s": "A queued association run not finished after this is re-queued (lost run)",
    "detection_handoff": "After each ingest commit the web process claims the written regions and "
    "queues their association runs at once (coalesced per process); off: only the sweeper does",
    "association_batch_max": "Most new triggers one association run takes (PostgreSQL); the rest "
    "go to the follow-up run it queues, so a run's time stays bounded in a surge",
    "association_drain_s": "A worker runs a busy region's follow-up runs back to back (no broker "
    "round trip) this long, then queues the next one so other regions get their turn",
    "alerts_disabled_regions": "Kill switch: comma-separated region keys (H3 res 2) where no "
    "automatic alert is issued; detection goes on. Also per region in the database",
    "webhook_url": "Outbound alert webhook (empty: no outbound publishing)",
    "webhook_secret": "Key of the Standard Webhooks signature (HMAC-SHA256 over id, timestamp "
    "and body); `whsec_<base64>` or any string",
    "webhook_timeout_s": "Timeout of one webhook delivery attempt",
    "cap_sender": "`sender` of the CAP 1.2 messages (no spaces or commas); must be set in "
    "production",
    "catalog_name": "Catalogue, contributor and agency name in the FDSN event service, QuakeML "
    "and the feeds",
    "quakeml_authority": "Authority of the QuakeML resource identifiers (`smi:<authority>/...`); "
    "set it to a domain you control, identifiers must stay stable",
    "fdsn_max_events": "Most events one `/fdsnws/event/1/query` may return; more is 413",
    "feed_cache_s": "Seconds a rendered GeoJSON feed is reused (per web process) before it is "
    "rebuilt; also its `Cache-Control: max-age`",
    "edge_model_path": "The .tflite the server scores waveforms with (its sidecar is the same "
    "name with .json). Default: the shipped edge_model/quake_cnn_v1.tflite",
    "broker_poll_interval_s": "Poll interval of the embedded SQLite broker",
    "console_secure_cookies": "Console session cookie has the Secure flag (browsers still send "
    "it to http://127.0.0.1 and localhost; turn off only for plain-HTTP tests on other hosts)",
    "console_tile_url": "Optional raster tile URL template for the console maps, e.g. "
    "`https://tiles.example/{z}/{x}/{y}.png` (empty: the bundled offline Natural Earth base map)",
    "console_login_rate_limit_per_minute": "Console login attempts per client IP per minute; "
    "more is 429",
    "console_lockout_failures": "Consecutive failed logins that lock an operator account",
    "console_lockout_s": "How long a locked operator account stays locked",
    "console_session_hours": "Lifetime of a console login session",
    "environment": "`development` or `production`; production refuses to start with the "
    "default `CROWDQUAKE_CAP_SENDER` or `CROWDQUAKE_QUAKEML_AUTHORITY`",
    "log_level": "Python logging level",
    "worker_metrics_port": "`crowdquake worker` serves Prometheus metrics (detection latency, "
    "backlog, runs, alerts, deliveries) on this port (0: off)",
    "log_format": "`json` (one object per line: ts, level, logger, msg, event fields) or `text`",
    "secret_key": "Flask secret key (console sessions). Set it in production",
}
