"""``/api/v1/devices/me``: a device's own data, exported or erased (bearer token)."""

from __future__ import annotations

import json

from flask import Blueprint, Response

from crowdquake.api.request import authenticated_device
from crowdquake.services import privacy
from crowdquake.web import container, get_session, transactional

bp = Blueprint("api_v1_privacy", __name__, url_prefix="/api/v1")


@bp.get("/devices/me/export")
@transactional
def export_me() -> Response:
    device = authenticated_device()
    document = privacy.export_device(get_session(), device.device_id)
    response = Response(json.dumps(document), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = 'attachment; filename="crowdquake-device.json"'
    return response


@bp.delete("/devices/me")
@transactional
def delete_me() -> Response:
    device = authenticated_device()
    privacy.erase_device(get_session(), device.device_id)
    container().auth_cache.forget_device(device.device_id)
    return Response(status=204)
