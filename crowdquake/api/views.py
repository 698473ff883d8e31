"""``/api/v1`` ingest endpoints: parse -> service -> serialise, nothing else."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, json, request

from crowdquake.api import schemas
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


def _trigger_context() -> dict[str, Any]:
    services = container()
    return trigger_context(services.settings, services.clock.now())


def _to_input(item: schemas.TriggerIn) -> triggers.TriggerInput:
    return triggers.TriggerInput(
        id=item.id,
        device_time=item.trigger_time,
        clock_offset_s=item.clock_offset_s,
        lat_deg=item.latitude,
        lon_deg=item.longitude,
        accuracy_m=item.accuracy_m,
        pga_ms2=item.pga_ms2,
        score=item.score,
        model_version=item.model_version,
        phase_hint=item.phase_hint,
    )


def _ingest(
    items: list[schemas.TriggerIn], device_id: uuid.UUID, *, group_commit: bool = False
) -> list[triggers.IngestedTrigger]:
    services = container()
    inserter = services.trigger_inserter if group_commit else None
    results = triggers.ingest_triggers(
        get_session(),
        device_id,
        [_to_input(item) for item in items],
        now=services.clock.now(),
        cell_resolution=services.settings.heartbeat_cell_resolution,
        insert=inserter.insert if inserter is not None else None,
    )
    created = [r for r in results if r.created]
    services.metrics.triggers.labels("created").inc(len(created))
    services.metrics.triggers.labels("replayed").inc(len(results) - len(created))
    if created:
        regions = {r.region_key for r in created}
        after_commit(lambda: services.trigger_sink.triggers_committed(regions))
    return results


def _accepted(result: triggers.IngestedTrigger) -> schemas.TriggerAccepted:
    return schemas.TriggerAccepted(
        id=result.id,
        created=result.created,
        trigger_time=result.trigger_time,
        received_at=result.received_at,
    )


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


@bp.post("/triggers")
# One INSERT ... ON CONFLICT DO NOTHING is the whole write: a replay or a conflict (409) inserts
# nothing, so the statement may commit on its own, grouped with other threads' (group commit).
@single_statement
@transactional
def post_trigger() -> Response:
    device = authenticated_device()
    body = parse_body(schemas.TriggerIn, _trigger_context())
    (result,) = _ingest([body], device.device_id, group_commit=True)
    status = 201 if result.created else 200
    return _json(_accepted(result), status, {"Location": f"{bp.url_prefix}/triggers/{result.id}"})


@bp.post("/triggers:batch")
@transactional
def post_trigger_batch() -> Response:
    device = authenticated_device()
    body = parse_body(schemas.TriggerBatchIn, _trigger_context())
    results = _ingest(body.triggers, device.device_id)
    status = 201 if any(r.created for r in results) else 200
    return _json(schemas.TriggerBatchAccepted(triggers=[_accepted(r) for r in results]), status)


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
