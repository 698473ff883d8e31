"""The real-time association use case: one run over one region's recent triggers.

A region is a coarse H3 cell (``domain.cells.region_key``). A run loads the triggers of the
region and its neighbours (the overlap margin), feeds them to the domain's streaming detector,
persists the events whose epicentre lies in the region, and marks what it processed. State that
matters lives in the database; each worker process also keeps the detector of each region it
ran in memory (``DetectorCache``) and feeds it only the new triggers, as long as nobody else ran
the region in between (``region_state.runs`` is the generation check); otherwise it rebuilds
from the database, which gives the same events because the detector is deterministic.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

import h3
import numpy as np
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from crowdquake.config import DEFAULT_ACTIVE_HEARTBEAT_MAX_AGE_S
from crowdquake.domain.cells import region_key as region_of
from crowdquake.domain.detection import BackgroundRates
from crowdquake.domain.detection import local_hour as solar_hour
from crowdquake.domain.detector import StreamingDetector
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.trust import DeviceProfile
from crowdquake.domain.types import ActiveDevices, EventEstimate
from crowdquake.domain.types import Trigger as TriggerObs
from crowdquake.services.events import persist_estimate
from crowdquake.storage.models import (
    BackgroundRate,
    Device,
    DeviceState,
    RegionState,
    Trigger,
)
from crowdquake.storage.queries import (
    ReadPosition,
    insert_ignoring_duplicates,
    mark_triggers_unassociated,
    triggers_since,
)


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Tunables of the live pipeline (the science tunables are in ``DetectionParams``)."""

    params: DetectionParams = field(default_factory=DetectionParams)
    lookback_s: float = 360.0  # triggers loaded when a detector is rebuilt, s
    late_margin_s: float = 10.0  # re-read this much before the watermark (commit-order skew), s
    redrive_after_s: float = 5.0  # a queued run not finished after this is presumed lost, s
    device_refresh_s: float = 30.0  # reload active devices at most this often, s
    active_heartbeat_max_age_s: float = DEFAULT_ACTIVE_HEARTBEAT_MAX_AGE_S  # Settings sets it
    disabled_alert_regions: frozenset[str] = frozenset()
    # every device vetted (CROWDQUAKE_TRUST_ALL_DEVICES): no per-network / per-burst caps
    trust_all_devices: bool = False
    batch_max: int = 5000  # most new triggers per run (PostgreSQL); the follow-up run takes more
    drain_budget_s: float = 2.0  # a busy region's runs back to back, then its follow-up is queued


@dataclass
class CachedDetector:
    detector: StreamingDetector
    generation: int
    watermark: datetime
    seen: dict[uuid.UUID, datetime]  # insertion order = feeding order (forget_old relies on it)
    devices_loaded_at: datetime
    n_blocked: int = 0  # blocked devices when built: a change means rebuild
    position: ReadPosition = field(default_factory=ReadPosition)  # PostgreSQL reads


@dataclass
class DetectorCache:
    """Per worker process: the detectors of the regions this process ran last."""

    entries: dict[str, CachedDetector] = field(default_factory=dict)


@dataclass
class RunReport:
    region_key: str
    skipped: str | None = None
    rebuilt: bool = False
    new_triggers: int = 0
    events_created: int = 0
    revisions: int = 0
    alert_ids: list[int] = field(default_factory=list)
    neighbour_regions: set[str] = field(default_factory=set)
    more_pending: bool = False  # the run stopped at batch_max: queue the follow-up at once
    event_ids: list[str] = field(default_factory=list)  # events this run wrote
    # Per new revision: its data cut-off (receipt of the newest trigger it saw).
    revision_cutoffs: list[datetime] = field(default_factory=list)


def region_neighbours(region_key: str) -> list[str]:
    return sorted(str(c) for c in h3.grid_disk(region_key, 1))


def claim_dirty_regions(session: Session, now: datetime, config: PipelineConfig) -> list[str]:
    """Regions with unprocessed triggers whose run is not queued yet (or whose queued run is
    presumed lost): claim each with a conditional UPDATE so at most one run per region is
    queued, however many sweepers run. Returns the claimed keys."""
    dirty = list(
        session.scalars(
            select(Trigger.region_key)
            .where(
                Trigger.status == "new",
                Trigger.received_at >= now - timedelta(seconds=config.lookback_s),
            )
            .distinct()
        )
    )
    return claim_regions(session, dirty, now, config)


