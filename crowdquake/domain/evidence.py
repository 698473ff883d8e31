"""Is an event backed by trusted, independent evidence? The alert policy's input.

For every estimate the detector publishes, ``assess_event`` weighs its member triggers:

1. **Member weight** = the device's trust (``trust.device_trust``), set to 0 when the trigger
   is not consistent: no heartbeat (the phone is not among the active devices), a classifier
   score below ``min_trigger_score``, a position more than ``max_heartbeat_offset_km`` from
   the device's heartbeat cell, or more than ``local_rate_max_per_device`` triggers of the
   device within the recent span (an impossible rate for a phone at rest).
2. **Trusted evidence** = those weights with each network prefix and each registration burst
   capped (``trust.capped_evidence``). Below ``min_trusted_evidence`` the event is held; so is
   an event that established phones do not corroborate (``corroboration``), and members of a
   campaign-like registration cohort (``cohorts``) lose their weight.
3. **Trusted magnitude**: the magnitude estimator run on trusted members only (at most one per
   network and per burst: one witness each) with the trusted phones that stayed silent.
4. **Silence of trusted phones**: with the alert magnitude (the smaller of the event's and the
   trusted one), the trusted phones the S wave has passed should have triggered with the
   GMPE probability q(M, d) (``magnitude.log10_prob_trigger``). Expected E = sum over
   networks of min(sum trust x q, cap), observed O the same sum over trusted members. When
   O < ``silence_min_fraction`` x E and P(Poisson(E) <= O) < 10^``silence_log10_p``, honest
   phones contradict the claimed shaking: the event is held.

The alert magnitude never exceeds the trusted magnitude; a held event gets no automatic alert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from crowdquake.domain.cells import cell_center
from crowdquake.domain.corroboration import FEW_COHORTS, UNCORROBORATED, corroborated
from crowdquake.domain.events import EventState
from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.magnitude import log10_prob_trigger
from crowdquake.domain.trust import capped_evidence, capped_group_sum, poisson_log10_cdf
from crowdquake.domain.types import MagnitudeEstimate

if TYPE_CHECKING:
    from crowdquake.domain.association import Associator

HOLD_LOW_TRUST = "low_trust"  # too little trusted, independent evidence
HOLD_SILENCE = "trusted_silence"  # trusted phones that should have felt it stayed silent
HOLD_NO_MAGNITUDE = "no_trusted_magnitude"
HOLD_UNCORROBORATED = UNCORROBORATED  # established phones do not feel it (domain.corroboration)
HOLD_FEW_COHORTS = FEW_COHORTS  # established members from < 3 registration weeks (domain.cohorts)


@dataclass(frozen=True, slots=True)
class TrustAssessment:
    """How much of an event trusted, independent phones support.

    ``hold_reason`` is None when the event may alert automatically (when confirmed), else one
    of the HOLD_* codes. ``alert_magnitude`` is what alerts may use (None: no alert).
    """

    trusted_evidence: float
    expected_trusted: float
    observed_trusted: float
    log10_silence: float
    trusted_magnitude: float | None
    alert_magnitude: float | None
    hold_reason: str | None

    @property
    def held(self) -> bool:
        return self.hold_reason is not None


def member_weights(assoc: Associator, ev: EventState) -> np.ndarray:
    """Trust weight of each member trigger (0 when inconsistent, see module doc)."""
    p = assoc.p
    dev = assoc.devices
    n = len(ev.members)
    trig = [m.record.trigger for m in ev.members]
    ok = np.fromiter(
        (
            t.device_id in dev.heartbeat_ids
            and t.score >= p.min_trigger_score
            and assoc.device_recent.get(t.device_id, 0) <= p.local_rate_max_per_device
            for t in trig
        ),
        dtype=bool,
        count=n,
    )
    # trigger position against the device's heartbeat cell (vectorised over members)
    cells = [m.record.device_cell for m in ev.members]
    centres: dict[str, tuple[float, float]] = {c: cell_center(c) for c in set(cells) if c}
    has_cell = np.fromiter((bool(c) for c in cells), dtype=bool, count=n)
    if has_cell.any():
        c_lat = np.fromiter((centres[c][0] if c else 0.0 for c in cells), float, n)
        c_lon = np.fromiter((centres[c][1] if c else 0.0 for c in cells), float, n)
        t_lat = np.fromiter((t.lat_deg for t in trig), float, n)
        t_lon = np.fromiter((t.lon_deg for t in trig), float, n)
        far = haversine_km(c_lat, c_lon, t_lat, t_lon) > p.max_heartbeat_offset_km
        ok &= ~(has_cell & far)
    out = np.zeros(n)
    for i in np.flatnonzero(ok).tolist():
        out[i] = dev.profile(trig[i].device_id).trust
    return out


def _one_per_group(weights: np.ndarray, networks: list[str], bursts: list[str]) -> np.ndarray:
    """Mask of the first trusted item of each network and each burst (in the given order)."""
    seen_n: set[str] = set()
    seen_b: set[str] = set()
    mask = np.zeros(weights.size, dtype=bool)
    for i in range(weights.size):
        if weights[i] <= 0.0:
            continue
        n, b = networks[i], bursts[i]
        if (n and n in seen_n) or (b and b in seen_b):
            continue
        mask[i] = True
        if n:
            seen_n.add(n)
        if b:
            seen_b.add(b)
    return mask


def assess_event(
    assoc: Associator, ev: EventState, magnitude: MagnitudeEstimate | None, now_s: float
) -> TrustAssessment:
    """The trust assessment of one event at ``now_s`` (see module doc)."""
    p = assoc.p
    dev = assoc.devices
    members = ev.members
    ids = [m.record.trigger.device_id for m in members]
    profiles = [dev.profile(d) for d in ids]
    networks = [pr.network for pr in profiles]
    bursts = [pr.burst for pr in profiles]
    w = member_weights(assoc, ev)
    evidence = capped_evidence(w, networks, bursts, p.network_cap, p.burst_cap)
    if evidence < p.min_trusted_evidence:
        # held whatever the rest says: skip the (costly) trusted magnitude and silence test
        return TrustAssessment(round(evidence, 3), 0.0, 0.0, 0.0, None, None, HOLD_LOW_TRUST)
    verdict = corroborated(assoc, ev, ids, networks, w, now_s)
    if verdict.reason is not None:
        return TrustAssessment(round(evidence, 3), 0.0, 0.0, 0.0, None, None, verdict.reason)
    if verdict.cohort_members.any():
        # a campaign-like registration cohort is no independent witness (domain.cohorts)
        w = np.where(verdict.cohort_members, 0.0, w)
        evidence = capped_evidence(w, networks, bursts, p.network_cap, p.burst_cap)
        if evidence < p.min_trusted_evidence:
            return TrustAssessment(round(evidence, 3), 0.0, 0.0, 0.0, None, None, HOLD_LOW_TRUST)

    # trusted magnitude: the earliest witness per network and burst, trusted silent phones
    order = np.argsort(
        np.fromiter((m.record.time_s for m in members), float, len(members)), kind="stable"
    )
    picked = _one_per_group(w[order], [networks[i] for i in order], [bursts[i] for i in order])
    mask = np.zeros(len(members), dtype=bool)
    mask[order[picked]] = True
    trusted_mag: MagnitudeEstimate | None = None
    if mask.any():
        cell_w: dict[str, float] = {}
        for m, wi in zip(members, w.tolist(), strict=True):
            if wi > 0.0:
                c = m.record.device_cell
                cell_w[c] = cell_w.get(c, 0.0) + wi
        # only its point estimate is used: no stated uncertainty (two posteriors fewer), but
        # marginalised over the epicentre as the published magnitude is (comparable with it)
        trusted_mag = assoc.magnitude(
            ev, now_s, mask=mask, trusted_cell_weight=cell_w, stated=False, marginal=True
        )
    m_all = magnitude.magnitude if magnitude is not None else None
    m_trusted = trusted_mag.magnitude if trusted_mag is not None else None
    alert_m = None if m_all is None or m_trusted is None else min(m_all, m_trusted)

    expected = observed = 0.0
    log10_silence = 0.0
    if alert_m is not None:
        expected, observed = _silence_counts(assoc, ev, alert_m, now_s, ids, w)
        log10_silence = poisson_log10_cdf(observed, expected)
    hold: str | None = None
    if alert_m is None:
        hold = HOLD_NO_MAGNITUDE
    elif observed < p.silence_min_fraction * expected and log10_silence < p.silence_log10_p:
        hold = HOLD_SILENCE
    return TrustAssessment(
        trusted_evidence=round(evidence, 3),
        expected_trusted=round(expected, 2),
        observed_trusted=round(observed, 2),
        log10_silence=round(log10_silence, 2) if math.isfinite(log10_silence) else -999.0,
        trusted_magnitude=None if m_trusted is None else round(m_trusted, 2),
        alert_magnitude=None if alert_m is None else round(alert_m, 2),
        hold_reason=hold,
    )


def _silence_counts(
    assoc: Associator,
    ev: EventState,
    magnitude: float,
    now_s: float,
    member_ids: list[str],
    weights: np.ndarray,
) -> tuple[float, float]:
    """(expected, observed) trusted triggers, network-capped, where the S wave has passed."""
    p = assoc.p
    dev = assoc.devices
    radius = min(assoc.model_radius_km(ev, now_s - p.silent_margin_s, "S"), ev.reach_km)
    idx = dev.cells_within(ev.lat_deg, ev.lon_deg, radius)
    if idx.size == 0 or dev.dev_cell.size == 0:
        return 0.0, 0.0
    in_radius = np.zeros(len(dev.cells), dtype=bool)
    in_radius[idx] = True
    sel = in_radius[dev.dev_cell] & (dev.dev_trust > 0.0)
    if not sel.any():
        return 0.0, 0.0
    cells = dev.dev_cell[sel]
    d = haversine_km(ev.lat_deg, ev.lon_deg, dev.cell_lat[cells], dev.cell_lon[cells])
    q = 10.0 ** log10_prob_trigger(magnitude, np.asarray(d), p)
    expected = capped_group_sum(dev.dev_trust[sel] * q, dev.dev_group[sel], p.network_cap)
    # observed: trusted members that are heartbeat devices inside the radius
    rows = np.fromiter((dev.device_row.get(d, -1) for d in member_ids), np.int64, len(member_ids))
    keep = (weights > 0.0) & (rows >= 0)
    keep[keep] = in_radius[dev.dev_cell[rows[keep]]]
    observed = capped_group_sum(weights[keep], dev.dev_group[rows[keep]], p.network_cap)
    return expected, observed
