"""The OpenAPI 3.1 document of ``/api/v1``, generated from the pydantic models.

``crowdquake openapi`` writes it to ``crowdquake/api/openapi.json`` (checked in, for the default
settings and the shipped edge model); a test keeps the two equal, so the published contract
cannot drift from the code. ``/api/v1/openapi.json`` serves the document of the running
deployment's settings (batch size, body limit, acceptance window, waveform format).

Every rule the server enforces is in the document: JSON Schema where it can say it (ranges,
lengths, patterns, exact sample rate and channels, integer maxima), and where it cannot (a time
relative to the server's clock, equal channel lengths) in the description plus a machine-readable
``x-acceptance-window`` extension. Every response lists the headers it always carries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from crowdquake import __version__
from crowdquake.api import alert_schemas, event_schemas, schemas
from crowdquake.api.middleware import CSP_API, HSTS
from crowdquake.config import Settings

CHECKED_IN = Path(__file__).with_name("openapi.json")
REF = "#/components/schemas/{model}"

_MODELS: list[type[BaseModel]] = [
    schemas.DeviceRegistration,
    schemas.DeviceRegistered,
    schemas.HeartbeatIn,
    schemas.HeartbeatOut,
    schemas.TriggerIn,
    schemas.TriggerBatchIn,
    schemas.TriggerOut,
    schemas.TriggerAccepted,
    schemas.TriggerBatchAccepted,
    schemas.WaveformStored,
    schemas.Problem,
]

ERRORS = {
    "400": "Body is not JSON (or the HTTP request is malformed)",
    "401": "Missing or invalid device token",
    "403": "Device is blocked",
    "404": "Not found (or another device's resource)",
    "409": "Trigger id reused with a different body",
    "413": "Body larger than the configured limit (in `info.description`)",
    "415": "Content-Type is not application/json (the response carries `Accept`)",
    "414": "Request line (method, path and query) longer than the server reads",
    "422": "Schema or physical-range violation; `errors` lists field paths",
    "429": "Rate limit (sliding 60 s window); see Retry-After",
    "431": "Too many request header fields, or one too large",
}
# Answered for any operation, by the HTTP server itself (crowdquake.cli.gunicorn_edge).
ALWAYS = ["414", "431"]
BODY_ERRORS = ["400", "413", "415", "422"]

SECURITY_HEADERS: dict[str, Any] = {
    "Strict-Transport-Security": {"description": "HSTS", "example": HSTS},
    "X-Content-Type-Options": {"description": "Always `nosniff`", "const": "nosniff"},
    "Content-Security-Policy": {
        "description": "Includes `frame-ancestors 'none'`",
        "example": CSP_API,
    },
    "Referrer-Policy": {"description": "Always `no-referrer`", "const": "no-referrer"},
}
HEADERS: dict[str, Any] = {
    **{
        name: {
            "description": spec["description"],
            "required": True,
            "schema": {"type": "string", **({"const": spec["const"]} if "const" in spec else {})},
        }
        for name, spec in SECURITY_HEADERS.items()
    },
    "Retry-After": {
        "description": "Seconds until the request would be accepted",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
    "Accept": {
        "description": "The media type the endpoint accepts",
        "required": True,
        "schema": {"type": "string", "const": "application/json"},
    },
    "Location": {
        "description": "URL of the stored trigger",
        "required": True,
        "schema": {"type": "string"},
    },
}
STATUS_HEADERS = {"429": ["Retry-After"], "415": ["Accept"]}


def _headers(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in (*SECURITY_HEADERS, *names)}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}


def _error(status: str) -> dict[str, Any]:
    return {
        "description": ERRORS[status],
        "headers": _headers(*STATUS_HEADERS.get(status, [])),
        "content": {"application/problem+json": {"schema": _ref(schemas.Problem)}},
    }


def _responses(
    ok: dict[str, tuple[str, type[BaseModel] | None]],
    errors: list[str],
    ok_headers: tuple[str, ...] = (),
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, (description, model) in ok.items():
        out[status] = {"description": description, "headers": _headers(*ok_headers)}
        if links:
            out[status]["links"] = links
        if model is not None:
            out[status]["content"] = {"application/json": {"schema": _ref(model)}}
    for status in sorted({*errors, *ALWAYS}):
        out[status] = _error(status)
    return out


def _trigger_links(trigger_id: str) -> dict[str, Any]:
    """What a client can do next with a stored trigger (OpenAPI links, followed by fuzzers)."""
    return {
        operation: {"operationId": operation, "parameters": {"trigger_id": trigger_id}}
        for operation in ("getTrigger", "putTriggerWaveform")
    }


AUTH: list[dict[str, list[str]]] = [{"deviceToken": []}]
INGEST_ERRORS = ["401", "403", "429", *BODY_ERRORS]


def _state_runtime_rules(defs: dict[str, Any], settings: Settings) -> None:
    """Write this deployment's limits into the generated schemas."""
    age, skew = settings.max_trigger_age_s, settings.max_future_skew_s
    trigger_time = defs["TriggerIn"]["properties"]["trigger_time"]
    trigger_time["description"] = (
        "Trigger time on the device clock, ISO 8601 with a zone. The corrected time "
        f"trigger_time + clock_offset_s must lie within [server now - {age:g} s, "
        f"server now + {skew:g} s]; otherwise 422"
    )
    trigger_time["x-acceptance-window"] = {
        "corrected": "trigger_time + clock_offset_s",
        "max_age_s": age,
        "max_future_s": skew,
    }
    triggers = defs["TriggerBatchIn"]["properties"]["triggers"]
    triggers["maxItems"] = settings.max_batch_triggers
    triggers["description"] = (
        f"1 to {settings.max_batch_triggers} triggers; an id may appear once (a repeat is 409)"
    )