def claim_regions(
    session: Session, region_keys: Iterable[str], now: datetime, config: PipelineConfig
) -> list[str]:
    """Claim the given regions for one queued run each (the after-commit hand-off names the
    regions it just wrote; the sweeper finds them). A region whose run is queued or running is
    not claimed again: its pending triggers are coalesced into that run or the follow-up it
    queues (``has_pending``). Returns the claimed keys, sorted."""
    keys = sorted(set(region_keys))
    if not keys:
        return []
    insert_ignoring_duplicates(
        session,
        RegionState.__table__,  # type: ignore[arg-type]
        [{"region_key": key, "runs": 0} for key in keys],
        key="region_key",
    )
    stale = now - timedelta(seconds=config.redrive_after_s)
    claimed = session.scalars(
        update(RegionState)
        .where(
            RegionState.region_key.in_(keys),
            (RegionState.queued_at.is_(None)) | (RegionState.queued_at < stale),
        )
        .values(queued_at=now)
        .returning(RegionState.region_key)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed)


def count_pending(session: Session, now: datetime, config: PipelineConfig) -> int:
    """Unprocessed triggers within the lookback: the detection backlog."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Trigger)
            .where(
                Trigger.status == "new",
                Trigger.received_at >= now - timedelta(seconds=config.lookback_s),
            )
        )
        or 0
    )


def has_pending(session: Session, region_key: str, now: datetime, config: PipelineConfig) -> bool:
    """Whether the region has unprocessed triggers that its next run would read (they arrived
    during the last run, or the run stopped at ``batch_max``). Triggers outside the read window
    (older than the late margin before the watermark, or than the lookback) do not count: no
    run would take them, and a follow-up for them would spin."""
    state = session.get(RegionState, region_key)
    if state is None or state.watermark is None:
        return False
    pending = session.scalar(
        select(Trigger.id)
        .where(
            Trigger.region_key == region_key,
            Trigger.status == "new",
            Trigger.received_at >= state.watermark - timedelta(seconds=config.late_margin_s),
            Trigger.trigger_time >= now - timedelta(seconds=config.lookback_s),
        )
        .limit(1)
    )
    return pending is not None


def _try_region_lock(session: Session, region_key: str) -> bool:
    """PostgreSQL: a transaction-scoped advisory lock per region. SQLite transactions already
    take the database write lock (BEGIN IMMEDIATE), which serialises runs."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    lock_id = int(region_key, 16) & 0x7FFF_FFFF_FFFF_FFFF
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_id}))


def load_active_devices(
    session: Session, regions: Sequence[str], now: datetime, max_age_s: float
) -> ActiveDevices:
    """Steady phones with a fresh heartbeat; blocked devices are not counted."""
    return load_devices(session, regions, now, max_age_s)[0]


def load_devices(
    session: Session,
    regions: Sequence[str],
    now: datetime,
    max_age_s: float,
    *,
    trust_all: bool = False,
) -> tuple[ActiveDevices, dict[str, DeviceProfile]]:
    """The active phones (blocked devices left out) and their trust profiles: reputation,
    registration network prefix, registration burst (the UTC hour it registered in) and time,
    the last two known only with a network prefix, i.e. for devices registered through the
    API. With
    ``trust_all`` every device is its own network and burst (vetted phones)."""
    rows = session.execute(
        select(
            DeviceState.device_id,
            DeviceState.lat_deg,
            DeviceState.lon_deg,
            Device.reputation,
            Device.network_prefix,
            Device.created_at,
        )
        .join(Device, Device.id == DeviceState.device_id)
        .where(
            DeviceState.region_key.in_(regions),
            DeviceState.steady.is_(True),
            DeviceState.last_heartbeat_at >= now - timedelta(seconds=max_age_s),
            Device.status == "active",
        )
    ).all()
    if not rows:
        return ActiveDevices.empty(), {}
    profiles = {
        str(r.device_id): DeviceProfile(float(r.reputation))
        if trust_all or not r.network_prefix
        else DeviceProfile(
            float(r.reputation),
            r.network_prefix,
            f"{r.created_at:%Y-%m-%dT%H}",
            r.created_at.timestamp(),
        )
        for r in rows
    }
    return (
        ActiveDevices(
            tuple(str(r.device_id) for r in rows),
            np.fromiter((r.lat_deg for r in rows), float, len(rows)),
            np.fromiter((r.lon_deg for r in rows), float, len(rows)),
        ),
        profiles,
    )


def count_blocked_devices(session: Session) -> int:
    """How many devices are blocked now (a change makes cached detectors rebuild)."""
    return int(
        session.scalar(select(func.count()).select_from(Device).where(Device.status != "active"))
        or 0
    )


