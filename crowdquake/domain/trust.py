"""Device trust and the independence of evidence: what a phone's trigger is worth to an event.

An attacker can register many phones and make them report anything; he cannot make honest
phones trigger, and he cannot cheaply make his phones old, regular and spread over many
networks. Three pure pieces (sources in docs/science.md, "Spoofed triggers"):

* ``device_trust``: a score in [0, 1] from the device's age (a probation period, then a linear
  ramp), its heartbeat history (days with a heartbeat) and its agreement with settled events,
  the Beta reputation of Jøsang & Ismail (2002): with r agreements and s disagreements the
  expected honesty is (r + 1) / (r + s + 2); we scale it so that a device without history
  keeps factor 1 and each disagreement lowers it.
* ``capped_evidence``: one network prefix (or one registration burst) is one witness, not many:
  the summed trust of the phones of a group counts at most ``cap`` (the Sybil bound of
  Douceur 2002: identities are only as independent as the resources behind them).
* ``poisson_log10_cdf``: the silence test of ``evidence``: observed trusted triggers against the
  number the claimed shaking predicts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import poisson

from crowdquake.domain.types import FloatArray

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """What the detector knows about a device beyond its position.

    ``trust`` is ``devices.reputation``; ``network`` the coarsened network prefix it registered
    from ("" when unknown: then the device is its own group); ``burst`` its registration burst;
    ``registered_s`` when it registered (Unix seconds; NaN when unknown: then it is its own
    registration cohort, ``domain.cohorts``).
    """

    trust: float
    network: str = ""
    burst: str = ""
    registered_s: float = math.nan


def device_trust(
    age_days: float,
    heartbeat_days: float,
    n_agree: int = 0,
    n_disagree: int = 0,
    *,
    probation_days: float = 30.0,
    full_age_days: float = 90.0,
    full_heartbeat_days: float = 14.0,
) -> float:
    """Trust of a device: age factor x heartbeat factor x agreement factor, in [0, 1].

    >>> device_trust(10.0, 10.0)     # on probation
    0.0
    >>> device_trust(60.0, 60.0)     # half way up the age ramp
    0.5
    >>> device_trust(400.0, 7.0)     # old but rarely seen
    0.5
    >>> round(device_trust(400.0, 400.0, n_agree=0, n_disagree=1), 3)
    0.667
    >>> device_trust(400.0, 400.0, n_agree=5, n_disagree=1)
    1.0
    """
    if full_age_days <= probation_days:
        age = 1.0 if age_days >= probation_days else 0.0
    else:
        age = (age_days - probation_days) / (full_age_days - probation_days)
    hb = heartbeat_days / full_heartbeat_days if full_heartbeat_days > 0 else 1.0
    agree = 2.0 * (n_agree + 1.0) / (n_agree + n_disagree + 2.0)
    return float(min(max(age, 0.0), 1.0) * min(max(hb, 0.0), 1.0) * min(agree, 1.0))


def capped_evidence(
    weights: FloatArray | Sequence[float],
    networks: Sequence[str],
    bursts: Sequence[str],
    network_cap: float,
    burst_cap: float,
) -> float:
    """Summed weight after capping what each network and each registration burst contributes.

    First every network's total is scaled down to ``network_cap``, then every burst's. An
    empty group key means "unknown": that item is a group of its own.

    >>> capped_evidence([1.0] * 8, ["a"] * 8, [str(i) for i in range(8)], 1.0, 1.0)
    1.0
    >>> capped_evidence([1.0] * 8, [str(i) for i in range(8)], ["b"] * 4 + ["c"] * 4, 1.0, 1.0)
    2.0
    >>> capped_evidence([0.5, 0.5, 1.0], ["", "", ""], ["", "", ""], 1.0, 1.0)
    2.0
    """
    w = np.asarray(weights, dtype=float).copy()
    if w.size == 0:
        return 0.0
    for keys, cap in ((networks, network_cap), (bursts, burst_cap)):
        w = _cap_groups(w, keys, cap)
    return float(w.sum())


def _cap_groups(w: FloatArray, keys: Sequence[str], cap: float) -> FloatArray:
    ids = group_ids(keys)
    totals = np.bincount(ids, weights=w)
    scale = np.where(totals > cap, cap / np.maximum(totals, 1e-300), 1.0)
    return np.asarray(w * scale[ids])


def group_ids(keys: Sequence[str]) -> np.ndarray:
    """Integer group per key; every empty key is a group of its own.

    >>> group_ids(["a", "", "b", "a", ""]).tolist()
    [2, 0, 3, 2, 1]
    """
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    # "\0" sorts before any printable key and never occurs in one: unique empties first
    tagged = np.array([k if k else f"\0{i:09d}" for i, k in enumerate(keys)], dtype=object)
    _, dense = np.unique(tagged, return_inverse=True)
    return np.asarray(dense, dtype=np.int64).reshape(-1)


def capped_group_sum(values: FloatArray, group_ids: np.ndarray, cap: float) -> float:
    """Sum over groups of min(group total, cap) (groups given as dense integer ids).

    >>> import numpy as np
    >>> capped_group_sum(np.array([0.6, 0.6, 0.3]), np.array([0, 0, 1]), 1.0)
    1.3
    """
    if values.size == 0:
        return 0.0
    totals = np.bincount(group_ids, weights=values)
    return float(np.minimum(totals, cap).sum())


def poisson_log10_cdf(observed: float, expected: float) -> float:
    """log10 P(X <= observed) for X ~ Poisson(expected) (observed rounded down).

    >>> round(poisson_log10_cdf(0, 10.0), 3)
    -4.343
    >>> poisson_log10_cdf(5, 0.0)
    0.0
    """
    if expected <= 0.0:
        return 0.0
    return float(poisson.logcdf(math.floor(observed), expected)) / math.log(10.0)
