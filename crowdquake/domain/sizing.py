"""Sizing a live event: its magnitude from members and silent phones, and its reach.

``EventSizer`` is the associator's collaborator for everything that needs the magnitude:
the phones the wave passed in silence (``silent_cells``, or their trusted weight), the radius
the P or S wave has surely covered (``model_radius_km``), the magnitude posterior
(``magnitude.estimate_magnitude``) and the reach within which a new trigger may still join the
event (``reach_km``).
"""

from __future__ import annotations

import math

import numpy as np

from crowdquake.domain import detection as stat
from crowdquake.domain.devices import DeviceIndex
from crowdquake.domain.events import EventState
from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.magnitude import (
    LOWER_BOUND,
    P_THRESHOLD,
    TRUNCATED,
    MagnitudeEvidence,
    estimate_magnitude,
    estimate_magnitude_marginal,
    max_trigger_distance_km,
)
from crowdquake.domain.matching import arrival_tolerance_s
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.traveltime import TravelTimeModel
from crowdquake.domain.types import MagnitudeEstimate, Phase

DEFAULT_MAGNITUDE = 4.5  # before an event has a magnitude of its own
MIN_REACH_KM = 30.0
# floor of the stated magnitude sd: magnitude scales differ by ~0.1-0.2 units
_SCALE_SD_M = 0.15
# cubature of an isotropic 2-D Gaussian (``EventSizer._candidate_epicentres``): the centre
# with weight 1/3 and 8 points on a ring of radius sqrt(3) per-axis sd with 2/3, which keeps
# the mean and the second moment (E r^2 = 2 sd^2)
_CENTRE_WEIGHT = 1.0 / 3.0
_RING_RADIUS_SD = math.sqrt(3.0)
_RING_POINTS = 8


