"""Alert decision: predicted intensity and warning time per H3 cell.

For each cell centre at epicentral distance d: median PGA from BSSA14 at the estimated
Joyner-Boore distance (``groundmotion``), converted to MMI with Worden et al. (2012) eq. (3).
Levels follow Android Earthquake Alerts (Allen et al. 2025, Science 389(6757)): MMI 3-4
"be_aware", MMI >= 5 "take_action". The warning time is the predicted S arrival minus now:
t0 + T_S(d, z) - now_s. It is negative where the S wave has already passed; those cells are
still reported (they tell people the shaking they felt was this earthquake).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import h3
import numpy as np

from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.groundmotion import joyner_boore_km, mmi_from_pga, pga_median_ms2
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.traveltime import HomogeneousModel, TravelTimeModel
from crowdquake.domain.types import (
    AlertDecision,
    AlertLevel,
    CellAlert,
    Hypocenter,
    MagnitudeEstimate,
)


def predicted_mmi(
    magnitude: float, epicentral_km: np.ndarray, params: DetectionParams
) -> np.ndarray:
    """Median MMI at epicentral distances (BSSA14 PGA -> WGRW12).

    >>> p = DetectionParams()
    >>> [round(float(x), 1) for x in predicted_mmi(6.0, np.array([5.0, 50.0]), p)]
    [7.9, 4.2]
    """
    rjb = joyner_boore_km(epicentral_km, magnitude, params.finite_fault_correction)
    return mmi_from_pga(pga_median_ms2(magnitude, rjb, params.vs30_m_s))


def alert_radius_km(magnitude: float, params: DetectionParams) -> float:
    """Distance beyond which the median MMI falls below the "be_aware" level."""
    d = np.geomspace(0.5, params.alert_max_radius_km, 300)
    ok = predicted_mmi(magnitude, d, params) >= params.alert_be_aware_mmi
    return float(d[np.nonzero(ok)[0][-1]]) if ok.any() else 0.0


def _cells_around(lat_deg: float, lon_deg: float, radius_km: float, resolution: int) -> list[str]:
    edge_km = h3.average_hexagon_edge_length(resolution, unit="km")
    k = max(1, math.ceil(radius_km / (1.5 * edge_km)) + 1)
    centre = h3.latlng_to_cell(lat_deg, lon_deg, resolution)
    return sorted(str(c) for c in h3.grid_disk(centre, k))


def decide_alerts(
    hypocenter: Hypocenter,
    magnitude: MagnitudeEstimate,
    now_s: float,
    params: DetectionParams | None = None,
    cells: Sequence[str] | None = None,
    *,
    model: TravelTimeModel | None = None,
) -> AlertDecision:
    """Cells to warn and how: level, predicted MMI and warning time (s, may be negative).

    ``cells`` restricts the decision to given H3 cells (any resolution, e.g. the cells with
    active phones); by default every ``alert_h3_resolution`` cell out to the radius where the
    median MMI falls below ``alert_be_aware_mmi`` is considered.
    """
    p = params or DetectionParams()
    tt = model or HomogeneousModel(p.vp_km_s, p.vs_km_s)
    m = magnitude.magnitude
    if cells is None:
        radius = alert_radius_km(m, p)
        if radius <= 0.0:
            return AlertDecision(())
        cells = _cells_around(hypocenter.lat_deg, hypocenter.lon_deg, radius, p.alert_h3_resolution)
    if not cells:
        return AlertDecision(())
    centres = np.array([h3.cell_to_latlng(c) for c in cells], dtype=float)
    d = haversine_km(hypocenter.lat_deg, hypocenter.lon_deg, centres[:, 0], centres[:, 1])
    mmi = predicted_mmi(m, d, p)
    warn = hypocenter.origin_time_s + tt.travel_time_s(d, hypocenter.depth_km, "S") - now_s
    out: list[CellAlert] = []
    for c, i, w in zip(cells, mmi.tolist(), warn.tolist(), strict=True):
        level: AlertLevel
        if i >= p.alert_take_action_mmi:
            level = "take_action"
        elif i >= p.alert_be_aware_mmi:
            level = "be_aware"
        else:
            continue
        out.append(
            CellAlert(cell=c, level=level, predicted_mmi=round(i, 2), warning_time_s=round(w, 2))
        )
    return AlertDecision(tuple(out))