def _load_triggers(
    session: Session,
    regions: Sequence[str],
    since_received: datetime,
    since_time: datetime,
    cached: CachedDetector,
    batch_max: int,
) -> list[Any]:
    """Plain rows (not ORM objects: a run reads thousands and never changes them in Python).

    On PostgreSQL only the rows committed since the cached detector's last read come back (the
    database filters the late-commit margin by transaction visibility), so a run under a flood
    costs what is new, not ``late_margin_s`` worth of rows again, and at most ``batch_max`` of
    them (the next run resumes where this one stopped); elsewhere the whole window comes back and
    ``cached.seen`` drops what was fed already.
    """
    if session.get_bind().dialect.name == "postgresql":
        return triggers_since(
            session, regions, since_received, since_time, cached.position, batch_max
        )
    return list(
        session.execute(
            select(
                Trigger.id,
                Trigger.device_id,
                Trigger.trigger_time,
                Trigger.received_at,
                Trigger.lat_deg,
                Trigger.lon_deg,
                Trigger.pga_ms2,
                Trigger.score,
                Trigger.server_score,
                Trigger.phase_hint,
                Trigger.accuracy_m,
                Trigger.region_key,
            )
            .join(Device, Device.id == Trigger.device_id)
            .where(
                Trigger.region_key.in_(regions),
                Trigger.received_at >= since_received,
                Trigger.trigger_time >= since_time,
                Device.status == "active",  # a blocked device's triggers count nowhere
            )
            .order_by(Trigger.received_at, Trigger.trigger_time, Trigger.id)
        )
    )


def _observation(row: Any) -> TriggerObs:
    return TriggerObs(
        trigger_id=str(row.id),
        device_id=str(row.device_id),
        time_s=row.trigger_time.timestamp(),
        lat_deg=row.lat_deg,
        lon_deg=row.lon_deg,
        pga_ms2=row.pga_ms2,
        score=row.server_score if row.server_score is not None else row.score,
        received_s=row.received_at.timestamp(),
        phase_hint=row.phase_hint,
        accuracy_m=row.accuracy_m,
    )


def load_background(session: Session, region_key: str, params: DetectionParams) -> BackgroundRates:
    """Prior updated with this region's counts of unassociated triggers per hour."""
    rates = BackgroundRates.prior(
        params.background_rate_per_device_hour, params.background_prior_device_hours
    )
    for row in session.scalars(
        select(BackgroundRate).where(BackgroundRate.region_key == region_key)
    ):
        rates = rates.updated(row.hour_of_day, row.n_triggers, row.device_hours)
    return rates


def run_region(
    session: Session,
    region_key: str,
    now: datetime,
    config: PipelineConfig,
    cache: DetectorCache,
) -> RunReport:
    """One association run for ``region_key`` at ``now`` (the data clock)."""
    report = RunReport(region_key)
    if not _try_region_lock(session, region_key):
        report.skipped = "locked"
        return report
    state = session.get(RegionState, region_key)
    if state is None:
        state = RegionState(region_key=region_key, runs=0)
        session.add(state)
        session.flush()
    regions = region_neighbours(region_key)
    params = config.params
    cached = cache.entries.get(region_key)
    n_blocked = count_blocked_devices(session)
    current = (
        cached is not None and cached.generation == state.runs and cached.n_blocked == n_blocked
    )
    if (
        not current
        and state.watermark is not None
        and not _has_new_triggers(session, regions, state.watermark)
    ):
        # A redelivered or duplicate run: everything up to the watermark is already processed
        # (a current cached detector instead reads only what was committed since, which costs
        # less than this check).
        state.queued_at = None
        report.skipped = "up to date"
        return report
    if cached is None or not current:
        # (a device blocked since the build: its stored triggers leave detection at once)
        report.rebuilt = True
        detector = StreamingDetector(params, load_background(session, region_key, params))
        _set_devices(detector, session, regions, now, config)
        window_start = now - timedelta(seconds=config.lookback_s)
        cached = CachedDetector(detector, state.runs, window_start, {}, now, n_blocked)
        rows = _load_triggers(
            session, regions, window_start, window_start, cached, config.batch_max
        )
    else:
        if (now - cached.devices_loaded_at).total_seconds() >= config.device_refresh_s:
            _set_devices(cached.detector, session, regions, now, config)
            cached.devices_loaded_at = now
        since = cached.watermark - timedelta(seconds=config.late_margin_s)
        if cached.position.cursor is not None:  # resume a cut-off read where it stopped
            since = min(since, cached.position.cursor[0])
        rows = _load_triggers(
            session,
            regions,
            since,
            now - timedelta(seconds=config.lookback_s),
            cached,
            config.batch_max,
        )
    fresh = [r for r in rows if r.id not in cached.seen]
    for r in fresh:
        cached.seen[r.id] = r.received_at
    if fresh:
        cached.watermark = max(cached.watermark, *(r.received_at for r in fresh))
    _forget_old(cached, now, config.lookback_s)
    report.new_triggers = len(fresh)
    report.more_pending = cached.position.cursor is not None

    changed = cached.detector.update([_observation(r) for r in fresh], now.timestamp())
    # The database switch (region_alert_switches) is checked where alerts are written.
    alerts_enabled = region_key not in config.disabled_alert_regions
    for estimate in _owned(changed, region_key, report):
        result = persist_estimate(
            session,
            estimate,
            region_key=region_key,
            now=now,
            params=params,
            alerts_enabled=alerts_enabled,
            data_until=cached.watermark,
        )
        report.events_created += int(result.created)
        report.revisions += int(result.revision is not None)
        report.alert_ids += result.alert_ids
        if result.event_id is not None and (result.created or result.revision is not None):
            report.event_ids.append(str(result.event_id))
        if result.revision is not None:
            report.revision_cutoffs.append(cached.watermark)

    n_unassociated = _mark_unassociated(session, region_key, fresh)
    _count_background(session, state, now, n_unassociated, config)
    state.runs += 1
    state.queued_at = None
    state.last_run_started_at = now
    state.last_run_finished_at = now
    state.watermark = cached.watermark
    cached.generation = state.runs
    cache.entries[region_key] = cached
    session.flush()
    return report


