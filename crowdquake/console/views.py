"""Console pages, their JSON feeds and the operator actions (thin: the work is in services)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException

from crowdquake.console.auth import (
    check_csrf,
    configure_app,
    current_operator,
    log_in,
    log_out,
    requires,
)
from crowdquake.services import monitoring, review
from crowdquake.services.audit import recent
from crowdquake.services.errors import FieldError, InvalidInput, ServiceError
from crowdquake.services.operators import authenticate, role_at_least
from crowdquake.services.publishers import webhook_target
from crowdquake.storage.models.events import EVENT_STATUSES
from crowdquake.web import container, get_session, transactional

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
root = Blueprint("console_root", __name__)
PUBLIC_ENDPOINTS = {"console.login", "console.static"}
MAX_HOURS = 24 * 30


@bp.record_once
def _configure(state: Any) -> None:
    configure_app(state.app)
    state.app.register_blueprint(root)


@root.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("console.events"))


def _is_api() -> bool:
    return request.path.startswith("/console/api/")


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    """No page without login; every POST carries the CSRF token."""
    if request.method == "POST":
        check_csrf()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_operator() is None:
        if _is_api():
            return _json_error(401, "Unauthorized", "log in at /console/login")
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    return None


@bp.after_request
def _no_store(response: Response) -> Response:
    # Console pages carry operational data and CSRF tokens: never cached by a browser or proxy.
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    operator = current_operator()
    return {
        "operator": operator,
        "csrf_token": generate_csrf,
        "can": (lambda role: operator is not None and role_at_least(operator.role, role)),
        "tile_url": container().settings.console_tile_url,
    }


def _json_error(
    status: int, title: str, detail: str, errors: tuple[FieldError, ...] = ()
) -> Response:
    response = jsonify(
        type="about:blank",
        title=title,
        status=status,
        detail=detail,
        instance=request.path,
        errors=[{"field": e.field, "message": e.message, "type": e.type} for e in errors],
    )
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _error_page(
    status: int, title: str, detail: str, errors: tuple[FieldError, ...] = ()
) -> ResponseReturnValue:
    if _is_api():
        return _json_error(status, title, detail, errors)
    return render_template(
        "error.html", status=status, title=title, detail=detail, errors=errors
    ), status


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> ResponseReturnValue:
    return _error_page(400, "CSRF token missing or invalid", "Reload the page and try again.")


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> ResponseReturnValue:
    return _error_page(exc.status, exc.title, exc.detail, exc.errors)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    return _error_page(status, exc.name, exc.description or exc.name)


# ------------------------------------------------------------------ login


def _safe_next(target: str | None) -> str:
    """Only a local console path: never an open redirect."""
    if (
        target
        and target.startswith("/console")
        and not urlsplit(target).netloc
        and "//" not in target
    ):
        return target
    return url_for("console.events")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    services = container()
    settings = services.settings
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    client = request.remote_addr or "-"
    retry = services.rate_limiter.hit(
        f"console-login:{client}", settings.console_login_rate_limit_per_minute
    )
    if retry is not None:
        body = render_template(
            "error.html",
            status=429,
            title="Too many login attempts",
            detail=f"Try again in {retry} s.",
            errors=(),
        )
        return body, 429, {"Retry-After": str(retry)}
    session = get_session()
    operator = authenticate(
        session,
        request.form.get("username", "")[:64],
        request.form.get("password", "")[:1024],
        now=services.clock.now(),
        lockout_failures=settings.console_lockout_failures,
        lockout_s=settings.console_lockout_s,
        client=client,
    )
    session.commit()  # the failure count and the audit row are kept either way
    if operator is None:
        return render_template(
            "login.html",
            next=request.form.get("next", ""),
            error="Invalid credentials, or the account is locked or disabled.",
        ), 401
    log_in(operator)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
@transactional
def logout() -> ResponseReturnValue:
    operator = current_operator()
    if operator is not None:
        from crowdquake.services.audit import record

        record(
            get_session(),
            operator.username,
            "logout",
            "operator",
            operator.username,
            {},
            container().clock.now(),
        )
    log_out()
    return redirect(url_for("console.login"))


# ------------------------------------------------------------------ events


def _event_filter() -> monitoring.EventFilter:
    errors = []
    args = request.args
    hours = 24.0
    min_mag = None
    try:
        hours = float(args.get("hours") or 24)
        if not 0 < hours <= MAX_HOURS:
            raise ValueError
    except ValueError:
        errors.append(FieldError("hours", f"a number of hours in (0, {MAX_HOURS}]"))
    try:
        min_mag = float(args["min_magnitude"]) if args.get("min_magnitude") else None
        if min_mag is not None and not -2 <= min_mag <= 10:
            raise ValueError
    except ValueError:
        errors.append(FieldError("min_magnitude", "a magnitude in [-2, 10]"))
    status = args.get("status") or None
    if status is not None and status not in EVENT_STATUSES:
        errors.append(FieldError("status", f"one of {', '.join(EVENT_STATUSES)}"))
    region = (args.get("region") or "").strip().lower() or None
    if region is not None and (len(region) > 16 or not region.isalnum()):
        errors.append(FieldError("region", "a region key (H3 resolution-2 cell)"))
    if errors:
        raise InvalidInput("invalid filter", tuple(errors))
    now = container().clock.now()
    return monitoring.EventFilter(now - timedelta(hours=hours), min_mag, status, region)


@bp.get("/")
def events() -> str:
    flt = _event_filter()
    return render_template(
        "events.html",
        events=monitoring.list_events(get_session(), flt),
        statuses=EVENT_STATUSES,
        args=request.args,
    )


@bp.get("/api/events")
def events_json() -> Response:
    flt = _event_filter()
    return jsonify(
        events=monitoring.list_events(get_session(), flt), now=container().clock.now().isoformat()
    )


@bp.get("/events/<public_id>")
def event(public_id: str) -> str:
    detail = monitoring.event_detail(get_session(), public_id)
    return render_template("event.html", e=detail, events_list=[])


@bp.get("/api/events/<public_id>")
def event_json(public_id: str) -> Response:
    return jsonify(monitoring.event_detail(get_session(), public_id))


def _targets() -> tuple[str, ...]:
    url = container().settings.webhook_url
    return (webhook_target(url),) if url else ()


def _act(action: Callable[[], review.ActionResult], back: str) -> ResponseReturnValue:
    result = action()
    text = f"{result.target}: {result.message or result.status}"
    if result.alert_ids:
        text += f" ({len(result.alert_ids)} alert rows written)"
    flash(text, "ok")
    return redirect(back)


def _operator_name() -> str:
    operator = current_operator()
    assert operator is not None
    return operator.username


@bp.post("/events/<public_id>/<any(confirm, reject, release):verb>")
@requires("operator")
@transactional
def event_action(public_id: str, verb: str) -> ResponseReturnValue:
    now = container().clock.now()
    note = request.form.get("note", "")
    back = url_for("console.event", public_id=public_id)
    if verb == "reject":
        return _act(
            lambda: review.reject(
                get_session(), public_id, actor=_operator_name(), now=now, note=note
            ),
            back,
        )
    fn = review.confirm if verb == "confirm" else review.release
    return _act(
        lambda: fn(
            get_session(),
            public_id,
            actor=_operator_name(),
            now=now,
            note=note,
            delivery_targets=_targets(),
        ),
        back,
    )


@bp.post("/events/<public_id>/merge")
@requires("operator")
@transactional
def event_merge(public_id: str) -> ResponseReturnValue:
    into = request.form.get("into", "").strip()
    now = container().clock.now()
    return _act(
        lambda: review.merge(get_session(), public_id, into, actor=_operator_name(), now=now),
        url_for("console.event", public_id=public_id),
    )


@bp.post("/events/<public_id>/annotate")
@requires("operator")
@transactional
def event_annotate(public_id: str) -> ResponseReturnValue:
    note = request.form.get("note", "")
    now = container().clock.now()
    return _act(
        lambda: review.annotate(get_session(), public_id, note, actor=_operator_name(), now=now),
        url_for("console.event", public_id=public_id),
    )


# ------------------------------------------------------------------ network


@bp.get("/network")
def network() -> str:
    services = container()
    summary = monitoring.network_summary(
        get_session(), services.clock.now(), services.settings.active_heartbeat_max_age_s
    )
    return render_template("network.html", n=summary)


@bp.get("/api/network")
def network_json() -> Response:
    services = container()
    return jsonify(
        monitoring.network_summary(
            get_session(), services.clock.now(), services.settings.active_heartbeat_max_age_s
        )
    )


@bp.post("/devices/<device_id>/<any(block, unblock):verb>")
@requires("admin")
@transactional
def device_action(device_id: str, verb: str) -> ResponseReturnValue:
    now = container().clock.now()
    reason = request.form.get("reason", "")
    return _act(
        lambda: review.set_device_blocked(
            get_session(),
            device_id,
            verb == "block",
            actor=_operator_name(),
            now=now,
            reason=reason,
        ),
        url_for("console.network"),
    )


# ------------------------------------------------------------------ operations


@bp.get("/operations")
def operations() -> str:
    summary = monitoring.operations_summary(get_session(), container().clock.now())
    return render_template("operations.html", o=summary)


@bp.get("/api/operations")
def operations_json() -> Response:
    return jsonify(monitoring.operations_summary(get_session(), container().clock.now()))


@bp.post("/regions/alerts")
@requires("admin")
@transactional
def region_alerts() -> ResponseReturnValue:
    enabled = request.form.get("alerts") == "on"
    if request.form.get("alerts") not in ("on", "off"):
        raise InvalidInput("invalid switch", (FieldError("alerts", "on or off"),))
    now = container().clock.now()
    return _act(
        lambda: review.set_region_alerts(
            get_session(),
            request.form.get("region", ""),
            enabled,
            actor=_operator_name(),
            now=now,
            reason=request.form.get("reason", ""),
        ),
        url_for("console.operations"),
    )


@bp.post("/deliveries/<int:delivery_id>/resend")
@requires("admin")
@transactional
def delivery_resend(delivery_id: int) -> ResponseReturnValue:
    now = container().clock.now()
    return _act(
        lambda: review.resend_delivery(get_session(), delivery_id, actor=_operator_name(), now=now),
        url_for("console.operations"),
    )


# ------------------------------------------------------------------ audit


@bp.get("/audit")
def audit() -> str:
    return render_template("audit.html", entries=recent(get_session(), limit=200))


@bp.get("/api/audit")
def audit_json() -> Response:
    return jsonify(
        entries=[
            {
                "at": a.at.isoformat(),
                "actor": a.actor,
                "action": a.action,
                "target_type": a.target_type,
                "target_id": a.target_id,
                "details": a.details,
            }
            for a in recent(get_session(), limit=200)
        ]
    )
