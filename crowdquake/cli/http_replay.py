"""Sending replay data to a running server over HTTP, moved to the present and paced in real
time: a real client of the public API (devices, heartbeats, triggers, events)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import httpx

from crowdquake.services.replay import ReplayData, ReplayTrigger

TRANSPORT_RETRIES = 4


@dataclass
class HttpReplayReport:
    started_at: datetime
    shift: timedelta
    sent: int = 0
    errors: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    events: list[dict[str, Any]] = field(default_factory=list)


def _post_json(
    client: httpx.Client, path: str, body: dict[str, Any], token: str | None = None
) -> httpx.Response:
    """POST with a few retries on transport errors (a dropped keep-alive connection, a full
    accept backlog). Safe: triggers are idempotent by id, and a duplicate registration only
    leaves an unused device."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for attempt in range(TRANSPORT_RETRIES):
        try:
            return client.post(path, json=body, headers=headers)
        except httpx.TransportError:
            if attempt == TRANSPORT_RETRIES - 1:
                raise
            time.sleep(0.1 * 2**attempt)
    raise AssertionError("unreachable")


def replay_over_http(
    api: str | Sequence[str],
    data: ReplayData,
    *,
    lead_s: float = 5.0,
    settle_s: float = 10.0,
    concurrency: int = 16,
    show_progress: bool = True,
) -> HttpReplayReport:
    bases = [a.rstrip("/") + "/api/v1" for a in ([api] if isinstance(api, str) else api)]
    base = bases[0]
    device_keys = sorted(
        {t.device_id for t in data.triggers} | {h.device_id for h in data.heartbeats}
    )
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    local = threading.local()
    made: list[httpx.Client] = []  # every thread's clients, closed at the end

    def client(node: int = 0) -> httpx.Client:
        """This thread's client for web node ``node`` (several nodes: scale-out runs)."""
        if not hasattr(local, "clients"):
            local.clients = {}
        if node not in local.clients:
            local.clients[node] = httpx.Client(base_url=bases[node], timeout=10, limits=limits)
            made.append(local.clients[node])
        return local.clients[node]  # type: ignore[no-any-return]

    def register(_key: str) -> str:
        body = {"platform": "other", "app_version": "replay", "model_version": "replay"}
        return str(_post_json(client(), "/devices", body).raise_for_status().json()["token"])

    def heartbeat(hb: Any) -> None:
        body = {
            "latitude": hb.lat_deg,
            "longitude": hb.lon_deg,
            "accuracy_m": 10.0,
            "steady": True,
            "charging": False,
            "app_version": "replay",
            "model_version": "replay",
            "clock_offset_s": 0.0,
        }
        _post_json(client(), "/heartbeats", body, tokens[hb.device_id]).raise_for_status()

    with ThreadPoolExecutor(concurrency) as pool:
        tokens = dict(
            zip(
                device_keys,
                _progress(
                    pool.map(register, device_keys),
                    len(device_keys),
                    "registering phones",
                    show_progress,
                ),
                strict=True,
            )
        )
        for _ in _progress(
            pool.map(heartbeat, data.heartbeats), len(data.heartbeats), "heartbeats", show_progress
        ):
            pass

        triggers = sorted(data.triggers, key=lambda t: t.arrival)
        if not triggers:
            for c in made:
                c.close()
            return HttpReplayReport(datetime.now(UTC), timedelta(0))
        started = datetime.now(UTC)
        shift = (started + timedelta(seconds=lead_s)) - triggers[0].arrival
        report = HttpReplayReport(started, shift)
        lock = threading.Lock()

        def send(item: ReplayTrigger, node: int) -> None:
            body = {
                "id": str(uuid.uuid4()),
                "trigger_time": (item.time + shift).isoformat(),
                "latitude": item.lat_deg,
                "longitude": item.lon_deg,
                "accuracy_m": 10.0,
                "pga_ms2": item.pga_ms2,
                "score": item.score,
                "model_version": "replay",
            }
            try:
                response = _post_json(client(node), "/triggers", body, tokens[item.device_id])
            except httpx.HTTPError:
                with lock:
                    report.errors[0] += 1
                return
            with lock:
                if response.status_code in (200, 201):
                    report.sent += 1
                else:
                    report.errors[response.status_code] += 1

        progress = Progress(len(triggers), "triggers sent in real time", show_progress, 10.0)
        futures = []
        for index, item in enumerate(triggers):
            due = (item.arrival + shift - datetime.now(UTC)).total_seconds()
            if due > 0:
                time.sleep(due)
            futures.append(pool.submit(send, item, index % len(bases)))
            progress.advance()
        for f in futures:
            f.result()
        progress.finish()
    for c in made:
        c.close()
    time.sleep(settle_s)
    with httpx.Client(base_url=base, timeout=10) as http:
        since = (started - timedelta(minutes=10)).isoformat()
        params = {"since": since, "include": "revisions", "limit": "500"}
        report.events = []
        while True:
            page = http.get("/events", params=params).raise_for_status().json()
            report.events.extend(page["events"])
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
    return report


class Progress:
    """Counts printed as plain lines (they stay readable in a log, unlike a progress bar): at
    most every ``every_s`` seconds while it runs, and once at the end with the rate."""

    def __init__(self, total: int, label: str, show: bool, every_s: float = 2.0) -> None:
        self.total = total
        self.label = label
        self.show = show
        self.every_s = every_s
        self.done = 0
        self.started = time.monotonic()
        self._next = self.started + every_s

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.show and now >= self._next and self.done < self.total:
            self._next = now + self.every_s
            click.echo(f"  {self.label}: {self.done:,} / {self.total:,}", err=True)

    def finish(self) -> None:
        if self.show:
            elapsed = time.monotonic() - self.started
            rate = f" ({self.done / elapsed:,.0f}/s)" if elapsed > 0 else ""
            click.echo(
                f"  {self.label}: {self.done:,} / {self.total:,} in {elapsed:.1f} s{rate}", err=True
            )


def _progress(items: Any, total: int, label: str, show: bool) -> Any:
    progress = Progress(total, label, show)
    for item in items:
        progress.advance()
        yield item
    progress.finish()