def _set_devices(
    detector: StreamingDetector,
    session: Session,
    regions: Sequence[str],
    now: datetime,
    config: PipelineConfig,
) -> None:
    active, profiles = load_devices(
        session, regions, now, config.active_heartbeat_max_age_s, trust_all=config.trust_all_devices
    )
    detector.set_devices(active, profiles)


def _has_new_triggers(session: Session, regions: Sequence[str], watermark: datetime) -> bool:
    newer = session.scalar(
        select(Trigger.id)
        .where(
            Trigger.region_key.in_(regions),
            (Trigger.received_at > watermark) | (Trigger.status == "new"),
        )
        .limit(1)
    )
    return newer is not None


def _owned(
    estimates: Iterable[EventEstimate], region_key: str, report: RunReport
) -> list[EventEstimate]:
    """Estimates whose epicentre is in this region; others are left to their own region."""
    owned = []
    for estimate in estimates:
        home = region_of(estimate.hypocenter.lat_deg, estimate.hypocenter.lon_deg)
        if home == region_key:
            owned.append(estimate)
        else:
            report.neighbour_regions.add(home)
    return owned


def _forget_old(cached: CachedDetector, now: datetime, lookback_s: float) -> None:
    """Drop the ids fed more than two lookbacks ago. Fed in ``received_at`` order (up to the
    late-commit skew), so the oldest are at the front: rebuild the dict only when a quarter of it
    has expired, so the cost per run stays proportional to the new triggers."""
    horizon = now - timedelta(seconds=2 * lookback_s)
    seen = cached.seen
    if len(seen) <= 1000:
        return
    probe = next(islice(seen.values(), len(seen) // 4, None))
    if probe < horizon:
        cached.seen = {k: v for k, v in seen.items() if v >= horizon}


def _mark_unassociated(session: Session, region_key: str, fresh: Sequence[Any]) -> int:
    """This region's new triggers that no event took; returns how many."""
    ids = [r.id for r in fresh if r.region_key == region_key]
    if not ids:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return mark_triggers_unassociated(session, ids)
    marked = 0
    for chunk_start in range(0, len(ids), 1000):
        chunk = ids[chunk_start : chunk_start + 1000]
        result = session.execute(
            update(Trigger)
            .where(Trigger.id.in_(chunk), Trigger.status == "new")
            .values(status="unassociated")
            .execution_options(synchronize_session=False)
        )
        marked += result.rowcount  # type: ignore[attr-defined]
    return marked


def _count_background(
    session: Session, state: RegionState, now: datetime, n_unassociated: int, config: PipelineConfig
) -> None:
    """Add the unassociated triggers and the steady device-hours since the last run to the
    region's statistics for the current local (solar) hour: the Gamma-Poisson update data of
    the background rate (``domain.detection.BackgroundRates``)."""
    last = state.last_run_finished_at
    elapsed_s = min((now - last).total_seconds(), 60.0) if last is not None else 0.0
    if elapsed_s <= 0 and n_unassociated == 0:
        return
    n_active = session.scalar(
        select(func.count())
        .select_from(DeviceState)
        .join(Device, Device.id == DeviceState.device_id)
        .where(
            Device.status == "active",
            DeviceState.region_key == state.region_key,
            DeviceState.steady.is_(True),
            DeviceState.last_heartbeat_at
            >= now - timedelta(seconds=config.active_heartbeat_max_age_s),
        )
    )
    _, lon = h3.cell_to_latlng(state.region_key)
    local_hour = solar_hour(now.timestamp(), lon)
    row = session.get(BackgroundRate, (state.region_key, local_hour))
    if row is None:
        row = BackgroundRate(
            region_key=state.region_key, hour_of_day=local_hour, n_triggers=0, device_hours=0.0
        )
        session.add(row)
    row.n_triggers += n_unassociated
    row.device_hours += (n_active or 0) * elapsed_s / 3600.0
