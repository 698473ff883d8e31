"""Simulator ground-motion truth: Bindi et al. (2014) PGA, a relation the detector does not use.

The detector inverts Boore, Stewart, Seyhan & Atkinson (2014), BSSA14
(``crowdquake.domain.groundmotion``). Generating the synthetic PGAs with the *same* relation
would be an inverse crime: magnitude estimates would look better than they can be on real data.
The simulator therefore uses an independently fitted relation with its own data set
(pan-European RESORCE), functional form and coefficients:

Bindi, Massa, Luzi, Ameri, Pacor, Puglia & Augliera (2014), "Pan-European ground-motion
prediction equations for the average horizontal component of PGA, PGV, and 5%-damped PSA at
spectral periods up to 3.0 s using the RESORCE dataset", Bull. Earthquake Eng. 12(1) 391-430,
eq. (1)-(3), R_JB / V_S30 model, PGA coefficients from the paper's electronic supplement (the
printed table was corrected by the erratum, BEE 12(1) 431-448):

    log10 Y = e1 + F_D(R, M) + F_M(M) + F_S,   Y = PGA in cm/s² (geometric-mean horizontal)
    F_D = [c1 + c2 (M - Mref)] log10(sqrt(R_JB² + h²) / Rref) - c3 (sqrt(R_JB² + h²) - Rref)
    F_M = b1 (M - Mh) + b2 (M - Mh)²   (M <= Mh);   b3 (M - Mh)   (M > Mh)
    F_S = gamma log10(V_S30 / Vref)

    e1 = 3.32819, c1 = -1.23980, c2 = 0.217320, h = 5.26486 km, c3 = 0.00118624 /km,
    b1 = -0.0855045, b2 = -0.0925639, b3 = 0, gamma = -0.301899, Mref = 5.5, Mh = 6.75,
    Rref = 1 km, Vref = 800 m/s; tau = 0.149977, phi = 0.282398, sigma = 0.319753 (log10).

The style-of-faulting terms (sofN -0.040, sofR +0.078, sofS -0.038) average to ~0 and are left
out (mechanism unspecified). The relation was fitted for Mw 4-7.6 and R_JB < 300 km; the
simulator extrapolates it down to Mw 3.5 and up to 8 (documented in docs/evaluation.md).
R_JB is approximated from the epicentral distance with the Wells & Coppersmith (1994) rupture
length (geometry shared with the domain, not attenuation).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from crowdquake.domain.types import FloatArray

G_MS2 = 9.80665
LN10 = float(np.log(10.0))

_E1, _C1, _C2, _H_KM, _C3 = 3.32819, -1.23980, 0.217320, 5.26486, 0.00118624
_B1, _B2, _B3, _GAMMA = -0.0855045, -0.0925639, 0.0, -0.301899
_MREF, _MH, _RREF_KM, _VREF_M_S = 5.5, 6.75, 1.0, 800.0

# Scatter converted from log10 to natural-log units.
BINDI14_SIGMA_LN = 0.319753 * LN10
BINDI14_TAU_LN = 0.149977 * LN10
BINDI14_PHI_LN = 0.282398 * LN10


def rjb_from_epicentral_km(epicentral_km: npt.ArrayLike, magnitude: float) -> FloatArray:
    """Joyner-Boore distance approximated as epicentral distance minus a quarter rupture length.

    Rupture length L from Wells & Coppersmith (1994) BSSA 84(4) table 2A (all slip types,
    subsurface length): log10 L = -2.44 + 0.59 M. A rupture centred on the epicentre with random
    strike shortens the distance by about L/4 on average.
    """
    length_km = 10.0 ** (-2.44 + 0.59 * magnitude)
    return np.asarray(np.maximum(np.asarray(epicentral_km, dtype=float) - 0.25 * length_km, 0.0))


def log10_pga_median_cms2(
    magnitude: float, rjb_km: npt.ArrayLike, vs30_m_s: float = 760.0
) -> FloatArray:
    """Bindi et al. (2014) median log10 PGA in cm/s².

    >>> round(float(10 ** log10_pga_median_cms2(6.0, 10.0)), 1)   # M6 at 10 km, ~0.14 g
    139.2
    """
    r_km = np.hypot(np.asarray(rjb_km, dtype=float), _H_KM)
    dm = magnitude - _MH
    f_m = _B1 * dm + _B2 * dm * dm if magnitude <= _MH else _B3 * dm
    f_d = (_C1 + _C2 * (magnitude - _MREF)) * np.log10(r_km / _RREF_KM) - _C3 * (r_km - _RREF_KM)
    f_s = _GAMMA * np.log10(vs30_m_s / _VREF_M_S)
    return np.asarray(_E1 + f_d + f_m + f_s)


def pga_median_ms2(
    magnitude: float, epicentral_km: npt.ArrayLike, vs30_m_s: float = 760.0
) -> FloatArray:
    """Median PGA in m/s² at an epicentral distance (finite fault approximated)."""
    rjb = rjb_from_epicentral_km(epicentral_km, magnitude)
    return np.asarray(10.0 ** log10_pga_median_cms2(magnitude, rjb, vs30_m_s) / 100.0)
