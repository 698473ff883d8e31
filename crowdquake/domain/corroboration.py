"""Corroboration: do established phones feel what new phones report?

An earthquake does not know how old a phone is: at the same place, phones registered years ago
and phones registered last month trigger with the same probability. An attacker's phones are
all of his own making, so they are young (or at best as old as his patience), while the honest
phones around them are mostly established. Among the heartbeat phones within the distance the
event's members reach from its epicentre, we therefore compare the trigger rate of established
phones (trust >= ``established_trust``) with that of the others: under "same shaking for
everybody" the number of established members is hypergeometric (Fisher's exact test, one
sided: Fisher 1935, *The Design of Experiments*, section 2). Far fewer established members than
that says the shaking exists only on new phones: the event is held (``corroboration_log10_p``).

The test needs no magnitude and no ground-motion model, so the attacker cannot tune it away
by forging amplitudes, and it gets stronger with every fake phone he adds: the expected number
of established triggers grows with the unestablished ones. Registering devices, keeping them
alive for weeks (sleepers) and spreading them over networks does not help until they are
*established*; the trust ramp (``domain.trust``) makes that cost months per device.

Two guards keep real earthquakes alerting:

* the test is skipped (passes) when the established members alone exceed the background:
  established phones that triggered significantly more often than the noise rate explains
  already corroborate the event, whatever new phones add (an attacker cannot hold a real
  earthquake by making his own phones trigger along with it);
* an event with fewer than ``min_established_witnesses`` established members from distinct
  networks is not corroborated at all (no honest phones around: held for review), nor is one
  whose members are more than ``max_untrusted_share`` phones without trust (on probation, no
  heartbeat, or inconsistent: ``evidence.member_weights``).

The idea of judging reports by their agreement with independent, long-standing reporters is
the one of reputation systems (Jøsang, Ismail & Boyd 2007, Decision Support Systems 43(2)
618-644) and of Sybil defences that rely on honest nodes' behaviour rather than on identities
(Douceur 2002; Yu et al. 2006, SybilGuard, SIGCOMM).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import hypergeom, poisson

from crowdquake.domain.cohorts import (
    SECONDS_PER_DAY,
    distinct_cohorts,
    in_windows,
    overrepresented_windows,
)
from crowdquake.domain.detection import local_hour
from crowdquake.domain.devices import DeviceIndex
from crowdquake.domain.events import EventState
from crowdquake.domain.geodesy import haversine_km

if TYPE_CHECKING:
    from crowdquake.domain.association import Associator
    from crowdquake.domain.params import DetectionParams


@dataclass(frozen=True, slots=True)
class Corroboration:
    """Members and heartbeat phones within the members' reach, split by establishment.

    ``log10_p``: log10 P(at most this many established members | same trigger rate for all);
    ``log10_bg``: log10 P(at least this many established members | background noise only).
    ``cohort_members``: mask over the members (in the order given) of those registered in a
    window over-represented among the members (``domain.cohorts``): they and every phone in
    reach registered in such a window count as not established. ``witness_cohorts``: distinct
    registration weeks of the established members.
    """

    n_established: int
    established_members: int
    n_new: int
    new_members: int
    established_witnesses: int
    log10_p: float
    log10_bg: float
    cohort_members: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    witness_cohorts: int = 0


@dataclass(frozen=True, slots=True)
class CohortScan:
    """Settings of the registration-cohort tests (``domain.cohorts``); None: no scan."""

    widths_s: tuple[float, ...]
    log10_alpha: float
    min_members: int
    witness_width_s: float


FEW_COHORTS = "few_registration_cohorts"  # established members from too few registration weeks
UNCORROBORATED = "uncorroborated"  # established phones do not feel what the others report


@dataclass(frozen=True, slots=True)
class Verdict:
    """``reason``: None when the event may alert as far as corroboration goes, else why not
    (FEW_COHORTS, UNCORROBORATED); ``cohort_members``: members of a campaign-like registration
    cohort (no trust for the alert's evidence)."""

    reason: str | None
    cohort_members: np.ndarray

    @property
    def ok(self) -> bool:
        return self.reason is None


def fisher_log10_lower(x_est: int, n_est: int, x_new: int, n_new: int) -> float:
    """log10 P(X <= x_est), X ~ Hypergeom(n_est + n_new phones, n_est established,
    x_est + x_new triggered): fewer established triggers than equal rates allow.

    >>> round(fisher_log10_lower(0, 100, 20, 20), 1)     # 20 new phones all triggered, 0 of 100
    -22.5
    >>> fisher_log10_lower(10, 100, 2, 20) > -1.0         # the same rate in both groups
    True
    """
    total = n_est + n_new
    drawn = x_est + x_new
    if n_est == 0 or n_new == 0 or drawn == 0:
        return 0.0
    return float(hypergeom.logcdf(x_est, total, n_est, drawn)) / math.log(10.0)


def poisson_log10_upper(observed: int, expected: float) -> float:
    """log10 P(X >= observed), X ~ Poisson(expected).

    >>> round(poisson_log10_upper(10, 1.0), 2)
    -6.95
    >>> poisson_log10_upper(0, 3.0)
    0.0
    """
    if observed <= 0:
        return 0.0
    if expected <= 0.0:
        return -math.inf
    return float(poisson.logsf(observed - 1, expected)) / math.log(10.0)


def corroborate(
    devices: DeviceIndex,
    lat_deg: float,
    lon_deg: float,
    member_ids: list[str],
    member_networks: list[str],
    *,
    established_trust: float,
    background_per_device_s: float,
    duration_s: float,
    cohorts: CohortScan | None = None,
) -> Corroboration:
    """The corroboration of an event at (lat, lon) by the members' heartbeat phones.

    ``background_per_device_s``: the noise trigger rate of one phone (per second);
    ``duration_s``: how long the event has collected members (for the background test);
    ``cohorts``: scan the members' registration times against those of the phones in reach
    (``domain.cohorts``) and demote the phones of over-represented windows.
    Only members with a heartbeat (rows of the device index) take part: a phone without one
    is not among the active phones (and has no trust anyway).
    """
    n_members = len(member_ids)
    rows = [devices.device_row.get(d) for d in member_ids]
    idx = np.fromiter((r for r in rows if r is not None), dtype=np.int64)
    if idx.size == 0:
        return Corroboration(0, 0, 0, 0, 0, 0.0, 0.0, np.zeros(n_members, dtype=bool), 0)
    member_cells = devices.dev_cell[idx]
    d = haversine_km(
        lat_deg, lon_deg, devices.cell_lat[member_cells], devices.cell_lon[member_cells]
    )
    reach_km = float(np.max(d))
    cells = devices.cells_within(lat_deg, lon_deg, reach_km + 1e-6)
    in_reach = np.zeros(len(devices.cells), dtype=bool)
    in_reach[cells] = True
    sel = in_reach[devices.dev_cell]
    est = devices.dev_trust >= established_trust
    uniq = np.unique(idx)
    uniq = uniq[sel[uniq]]
    cohort_rows = np.zeros(devices.dev_trust.size, dtype=bool)
    if cohorts is not None and uniq.size:
        reg = devices.dev_registered_s
        windows = overrepresented_windows(
            reg[uniq],
            reg[sel],
            widths_s=cohorts.widths_s,
            log10_alpha=cohorts.log10_alpha,
            min_members=cohorts.min_members,
        )
        if windows:
            cohort_rows = sel & in_windows(reg, windows)
            est = est & ~cohort_rows
    n_est = int(np.count_nonzero(sel & est))
    n_new = int(np.count_nonzero(sel & ~est))
    m_est = est[uniq]
    x_est = int(np.count_nonzero(m_est))
    x_new = int(uniq.size - x_est)
    nets: set[str] = set()
    anonymous: set[str] = set()
    for dev_id, r, net in zip(member_ids, rows, member_networks, strict=True):
        if r is None or not est[r]:
            continue
        if net:
            nets.add(net)
        else:
            anonymous.add(dev_id)
    est_rows = np.unique(np.fromiter((r for r in rows if r is not None and est[r]), np.int64))
    witness_cohorts = (
        distinct_cohorts(devices.dev_registered_s[est_rows], cohorts.witness_width_s)
        if cohorts is not None
        else est_rows.size
    )
    member_in_cohort = np.fromiter(
        (r is not None and bool(cohort_rows[r]) for r in rows), dtype=bool, count=n_members
    )
    log10_p = fisher_log10_lower(x_est, n_est, x_new, n_new)
    log10_bg = poisson_log10_upper(x_est, n_est * background_per_device_s * max(duration_s, 1.0))
    return Corroboration(
        n_established=n_est,
        established_members=x_est,
        n_new=n_new,
        new_members=x_new,
        established_witnesses=len(nets) + len(anonymous),
        log10_p=round(log10_p, 2) if math.isfinite(log10_p) else -999.0,
        log10_bg=round(log10_bg, 2) if math.isfinite(log10_bg) else -999.0,
        cohort_members=member_in_cohort,
        witness_cohorts=witness_cohorts,
    )


def cohort_scan(p: DetectionParams) -> CohortScan:
    """The registration-cohort settings of ``p``."""
    return CohortScan(
        widths_s=tuple(w * SECONDS_PER_DAY for w in p.cohort_scan_widths_days),
        log10_alpha=p.cohort_log10_p,
        min_members=p.cohort_min_members,
        witness_width_s=p.witness_cohort_days * SECONDS_PER_DAY,
    )


def corroborated(
    assoc: Associator,
    ev: EventState,
    member_ids: list[str],
    member_networks: list[str],
    member_weights: np.ndarray,
    now_s: float,
) -> Verdict:
    """May this event alert as far as corroboration goes (module doc)? ``member_weights``:
    the members' trust weights (``evidence.member_weights``, 0 = no trust or inconsistent).
    Without profiles (every phone trusted, offline studies) it may."""
    none = np.zeros(len(member_ids), dtype=bool)
    if assoc.devices.profiles is None:
        return Verdict(None, none)
    p = assoc.p
    first_s = min(m.record.time_s for m in ev.members)
    rate_h = assoc.background.rate_per_device_hour(local_hour(now_s, ev.lon_deg))
    c = corroborate(
        assoc.devices,
        ev.lat_deg,
        ev.lon_deg,
        member_ids,
        member_networks,
        established_trust=p.established_trust,
        background_per_device_s=rate_h / 3600.0,
        duration_s=now_s - first_s + p.window_s,
        cohorts=cohort_scan(p),
    )
    cohort = c.cohort_members
    if c.witness_cohorts < p.min_witness_cohorts:
        return Verdict(FEW_COHORTS, cohort)  # e.g. no honest phones: one campaign's devices
    if c.log10_bg < p.corroboration_bg_log10_p:
        return Verdict(None, cohort)  # established phones alone show shaking beyond the noise
    if c.established_witnesses < p.min_established_witnesses:
        return Verdict(UNCORROBORATED, cohort)
    untrusted = (member_weights <= 0.0) | cohort
    if np.count_nonzero(untrusted) > p.max_untrusted_share * member_weights.size:
        return Verdict(UNCORROBORATED, cohort)  # mostly phones without trust: unvetted
    ok = c.log10_p >= p.corroboration_log10_p
    return Verdict(None if ok else UNCORROBORATED, cohort)