def build_openapi(settings: Settings | None = None) -> dict[str, Any]:
    """The document for ``settings`` (default: the defaults, as checked in)."""
    settings = settings or Settings()
    _, definitions = models_json_schema(
        [
            (
                m,
                "validation"
                if m.__name__.endswith("In") or m.__name__ == "DeviceRegistration"
                else "serialization",
            )
            for m in [*_MODELS, *alert_schemas.MODELS, *event_schemas.MODELS]
        ],
        ref_template=REF,
    )
    _state_runtime_rules(definitions["$defs"], settings)
    trigger_id = {
        "name": "trigger_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "crowdquake ingest API",
            "version": __version__,
            "description": "Phones register, send heartbeats and post triggers. "
            "Errors are RFC 7807 problem+json documents with per-field messages. "
            "Request bodies must be declared `application/json` (else 415) and be at most "
            f"{settings.max_request_bytes} bytes (else 413). Rate limits count requests in "
            f"any 60 s: {settings.rate_limit_per_minute} per device token, "
            f"{settings.registration_rate_limit_per_minute} registrations per client IP "
            "(429 with Retry-After). A rejected request writes nothing; a 2xx means the data "
            "is committed.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/devices": {
                "post": {
                    "summary": "Register a phone; the token is shown once",
                    "operationId": "registerDevice",
                    "requestBody": _json_body(schemas.DeviceRegistration),
                    "responses": _responses(
                        {"201": ("Registered", schemas.DeviceRegistered)},
                        ["429", *BODY_ERRORS],
                    ),
                }
            },
            "/devices/me/export": {
                "get": {
                    "summary": "Everything stored about this device (registration, last "
                    "heartbeat, triggers, waveforms as base64), as a JSON attachment",
                    "description": "Triggers and waveforms older than "
                    "`CROWDQUAKE_TRIGGER_RETENTION_DAYS` are already deleted.",
                    "operationId": "exportDevice",
                    "security": AUTH,
                    "responses": {
                        "200": {
                            "description": "Keys `device`, `last_heartbeat` (null if none), "
                            "`triggers`, `waveforms`",
                            "headers": _headers(),
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_responses({}, ["401", "403", "429"]),
                    },
                }
            },
            "/devices/me": {
                "delete": {
                    "summary": "Erase this device: registration, heartbeat state, triggers and "
                    "waveforms; events keep their aggregates. The token stops working (other "
                    "web processes: within CROWDQUAKE_AUTH_CACHE_TTL_S)",
                    "operationId": "deleteDevice",
                    "security": AUTH,
                    "responses": {
                        "204": {"description": "Erased", "headers": _headers()},
                        **_responses({}, ["401", "403", "429"]),
                    },
                }
            },
            "/heartbeats": {
                "post": {
                    "summary": "Report position (stored coarsened), steadiness and clock offset",
                    "operationId": "postHeartbeat",
                    "security": AUTH,
                    "requestBody": _json_body(schemas.HeartbeatIn),
                    "responses": _responses(
                        {
                            "200": ("State updated", schemas.HeartbeatOut),
                            "201": ("First heartbeat of this device", schemas.HeartbeatOut),
                        },
                        INGEST_ERRORS,
                    ),
                }
            },
            "/triggers": {
                "post": {
                    "summary": "Post one trigger; idempotent on its client UUID",
                    "operationId": "postTrigger",
                    "security": AUTH,
                    "requestBody": _json_body(schemas.TriggerIn),
                    "responses": _responses(
                        {
                            "201": ("Stored", schemas.TriggerAccepted),
                            "200": (
                                "Identical replay of a stored trigger",
                                schemas.TriggerAccepted,
                            ),
                        },
                        [*INGEST_ERRORS, "409"],
                        ok_headers=("Location",),
                        links=_trigger_links("$response.body#/id"),
                    ),
                }
            },
            "/triggers:batch": {
                "post": {
                    "summary": "Post several triggers; all-or-nothing validation",
                    "operationId": "postTriggerBatch",
                    "security": AUTH,
                    "requestBody": _json_body(schemas.TriggerBatchIn),
                    "responses": _responses(
                        {
                            "201": ("Stored (some may be replays)", schemas.TriggerBatchAccepted),
                            "200": ("All were identical replays", schemas.TriggerBatchAccepted),
                        },
                        [*INGEST_ERRORS, "409"],
                        links=_trigger_links("$response.body#/triggers/0/id"),
                    ),
                }
            },
            "/triggers/{trigger_id}": {
                "get": {
                    "summary": "One of this device's triggers",
                    "operationId": "getTrigger",
                    "security": AUTH,
                    "parameters": [trigger_id],
                    "responses": _responses(
                        {"200": ("The trigger", schemas.TriggerOut)},
                        ["401", "403", "404", "429"],
                    ),
                }
            },
            **_alert_paths(),
            **_event_paths(),
            **_waveform_paths(settings),
        },
        "components": {
            "schemas": definitions["$defs"],
            "headers": HEADERS,
            "securitySchemes": {
                "deviceToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The token returned by POST /devices",
                }
            },
        },
    }