class EventSizer:
    """Magnitude, silent phones and reach of events (state lives in the events)."""

    def __init__(
        self,
        params: DetectionParams,
        background: stat.BackgroundRates,
        model: TravelTimeModel,
        devices: DeviceIndex,
    ) -> None:
        self.p = params
        self.background = background
        self.model = model
        self.devices = devices
        self._reach_table = {
            round(m * 10): max_trigger_distance_km(m, params) for m in np.arange(1.0, 10.05, 0.1)
        }

    def reach_km(self, magnitude: MagnitudeEstimate | None) -> float:
        """Distance at which a phone still triggers with probability 1e-3 for M + 1."""
        m = magnitude.magnitude + 1.0 if magnitude else DEFAULT_MAGNITUDE + 1.0
        key = round(min(max(m, 1.0), 10.0) * 10)
        return max(self._reach_table[key], MIN_REACH_KM)

    def silent_cells(
        self,
        ev: EventState,
        radius_km: float,
        lat_deg: float | None = None,
        lon_deg: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cell indices, distance km, silent phones) of populated cells within ``radius_km``
        of the event's epicentre (or of (lat_deg, lon_deg))."""
        lat0 = ev.lat_deg if lat_deg is None else lat_deg
        lon0 = ev.lon_deg if lon_deg is None else lon_deg
        idx = self.devices.cells_within(lat0, lon0, radius_km)
        if idx.size == 0:
            return idx, np.zeros(0), np.zeros(0)
        cells = self.devices.cells
        trig_counts = np.array([ev.cell_counts.get(cells[i], 0) for i in idx], dtype=float)
        silent = np.maximum(self.devices.counts[idx] - trig_counts, 0.0)
        dist = haversine_km(lat0, lon0, self.devices.cell_lat[idx], self.devices.cell_lon[idx])
        return idx, np.asarray(dist), silent

    def trusted_silent_cells(
        self,
        ev: EventState,
        radius_km: float,
        member_weight: dict[str, float],
        lat_deg: float | None = None,
        lon_deg: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like ``silent_cells`` with trust-weighted phones: (cells, distance km, weight)."""
        lat0 = ev.lat_deg if lat_deg is None else lat_deg
        lon0 = ev.lon_deg if lon_deg is None else lon_deg
        idx = self.devices.cells_within(lat0, lon0, radius_km)
        if idx.size == 0:
            return idx, np.zeros(0), np.zeros(0)
        cells = self.devices.cells
        trig = np.array([member_weight.get(cells[i], 0.0) for i in idx], dtype=float)
        silent = np.maximum(self.devices.trusted_counts[idx] - trig, 0.0)
        dist = haversine_km(lat0, lon0, self.devices.cell_lat[idx], self.devices.cell_lon[idx])
        return idx, np.asarray(dist), silent

    def model_radius_km(self, ev: EventState, at_s: float, phase: Phase) -> float:
        """Epicentral radius the P or S wave has surely covered at ``at_s``: homogeneous
        speeds, slowed by the velocity-model error allowance (tolerance_travel_fraction)."""
        dt = (at_s - ev.origin_time_s) / (1.0 + self.p.tolerance_travel_fraction)
        slowness_s_km = float(self.model.travel_time_s(100.0, 0.0, phase)) / 100.0
        r = dt / max(slowness_s_km, 1e-6)
        return float(math.sqrt(max(r * r - ev.depth_km**2, 0.0)))

    def magnitude(
        self,
        ev: EventState,
        now_s: float,
        mask: np.ndarray | None = None,
        trusted_cell_weight: dict[str, float] | None = None,
        stated: bool = True,
        marginal: bool | None = None,
    ) -> MagnitudeEstimate | None:
        """Magnitude from members and the phones the wave passed in silence by ``now_s``.

        Inside the S radius a silent phone's S peak stayed below its threshold; between the S
        and the P radius (``p_wave_silence``) its P peak did, and the P triggers there are
        then counted without conditioning. Triggers beyond the counted radius are conditioned
        on having triggered.

        ``mask`` selects the members used and ``trusted_cell_weight`` (trusted weight of those
        members per device cell) switches the silent phones to trusted ones: the magnitude
        the trusted evidence alone supports (``evidence``).

        ``stated``: the uncertainty includes the amplitude offset shared by all phones
        (``magnitude.estimate_magnitude``; costs two more posteriors); off where only the
        point estimate is used (the reach).

        ``marginal`` (default: as ``stated``): marginalise over the epicentre's uncertainty
        (``_candidate_epicentres``, ``magnitude.estimate_magnitude_marginal``); the published
        magnitude and the alert policy's trusted magnitude are, the reach is not (it only
        needs a generous radius, and the point estimate is 17 times cheaper).
        """
        if not ev.members:
            return None
        p = self.p
        lat, lon, tim, pga = ev.member_arrays()
        is_p = np.fromiter((a.phase == "P" for a in ev.associations), bool, lat.size)
        if mask is not None:
            if not mask.any():
                return None
            lat, lon, tim, pga, is_p = lat[mask], lon[mask], tim[mask], pga[mask], is_p[mask]
        at_s = now_s - p.silent_margin_s
        s_radius = min(self.model_radius_km(ev, at_s, "S"), ev.reach_km)
        p_radius = (
            min(self.model_radius_km(ev, at_s, "P"), ev.reach_km) if p.p_wave_silence else s_radius
        )
        hour = stat.local_hour(now_s, ev.lon_deg)
        p_false = stat.trigger_probability(
            self.background.rate_per_device_hour(hour), 2.0 * arrival_tolerance_s(ev, p)
        )
        members = (lat, lon, tim, pga, is_p)

        def evidence(epi_lat: float, epi_lon: float) -> MagnitudeEvidence:
            return self._evidence(
                ev, epi_lat, epi_lon, members, now_s, s_radius, p_radius, trusted_cell_weight
            )

        marginal = stated if marginal is None else marginal
        candidates = self._candidate_epicentres(ev) if marginal else []
        if len(candidates) > 1:
            est = estimate_magnitude_marginal(
                [evidence(c_lat, c_lon) for c_lat, c_lon, _ in candidates],
                np.array([w for _, _, w in candidates]),
                params=p,
                false_trigger_prob=p_false,
                shared_offset=stated,
            )
        else:
            e = evidence(ev.lat_deg, ev.lon_deg)
            est = estimate_magnitude(
                e.trig_dist_km,
                e.trig_pga_ms2,
                e.silent_dist_km,
                e.silent_counts,
                params=p,
                false_trigger_prob=p_false,
                flags=e.flags,
                silent_p_only=e.silent_p_only,
                shared_offset=stated,
            )
        return MagnitudeEstimate(
            est.magnitude,
            round(math.hypot(est.uncertainty, _SCALE_SD_M), 3),
            est.lower_bound,
            est.upper_bound,
        )

    def _evidence(
        self,
        ev: EventState,
        epi_lat: float,
        epi_lon: float,
        members: tuple[np.ndarray, ...],
        now_s: float,
        s_radius: float,
        p_radius: float,
        trusted_cell_weight: dict[str, float] | None,
    ) -> MagnitudeEvidence:
        """Distances, flags and silent phones seen from the epicentre (epi_lat, epi_lon)."""
        p = self.p
        lat, lon, tim, pga, is_p = members
        d = np.asarray(haversine_km(epi_lat, epi_lon, lat, lon))
        if trusted_cell_weight is None:
            _, sdist, n_sil = self.silent_cells(ev, p_radius, epi_lat, epi_lon)
        else:
            _, sdist, n_sil = self.trusted_silent_cells(
                ev, p_radius, trusted_cell_weight, epi_lat, epi_lon
            )
        ts = ev.origin_time_s + self.model.travel_time_s(d, ev.depth_km, "S")
        in_annulus = (d > s_radius) & (d <= p_radius)
        beyond = d > p_radius
        flags = np.where(in_annulus, np.where(is_p, P_THRESHOLD, TRUNCATED), 0)
        # beyond: a P trigger whose S wave has not arrived yet is conditioned on its P peak
        flags = np.where(
            beyond, np.where(is_p & (ts > now_s), TRUNCATED | P_THRESHOLD, TRUNCATED), flags
        )
        # a P trigger whose S wave came after the phone's report window reported a P peak:
        # only a lower bound of the PGA (with a margin: the S-P time of the real crust is
        # not known to a second)
        late_s = tim + p.pga_report_window_s - p.pga_report_margin_s
        flags = flags | np.where(is_p & (ts > late_s), LOWER_BOUND, 0)
        return MagnitudeEvidence(
            d, pga, sdist, n_sil, flags.astype(np.int64), silent_p_only=sdist > s_radius
        )

    def _candidate_epicentres(self, ev: EventState) -> list[tuple[float, float, float]]:
        """(lat, lon, log weight) of the epicentres the magnitude is marginalised over.

        Only the point epicentre while the stated horizontal uncertainty h is below
        ``magnitude_location_min_km``. Above it, a cubature of an isotropic 2-D Gaussian with
        per-axis sd s = ``magnitude_location_sd_factor`` * h / sqrt(2) (h from
        ``location.LocationResult.horizontal_uncertainty_km``; the factor widens it because a
        first location's stated h is too small, docs/evaluation.md "Science II"): the point
        epicentre with weight 1/3 and 8 points at sqrt(3) s with 2/3 (same mean and second
        moment as the Gaussian).
        """
        p = self.p
        h = ev.horizontal_uncertainty_km
        if not math.isfinite(h) or h < p.magnitude_location_min_km:
            return [(ev.lat_deg, ev.lon_deg, 0.0)]
        r_km = _RING_RADIUS_SD * p.magnitude_location_sd_factor * h / math.sqrt(2.0)
        out = [(ev.lat_deg, ev.lon_deg, math.log(_CENTRE_WEIGHT))]
        km_per_deg_lat = 111.195
        km_per_deg_lon = km_per_deg_lat * max(math.cos(math.radians(ev.lat_deg)), 1e-3)
        w_ring = math.log((1.0 - _CENTRE_WEIGHT) / _RING_POINTS)
        for k in range(_RING_POINTS):
            az = 2.0 * math.pi * k / _RING_POINTS
            dx, dy = r_km * math.sin(az), r_km * math.cos(az)
            out.append((ev.lat_deg + dy / km_per_deg_lat, ev.lon_deg + dx / km_per_deg_lon, w_ring))
        return out
