"""Shared pieces of the baselines: our magnitude on their events, event bookkeeping, DBSCAN.

The baselines are compared on detection and location; their magnitude is computed with our
Bayesian magnitude (``crowdquake.domain.magnitude.estimate_magnitude``) from the triggers they
associated and the active phones they did not, so magnitude differences reflect what each
method associated and where it located, not a different magnitude formula.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.magnitude import estimate_magnitude
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.types import (
    ActiveDevices,
    EventEstimate,
    FloatArray,
    Hypocenter,
    MagnitudeEstimate,
    Trigger,
    TriggerAssociation,
)

_PARAMS = DetectionParams()


def our_magnitude(
    lat_deg: float, lon_deg: float, triggers: Sequence[Trigger], active: ActiveDevices
) -> MagnitudeEstimate | None:
    """Our magnitude for an epicentre and the triggers a baseline associated with it."""
    if not triggers:
        return None
    t_lat = np.array([t.lat_deg for t in triggers])
    t_lon = np.array([t.lon_deg for t in triggers])
    pga = np.array([np.nan if t.pga_ms2 is None else t.pga_ms2 for t in triggers])
    d_trig = haversine_km(lat_deg, lon_deg, t_lat, t_lon)
    if len(active):
        d_all = haversine_km(lat_deg, lon_deg, active.lat_deg, active.lon_deg)
        triggered = {t.device_id for t in triggers}
        silent = np.array([i not in triggered for i in active.device_ids])
        reach = max(float(d_trig.max()), 10.0)
        d_sil = d_all[silent & (d_all <= reach)]
    else:
        d_sil = np.zeros(0)
    # Silent phones are binned to 1-km distances so the cost stays small.
    bins, counts = np.unique(np.round(d_sil), return_counts=True)
    return estimate_magnitude(
        d_trig,
        pga,
        np.maximum(bins, 0.5),
        counts.astype(float),
        params=_PARAMS,
        false_trigger_prob=0.01,
    )


def make_estimate(
    key: str,
    method: str,
    origin_time_s: float,
    lat_deg: float,
    lon_deg: float,
    depth_km: float,
    triggers: Sequence[Trigger],
    active: ActiveDevices,
    detected_at_s: float,
    previous: EventEstimate | None = None,
) -> EventEstimate:
    """An ``EventEstimate`` for a baseline's event (all triggers labelled P, residual 0).

    The magnitude is recomputed only when the trigger count grew by 20% since ``previous``
    (it costs a pass over the active phones), as a streaming system would throttle it.
    """
    if (
        previous is not None
        and previous.magnitude is not None
        and (len(triggers) < 1.2 * previous.n_triggers)
    ):
        magnitude: MagnitudeEstimate | None = previous.magnitude
    else:
        magnitude = our_magnitude(lat_deg, lon_deg, triggers, active)
    assoc = tuple(TriggerAssociation(t.trigger_id, "P", 0.0) for t in triggers)
    return EventEstimate(
        event_key=key,
        hypocenter=Hypocenter(origin_time_s, lat_deg, lon_deg, depth_km),
        magnitude=magnitude,
        associations=assoc,
        n_active=len(active),
        detection_log10_p=float("nan"),
        detected_at_s=detected_at_s,
        confirmed=True,
        method=method,
    )


def dbscan(points_km: FloatArray, eps_km: float, min_samples: int) -> np.ndarray:
    """DBSCAN (Ester et al. 1996, KDD-96) labels; -1 = noise. Small n: k-d tree neighbours."""
    n = len(points_km)
    labels = np.full(n, -1, dtype=int)
    if n == 0:
        return labels
    tree = cKDTree(points_km)
    neigh = tree.query_ball_point(points_km, eps_km)
    core = np.array([len(nb) >= min_samples for nb in neigh])
    cluster = 0
    for i in range(n):
        if labels[i] != -1 or not core[i]:
            continue
        labels[i] = cluster
        stack = [i]
        while stack:
            j = stack.pop()
            if not core[j]:
                continue
            for k in neigh[j]:
                if labels[k] == -1:
                    labels[k] = cluster
                    stack.append(k)
        cluster += 1
    return labels