# --- Alert delivery (crowdquake.api.alerts) ------------------------------------------------------


def _alert_paths() -> dict[str, Any]:
    since = {
        "name": "since",
        "in": "query",
        "required": False,
        "description": "Cursor: only alerts with a larger id (default: the last 10 minutes)",
        "schema": {"type": "integer", "minimum": 0, "maximum": alert_schemas.MAX_ALERT_ID},
    }
    alert_id = {
        "name": "alert_id",
        "in": "path",
        "required": True,
        "description": "Larger than the largest 64-bit id: 404",
        "schema": {"type": "integer", "minimum": 0},
    }
    return {
        "/alerts": {
            "get": {
                "summary": "Alerts concerning this device's cell since the cursor",
                "operationId": "listAlerts",
                "security": AUTH,
                "parameters": [since],
                "responses": _responses(
                    {
                        "200": (
                            "Alerts, oldest first, and the next cursor",
                            alert_schemas.DeviceAlertList,
                        )
                    },
                    ["401", "403", "422", "429"],
                ),
            }
        },
        "/alerts/stream": {
            "get": {
                "summary": "Server-Sent Events: one `alert` event (id = alert id) per new alert",
                "description": "The API authenticates and validates, then answers 307 to the "
                "stream server (`CROWDQUAKE_STREAM_URL`, default: this host with the port of "
                "`CROWDQUAKE_STREAM_BIND`) with a signed `ticket` (valid 60 s) and `since`, since "
                "clients drop Authorization on a redirect to another origin; behind a reverse "
                "proxy the path may go to the stream server directly (it also takes the bearer "
                "token). The stream first sends the device's alerts after `Last-Event-ID` (it "
                "takes precedence over `since`; default: the last 10 minutes), then each new one "
                "within ~0.25 s of its commit, never the same id twice; `: keep-alive` comments "
                "every 15 s; closes after `max_s`. At most `CROWDQUAKE_STREAM_MAX_PER_DEVICE` "
                "streams per device (a new one closes the oldest) and "
                "`CROWDQUAKE_STREAM_MAX_CONNECTIONS` per stream process (more: 503 with "
                "Retry-After).",
                "operationId": "streamAlerts",
                "security": AUTH,
                "parameters": [
                    since,
                    {
                        "name": "max_s",
                        "in": "query",
                        "required": False,
                        "description": "Close the stream after this many seconds",
                        "schema": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": alert_schemas.MAX_STREAM_S,
                            "default": 300,
                        },
                    },
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": alert_schemas.MAX_ALERT_ID,
                        },
                    },
                ],
                "responses": {
                    "307": {
                        "description": "To the stream server: `Location` carries `ticket`, "
                        "`since` and `max_s`",
                        "headers": {
                            **_headers(),
                            "Location": {"schema": {"type": "string", "format": "uri"}},
                        },
                    },
                    "200": {
                        "description": "(from the stream server) `event: alert` with a "
                        "DeviceAlertOut JSON `data` line",
                        "content": {
                            "text/event-stream": {
                                "schema": {
                                    "type": "string",
                                    "description": "`data` of each event: DeviceAlertOut JSON",
                                }
                            }
                        },
                    },
                    **_responses({}, ["401", "403", "422", "429"]),
                    "503": {
                        "description": "(from the stream server) too many open streams; retry "
                        "after `Retry-After` seconds",
                        "content": {"application/problem+json": {"schema": _ref(schemas.Problem)}},
                    },
                },
            }
        },
        "/alerts/{alert_id}.cap": {
            "get": {
                "summary": "The alert as an OASIS CAP 1.2 message (public)",
                "description": "msgType Alert for the first alert of its level for the event, "
                "Update (referencing only the earlier messages of the same level) after that. "
                "Stays readable after the event was withdrawn: its Cancel references it.",
                "operationId": "getAlertCap",
                "parameters": [alert_id],
                "responses": {
                    "200": {
                        "description": "CAP 1.2 XML (urn:oasis:names:tc:emergency:cap:1.2)",
                        "headers": _headers(),
                        "content": {"application/cap+xml": {"schema": {"type": "string"}}},
                    },
                    **_responses({}, ["429"]),
                    "404": {**_error("404"), "description": "Unknown alert"},
                },
            }
        },
        "/alerts/{alert_id}/cancel.cap": {
            "get": {
                "summary": "The CAP 1.2 Cancel that ended the chain started by this alert",
                "description": "A chain (one event, one level) is cancelled when a later "
                "revision alerts without that level, or when the event is rejected or "
                "cancelled. `references` lists every message of the chain.",
                "operationId": "getAlertCancelCap",
                "parameters": [alert_id],
                "responses": {
                    "200": {
                        "description": "CAP 1.2 XML, msgType Cancel",
                        "headers": _headers(),
                        "content": {"application/cap+xml": {"schema": {"type": "string"}}},
                    },
                    **_responses({}, ["429"]),
                    "404": {
                        **_error("404"),
                        "description": "Unknown alert, or its chain was not cancelled",
                    },
                },
            }
        },
        "/alerts/cap.atom": {
            "get": {
                "summary": "Atom 1.0 index of the CAP messages in force (public)",
                "description": "The latest message of every chain sent within the last hour "
                "(the CAP expiry), Cancels included, newest first; each entry links its CAP "
                "document. What CAP aggregators poll.",
                "operationId": "getAlertsAtom",
                "responses": {
                    "200": {
                        "description": "Atom feed (RFC 4287)",
                        "headers": _headers(),
                        "content": {"application/atom+xml": {"schema": {"type": "string"}}},
                    },
                    **_responses({}, []),
                },
            }
        },
    }


