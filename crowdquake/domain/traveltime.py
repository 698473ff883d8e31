"""P and S travel times from a hypocentre to phones at the surface.

Two models share one small protocol (``travel_time_s(epicentral_km, depth_km, phase)``):

* ``HomogeneousModel``: straight rays, t = sqrt(d² + z²) / v. MyShake uses vp = 6.1 km/s and
  vs = 3.55 km/s (Kong et al. 2016, Sci. Adv. 2(2) e1501055).
* ``LayeredModel``: flat layers over a half-space, first arrival = min(direct ray, head waves)
  (Shearer 2009, Introduction to Seismology, 2nd ed., ch. 4: x(p) = Σ h p v / sqrt(1 - p²v²),
  t(p) = Σ h / (v sqrt(1 - p²v²)); head wave t = x p + Σ h_i η_i with η = sqrt(1/v² - p²)).
  Tabulated once per (depth, phase) and interpolated: the slow ray shooting happens once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from crowdquake.domain.types import FloatArray, Phase


class TravelTimeModel(Protocol):
    def travel_time_s(
        self, epicentral_km: npt.ArrayLike, depth_km: float, phase: Phase
    ) -> FloatArray: ...


@dataclass(frozen=True, slots=True)
class HomogeneousModel:
    """Straight rays in a uniform half-space.

    >>> m = HomogeneousModel(vp_km_s=6.0, vs_km_s=3.5)
    >>> float(m.travel_time_s(8.0, 6.0, "P"))
    1.6666666666666667
    >>> round(float(m.travel_time_s(8.0, 6.0, "S")), 4)
    2.8571
    """

    vp_km_s: float = 6.1
    vs_km_s: float = 3.55

    def velocity_km_s(self, phase: Phase) -> float:
        return self.vp_km_s if phase == "P" else self.vs_km_s

    def travel_time_s(
        self, epicentral_km: npt.ArrayLike, depth_km: float, phase: Phase
    ) -> FloatArray:
        d = np.asarray(epicentral_km, dtype=float)
        return np.asarray(np.hypot(d, depth_km) / self.velocity_km_s(phase))


@dataclass(frozen=True)
class LayeredModel:
    """Flat layers: ``tops_km`` (first is 0), ``vp_km_s``, ``vs_km_s``; the last is a half-space.

    A source inside the first layer and close by gives the homogeneous answer; beyond the
    crossover distance the head wave along a faster layer arrives first.

    >>> m = LayeredModel((0.0, 20.0), (6.0, 8.0), (3.5, 4.6))
    >>> round(float(m.travel_time_s(10.0, 10.0, "P")), 4)   # direct: sqrt(200)/6
    2.357
    """

    tops_km: tuple[float, ...]
    vp_km_s: tuple[float, ...]
    vs_km_s: tuple[float, ...]
    max_distance_km: float = 1000.0
    _tables: dict[tuple[int, str], tuple[FloatArray, FloatArray]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not (len(self.tops_km) == len(self.vp_km_s) == len(self.vs_km_s)):
            raise ValueError("tops_km, vp_km_s and vs_km_s must have the same length")
        if self.tops_km[0] != 0.0 or list(self.tops_km) != sorted(self.tops_km):
            raise ValueError("tops_km must start at 0 and increase")

    def _velocities(self, phase: Phase) -> tuple[float, ...]:
        return self.vp_km_s if phase == "P" else self.vs_km_s

    def travel_time_s(
        self, epicentral_km: npt.ArrayLike, depth_km: float, phase: Phase
    ) -> FloatArray:
        # tables every 100 m of depth, linear in depth between them: continuous in depth (a
        # least-squares Jacobian by finite differences needs that), error << pick scatter
        d = np.asarray(epicentral_km, dtype=float)
        z10 = depth_km * 10.0
        lo = math.floor(z10)
        w = z10 - lo
        t_lo = np.interp(d, *self._table(lo, phase))
        if w < 1e-12:
            return np.asarray(t_lo)
        t_hi = np.interp(d, *self._table(lo + 1, phase))
        return np.asarray((1.0 - w) * t_lo + w * t_hi)

    def _table(self, depth_dm: int, phase: Phase) -> tuple[FloatArray, FloatArray]:
        key = (depth_dm, phase)
        table = self._tables.get(key)
        if table is None:
            table = self._tabulate(depth_dm / 10.0, phase)
            self._tables[key] = table
        return table

    def first_arrival_s(self, epicentral_km: float, depth_km: float, phase: Phase) -> float:
        """Slow reference: shoot rays for this one distance (the table's twin in tests)."""
        x_grid, t_grid = self._direct_branch(depth_km, phase)
        best = (
            float(np.interp(epicentral_km, x_grid, t_grid))
            if epicentral_km <= x_grid[-1]
            else float("inf")
        )
        for t_head in self._head_waves(np.array([epicentral_km]), depth_km, phase):
            best = min(best, float(t_head[0]))
        return best

    # --- internals ---------------------------------------------------------------------------
    def _segments_above(self, depth_km: float, phase: Phase) -> tuple[FloatArray, FloatArray]:
        """Thickness and velocity of each layer piece between the surface and the source."""
        v = self._velocities(phase)
        tops = [*self.tops_km, np.inf]
        h, vel = [], []
        for i in range(len(v)):
            top, bottom = tops[i], min(tops[i + 1], depth_km)
            if bottom > top:
                h.append(bottom - top)
                vel.append(v[i])
        return np.array(h, dtype=float), np.array(vel, dtype=float)

    def _direct_branch(self, depth_km: float, phase: Phase) -> tuple[FloatArray, FloatArray]:
        h, v = self._segments_above(depth_km, phase)
        if h.size == 0:  # source at the surface
            v0 = self._velocities(phase)[0]
            x = np.linspace(0.0, self.max_distance_km, 2001)
            return x, x / v0
        p_max = 1.0 / v.max()
        # dense in p near grazing incidence, where x(p) grows fastest
        u = np.linspace(0.0, 1.0, 4001)
        p = p_max * (1.0 - (1.0 - u) ** 3) * (1.0 - 1e-9)
        eta = np.sqrt(1.0 - (p[:, None] * v[None, :]) ** 2)
        x = np.sum(h * p[:, None] * v / eta, axis=1)
        t = np.sum(h / (v * eta), axis=1)
        keep = x <= self.max_distance_km
        return x[keep], t[keep]

    def _head_waves(self, x_km: FloatArray, depth_km: float, phase: Phase) -> list[FloatArray]:
        v_all = self._velocities(phase)
        out: list[FloatArray] = []
        for m in range(1, len(v_all)):
            top_m = self.tops_km[m]
            if top_m <= depth_km:
                continue
            v_above = v_all[:m]
            if v_all[m] <= max(v_above):
                continue  # no critical refraction under a faster layer
            p = 1.0 / v_all[m]
            tops_m = np.array(self.tops_km[:m], dtype=float)
            bottoms_m = np.array(self.tops_km[1 : m + 1], dtype=float)
            # down-going leg: layer pieces between the source and the refracting interface;
            # up-going leg: every layer between the interface and the surface (whole
            # thickness). A surface source crosses each layer twice (Shearer 2009, eq. 4.27:
            # t = x p + 2 sum h_i eta_i); a deeper one saves the part above it once.
            up = bottoms_m - tops_m
            down = np.clip(bottoms_m - np.maximum(tops_m, depth_km), 0.0, None)
            legs = up + down
            va = np.array(v_above, dtype=float)
            eta = np.sqrt(1.0 / va**2 - p**2)
            x_crit = float(np.sum(legs * p * va / np.sqrt(1.0 - (p * va) ** 2)))
            t = x_km * p + float(np.sum(legs * eta))
            out.append(np.where(x_km >= x_crit, t, np.inf))
        return out

    def _tabulate(self, depth_km: float, phase: Phase) -> tuple[FloatArray, FloatArray]:
        x_tab = np.linspace(0.0, self.max_distance_km, 4001)
        x_dir, t_dir = self._direct_branch(depth_km, phase)
        t_tab = np.where(x_tab <= x_dir[-1], np.interp(x_tab, x_dir, t_dir), np.inf)
        for t_head in self._head_waves(x_tab, depth_km, phase):
            t_tab = np.minimum(t_tab, t_head)
        return x_tab, t_tab
