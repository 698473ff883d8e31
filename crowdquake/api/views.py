"""``/api/v1`` ingest endpoints: parse -> service -> serialise, nothing else."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, json, request

from crowdquake.api import ingest_edge, schemas
from crowdquake.api.request import (
    authenticated_device,
    enforce_rate_limit,
    parse_body,
    trigger_context,
)
from crowdquake.services import devices, heartbeats, triggers
from crowdquake.web import (
    after_commit,
    container,
    get_session,
    single_statement,
    transactional,
)

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


def _json(model: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(model.model_dump_json(), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _ingest(
    items: list[schemas.TriggerIn],
    device_id: uuid.UUID,
    now: datetime,
    *,
    group_commit: bool = False,
) -> list[triggers.IngestedTrigger]:
    services = container()
    results, regions = ingest_edge.ingest(
        services, get_session(), device_id, items, now=now, group_commit=group_commit
    )
    if regions:
        after_commit(lambda: services.trigger_sink.triggers_committed(regions))
    return results


@bp.post("/devices")
@transactional
def register_device() -> Response:
    enforce_rate_limit(
        f"ip:{request.remote_addr}", container().settings.registration_rate_limit_per_minute
    )
    body = parse_body(schemas.DeviceRegistration)
    registered = devices.register_device(
        get_session(),
        platform=body.platform,
        app_version=body.app_version,
        model_version=body.model_version,
        now=container().clock.now(),
        client_address=request.remote_addr,
        trusted=container().settings.trust_all_devices,
    )
    out = schemas.DeviceRegistered(device_id=registered.device_id, token=registered.token)
    return _json(out, 201, {"Cache-Control": "no-store"})


@bp.post("/heartbeats")
@transactional
def post_heartbeat() -> Response:
    device = authenticated_device()
    body = parse_body(schemas.HeartbeatIn)
    services = container()
    result = heartbeats.record_heartbeat(
        get_session(),
        device.device_id,
        heartbeats.HeartbeatInput(
            lat_deg=body.latitude,
            lon_deg=body.longitude,
            accuracy_m=body.accuracy_m,
            steady=body.steady,
            charging=body.charging,
            app_version=body.app_version,
            model_version=body.model_version,
            clock_offset_s=body.clock_offset_s,
        ),
        now=services.clock.now(),
        cell_resolution=services.settings.heartbeat_cell_resolution,
        trust_all=services.settings.trust_all_devices,
    )
    services.metrics.heartbeats.inc()
    out = schemas.HeartbeatOut(
        device_id=result.device_id,
        cell=result.cell,
        latitude=result.lat_deg,
        longitude=result.lon_deg,
        last_heartbeat_at=result.last_heartbeat_at,
    )
    return _json(out, 201 if result.created else 200)


# The lean WSGI path (api/lean_ingest.py) answers these two routes before Flask in production;
# these views are its reference twin (CROWDQUAKE_INGEST_LEAN_PATH=false serves them) and tests
# check that both answer alike.
@bp.post("/triggers")
# One INSERT ... ON CONFLICT DO NOTHING is the whole write: a replay or a conflict (409) inserts
# nothing, so the statement may commit on its own, grouped with other threads' (group commit).
@single_statement
@transactional
def post_trigger() -> Response:
    device = authenticated_device()
    now = container().clock.now()
    body = parse_body(schemas.TriggerIn, trigger_context(container().settings, now))
    (result,) = _ingest([body], device.device_id, now, group_commit=True)
    status = 201 if result.created else 200
    location = ingest_edge.trigger_location(result.id)
    return _json(ingest_edge.accepted(result), status, {"Location": location})


@bp.post("/triggers:batch")
@transactional
def post_trigger_batch() -> Response:
    device = authenticated_device()
    now = container().clock.now()
    body = parse_body(schemas.TriggerBatchIn, trigger_context(container().settings, now))
    results = _ingest(body.triggers, device.device_id, now)
    status = 201 if any(r.created for r in results) else 200
    out = schemas.TriggerBatchAccepted(triggers=[ingest_edge.accepted(r) for r in results])
    return _json(out, status)


@bp.get("/triggers/<uuid:trigger_id>")
@transactional
def get_trigger(trigger_id: uuid.UUID) -> Response:
    device = authenticated_device()
    row = triggers.get_trigger(get_session(), device.device_id, trigger_id)
    out = schemas.TriggerOut(
        id=row.id,
        trigger_time=row.trigger_time,
        received_at=row.received_at,
        latitude=row.lat_deg,
        longitude=row.lon_deg,
        accuracy_m=row.accuracy_m,
        pga_ms2=row.pga_ms2,
        score=row.score,
        model_version=row.model_version,
        phase_hint=row.phase_hint,
        status=row.status,
        event_id=row.event_id,
    )
    return _json(out)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The contract of this deployment: its settings' limits and its edge model's format."""
    from crowdquake.api.openapi import build_openapi

    extras = container().extras
    if "openapi" not in extras:
        extras["openapi"] = json.dumps(build_openapi(container().settings))
    return Response(extras["openapi"], mimetype="application/json")
