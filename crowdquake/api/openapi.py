"""The OpenAPI 3.1 document of ``/api/v1``, generated from the pydantic models.

``crowdquake openapi`` writes it to ``crowdquake/api/openapi.json`` (checked in); a test keeps the
two equal, so the published contract cannot drift from the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from crowdquake import __version__
from crowdquake.api import alert_schemas, event_schemas, schemas

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
    schemas.Problem,
]

ERRORS = {
    "400": "Body is not JSON",
    "401": "Missing or invalid device token",
    "403": "Device is blocked",
    "404": "Not found (or another device's resource)",
    "409": "Trigger id reused with a different body",
    "413": "Body larger than the configured limit",
    "415": "Content-Type is not application/json (the response carries `Accept`)",
    "422": "Schema or physical-range violation; `errors` lists field paths",
    "429": "Per-device rate limit; see Retry-After",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}


def _responses(
    ok: dict[str, tuple[str, type[BaseModel] | None]], errors: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, (description, model) in ok.items():
        out[status] = {"description": description}
        if model is not None:
            out[status]["content"] = {"application/json": {"schema": _ref(model)}}
    for status in errors:
        out[status] = {
            "description": ERRORS[status],
            "content": {"application/problem+json": {"schema": _ref(schemas.Problem)}},
        }
    return out


AUTH: list[dict[str, list[str]]] = [{"deviceToken": []}]
INGEST_ERRORS = ["400", "401", "403", "413", "415", "422", "429"]


def build_openapi() -> dict[str, Any]:
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
            "Errors are RFC 7807 problem+json documents with per-field messages.",
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
                        ["400", "413", "415", "422", "429"],
                    ),
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
            **_waveform_paths(),
        },
        "components": {
            "schemas": definitions["$defs"],
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
        "schema": {"type": "integer", "minimum": 0},
    }
    alert_id = {
        "name": "alert_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
    problem = {"application/problem+json": {"schema": _ref(schemas.Problem)}}
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
                        "schema": {"type": "integer", "minimum": 0},
                    },
                ],
                "responses": {
                    "307": {
                        "description": "To the stream server: `Location` carries `ticket`, "
                        "`since` and `max_s`",
                        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
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
                        "content": problem,
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
                        "content": {"application/cap+xml": {"schema": {"type": "string"}}},
                    },
                    "404": {"description": "Unknown alert", "content": problem},
                    "429": {"description": ERRORS["429"], "content": problem},
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
                        "content": {"application/cap+xml": {"schema": {"type": "string"}}},
                    },
                    "404": {
                        "description": "Unknown alert, or its chain was not cancelled",
                        "content": problem,
                    },
                    "429": {"description": ERRORS["429"], "content": problem},
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
                        "content": {"application/atom+xml": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def _event_paths() -> dict[str, Any]:
    from crowdquake.api.event_schemas import DEFAULT_PAGE, MAX_PAGE, EventPage
    from crowdquake.services.feeds import LEVELS, PERIODS

    problem = {"application/problem+json": {"schema": _ref(schemas.Problem)}}
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
                        "zone (default: the last 24 h)",
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
                    },
                    {
                        "name": "include",
                        "in": "query",
                        "required": False,
                        "description": "`revisions`: every revision of each event",
                        "schema": {"type": "string", "enum": ["revisions"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "One page of events",
                        "content": {"application/json": {"schema": _ref(EventPage)}},
                    },
                    "422": {"description": ERRORS["422"], "content": problem},
                    "429": {
                        "description": "Per-IP rate limit; see Retry-After",
                        "content": problem,
                    },
                },
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
                        "content": {"application/geo+json": {"schema": {"type": "object"}}},
                    },
                    "304": {"description": "Not modified (conditional GET)"},
                    "404": {"description": "Unknown feed name", "content": problem},
                },
            }
        },
    }


def _waveform_paths() -> dict[str, Any]:
    from crowdquake.api.waveforms import WaveformIn

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
                    "content": {"application/json": {"schema": WaveformIn.model_json_schema()}},
                },
                "responses": _responses(
                    {"201": ("Stored", None), "200": ("Replaced", None)},
                    ["400", "401", "403", "404", "413", "415", "422", "429"],
                ),
            }
        }
    }
