"""The simulated phones of ``crowdquake bench soak``: heartbeats, triggers, retries, a tally.

Each phone does what the app does: a heartbeat every ``heartbeat_s`` (random phase), triggers
with a client-generated id, and on a 503/429 (after ``Retry-After``), a refused or reset
connection or a timeout, the same request again with backoff, so that a retry after a lost
answer is answered 200 (replay) instead of storing the trigger twice. A request still failing
after ``GIVE_UP_S`` is abandoned (counted). Background triggers arrive as a Poisson process
(false triggers from phones handled, dropped, on a bus); a "quake" makes the phones within
``BURST_RADIUS_KM`` of an epicentre trigger as the S wave passes (3.5 km/s), a burst of the kind
detection exists for.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

GIVE_UP_S = 90.0
REQUEST_TIMEOUT_S = 10.0
BACKOFF_MAX_S = 5.0
S_WAVE_KM_S = 3.5
BURST_RADIUS_KM = 40.0
EARTH_RADIUS_KM = 6371.0
BAY_AREA = (37.7749, -122.4194)  # phones within AREA_RADIUS_KM of San Francisco
AREA_RADIUS_KM = 60.0


@dataclass
class Tally:
    """What the phones saw. Times are Unix seconds."""

    sent: int = 0  # HTTP attempts, retries included
    by_status: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    timeouts: int = 0
    abandoned: int = 0
    rejected: Counter[int] = field(default_factory=Counter)  # 4xx other than 429, by status
    server_errors: list[tuple[float, int]] = field(default_factory=list)  # (received at, status)
    slowest_503_s: float = 0.0
    trigger_ids: set[str] = field(default_factory=set)  # every trigger id ever sent
    accepted_triggers: set[str] = field(default_factory=set)  # ids answered 2xx
    created: Counter[str] = field(default_factory=Counter)  # id -> number of 201 answers
    accepted_heartbeats: set[str] = field(default_factory=set)  # device ids answered 2xx


@dataclass(frozen=True)
class Phone:
    token: str
    lat_deg: float
    lon_deg: float

    @property
    def device_id(self) -> str:
        return self.token.partition(".")[0]


def place_phones(tokens: list[str], rng: random.Random) -> list[Phone]:
    """Phones spread uniformly over a disc of ``AREA_RADIUS_KM`` around San Francisco."""
    phones = []
    for token in tokens:
        r_km = AREA_RADIUS_KM * math.sqrt(rng.random())
        bearing = rng.uniform(0.0, 2 * math.pi)
        dlat = math.degrees(r_km * math.cos(bearing) / EARTH_RADIUS_KM)
        dlon = math.degrees(
            r_km * math.sin(bearing) / (EARTH_RADIUS_KM * math.cos(math.radians(BAY_AREA[0])))
        )
        phones.append(Phone(token, BAY_AREA[0] + dlat, BAY_AREA[1] + dlon))
    return phones


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def heartbeat_body(phone: Phone) -> dict[str, Any]:
    return {
        "latitude": round(phone.lat_deg, 5),
        "longitude": round(phone.lon_deg, 5),
        "accuracy_m": 20.0,
        "steady": True,
        "charging": True,
        "app_version": "soak",
        "model_version": "cq-edge-1",
    }


def trigger_body(phone: Phone, pga_ms2: float, score: float) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "trigger_time": datetime.now(UTC).isoformat(),
        "clock_offset_s": 0.0,
        "latitude": round(phone.lat_deg, 5),
        "longitude": round(phone.lon_deg, 5),
        "accuracy_m": 15.0,
        "pga_ms2": pga_ms2,
        "score": score,
        "model_version": "cq-edge-1",
    }


class Phones:
    def __init__(
        self, base_url: str, phones: list[Phone], tally: Tally, concurrency: int, seed: int
    ) -> None:
        self.base = base_url + "/api/v1"
        self.phones = phones
        self.tally = tally
        self.gate = asyncio.Semaphore(concurrency)
        self.rng = random.Random(seed)
        self.tasks: set[asyncio.Task[None]] = set()
        self.http: aiohttp.ClientSession | None = None

    async def send(self, path: str, phone: Phone, body: dict[str, Any]) -> None:
        """POST until a final answer (2xx or 4xx), as a phone would; see the module."""
        assert self.http is not None
        tally = self.tally
        is_trigger = path == "/triggers"
        if is_trigger:
            tally.trigger_ids.add(body["id"])
        headers = {"Authorization": f"Bearer {phone.token}"}
        give_up = time.monotonic() + GIVE_UP_S
        backoff_s = 0.5
        async with self.gate:
            while True:
                tally.sent += 1
                started = time.monotonic()
                status: int | None = None
                retry_after = None
                try:
                    async with self.http.post(self.base + path, json=body, headers=headers) as r:
                        status = r.status
                        retry_after = r.headers.get("Retry-After")
                        await r.read()
                except TimeoutError:
                    tally.timeouts += 1
                except aiohttp.ClientError:
                    tally.connection_errors += 1
                wait_s = backoff_s
                if status is not None:
                    tally.by_status[status] += 1
                    if status >= 500:
                        tally.server_errors.append((time.time(), status))
                    if status == 503:
                        tally.slowest_503_s = max(tally.slowest_503_s, time.monotonic() - started)
                    if 200 <= status < 300:
                        if is_trigger:
                            tally.accepted_triggers.add(body["id"])
                            if status == 201:
                                tally.created[body["id"]] += 1
                        else:
                            tally.accepted_heartbeats.add(phone.device_id)
                        return
                    if status in (429, 503) and retry_after and retry_after.isdigit():
                        wait_s = float(retry_after)
                    elif 400 <= status < 500 and status != 429:
                        tally.rejected[status] += 1
                        return
                if time.monotonic() + wait_s > give_up:
                    tally.abandoned += 1
                    return
                await asyncio.sleep(wait_s * self.rng.uniform(0.8, 1.2))
                backoff_s = min(2 * backoff_s, BACKOFF_MAX_S)

    def launch(self, path: str, phone: Phone, body: dict[str, Any]) -> None:
        task = asyncio.create_task(self.send(path, phone, body))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def heartbeats(self, until: float, heartbeat_s: float) -> None:
        """Every phone every ``heartbeat_s``, phases spread at random."""
        now = time.monotonic()
        due = [(now + self.rng.uniform(0, heartbeat_s), i) for i in range(len(self.phones))]
        heapq.heapify(due)
        while due:
            at, i = heapq.heappop(due)
            if at >= until:
                return
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            self.launch("/heartbeats", self.phones[i], heartbeat_body(self.phones[i]))
            heapq.heappush(due, (at + heartbeat_s, i))

    async def background(self, until: float, rate_per_s: float) -> None:
        """False triggers: a Poisson process of ``rate_per_s`` over random phones."""
        if rate_per_s <= 0:
            return
        while True:
            await asyncio.sleep(self.rng.expovariate(rate_per_s))
            if time.monotonic() >= until:
                return
            phone = self.rng.choice(self.phones)
            pga = round(self.rng.uniform(0.05, 0.3), 3)
            self.launch("/triggers", phone, trigger_body(phone, pga, round(self.rng.random(), 3)))

    async def quake(self, lat_deg: float, lon_deg: float) -> int:
        """The phones near the epicentre trigger as the S wave reaches them; returns how many."""
        near = []
        for phone in self.phones:
            d_km = distance_km(lat_deg, lon_deg, phone.lat_deg, phone.lon_deg)
            if d_km <= BURST_RADIUS_KM and self.rng.random() < 0.8:
                near.append((d_km / S_WAVE_KM_S, phone, d_km))
        started = time.monotonic()
        for delay_s, phone, d_km in sorted(near, key=lambda n: n[0]):
            await asyncio.sleep(max(0.0, started + delay_s - time.monotonic()))
            pga = round(3.0 * math.exp(-d_km / 15.0) + 0.1, 3)  # m/s², decaying with distance
            self.launch("/triggers", phone, trigger_body(phone, pga, 0.95))
        return len(near)

    async def drain(self) -> None:
        """Wait for every request in flight, retries included."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def __aenter__(self) -> Phones:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        connector = aiohttp.TCPConnector(limit=0)
        self.http = aiohttp.ClientSession(timeout=timeout, connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http is not None:
            await self.http.close()