def _event_paths() -> dict[str, Any]:
    from crowdquake.api.event_schemas import DEFAULT_PAGE, MAX_PAGE, EventPage
    from crowdquake.services.feeds import LEVELS, PERIODS

    feed_names = [f"{level}_{period}" for level in LEVELS for period in PERIODS] + list(PERIODS)
    return {
        "/events": {
            "get": {
                "summary": "Detected earthquakes (candidate, held, confirmed), a page at a time",
                "description": "Each event carries the numbers of its preferred (current) "
                "revision; `include=revisions` adds every revision. Oldest first by creation "
                "time; follow `next_cursor` until it is null. Rate-limited per client IP.",
                "operationId": "listEvents",
                "parameters": [
                    {
                        "name": "since",
                        "in": "query",
                        "required": False,
                        "description": "Events created at or after this ISO 8601 time with a "
                        "zone, in UTC years 1 to 9999 (default: the last 24 h); else 422",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "description": "Events per page",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_PAGE,
                            "default": DEFAULT_PAGE,
                        },
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "description": "`next_cursor` of the previous page (send the same "
                        "`since`); a cursor this server did not issue is 422",
                        "schema": {"type": "string", "maxLength": 200},
                        "x-server-issued": True,
                    },
                    {
                        "name": "include",
                        "in": "query",
                        "required": False,
                        "description": "`revisions`: every revision of each event",
                        "schema": {"type": "string", "enum": ["revisions"]},
                    },
                ],
                "responses": _responses({"200": ("One page of events", EventPage)}, ["422", "429"]),
            }
        },
        "/feeds/{feed}.geojson": {
            "get": {
                "summary": "USGS-style GeoJSON summary feed of the past hour, day, week or month",
                "description": "`{level}_{period}` with level `all` or a minimum magnitude "
                "(`1.0`, `2.5`, `4.5`), or just `{period}` (= all). A FeatureCollection with "
                "`metadata`, `bbox` and one Feature per event (coordinates: longitude, "
                "latitude, depth km; `time`/`updated` in ms since the epoch). Rebuilt at most "
                "every CROWDQUAKE_FEED_CACHE_S seconds per web process; ETag and "
                "Last-Modified change only when the content does; conditional GETs "
                "(If-None-Match, If-Modified-Since) get 304.",
                "operationId": "getFeed",
                "parameters": [
                    {
                        "name": "feed",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": feed_names},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "GeoJSON FeatureCollection (USGS feed layout)",
                        "headers": _headers(),
                        "content": {"application/geo+json": {"schema": {"type": "object"}}},
                    },
                    "304": {"description": "Not modified (conditional GET)", "headers": _headers()},
                    **_responses({}, []),
                    "404": {**_error("404"), "description": "Unknown feed name"},
                },
            }
        },
    }


def _waveform_paths(settings: Settings) -> dict[str, Any]:
    from crowdquake.api.waveforms import waveform_schema

    return {
        "/triggers/{trigger_id}/waveform": {
            "put": {
                "summary": "Upload the accelerometer snippet of one of this device's triggers",
                "description": "Sample rate, channel order and length must match the edge "
                "model's sidecar; a worker re-scores the snippet with the same model.",
                "operationId": "putTriggerWaveform",
                "security": AUTH,
                "parameters": [
                    {
                        "name": "trigger_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": waveform_schema(settings)}},
                },
                "responses": _responses(
                    {
                        "201": ("Stored", schemas.WaveformStored),
                        "200": ("Replaced", schemas.WaveformStored),
                    },
                    ["401", "403", "404", "429", *BODY_ERRORS],
                ),
            }
        }
    }
