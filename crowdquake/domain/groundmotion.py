"""Ground-motion model: median PGA and its scatter, and PGA -> Modified Mercalli Intensity.

PGA (default): Boore, Stewart, Seyhan & Atkinson (2014), "NGA-West2 equations for predicting
PGA, PGV, and 5% damped PSA for shallow crustal earthquakes", Earthquake Spectra 30(3)
1057-1085 (BSSA14), eq. (1)-(8), PGA row of the coefficient table (unspecified mechanism,
global/California anelastic term, no basin term):

    ln Y = F_E(M) + F_P(R_JB, M) + F_S(V_S30),   Y = PGA in g (RotD50)
    F_E = e0 + e4 (M - Mh) + e5 (M - Mh)²   (M <= Mh);   e0 + e6 (M - Mh)   (M > Mh)
    F_P = [c1 + c2 (M - Mref)] ln(R / Rref) + c3 (R - Rref),   R = sqrt(R_JB² + h²)
    F_S = c ln(min(V_S30, Vc) / Vref) + f2 ln((PGA_r + f3) / f3),
          f2 = f4 [exp(f5 (min(V_S30, 760) - 360)) - exp(f5 (760 - 360))]

    e0 = 0.4473, e4 = 1.431, e5 = 0.05053, e6 = -0.1662, Mh = 5.5, c1 = -1.134,
    c2 = 0.1917, c3 = -0.008088, h = 4.5 km, Mref = 4.5, Rref = 1 km, Vref = 760 m/s,
    c = -0.6, Vc = 1500 m/s, f3 = 0.1 g, f4 = -0.15, f5 = -0.00701;
    tau = 0.398 (M <= 4.5) .. 0.348 (M >= 5.5), phi = 0.695 .. 0.495 (ln units).

BSSA14 was fitted for M 3-8.5 and R_JB < 400 km, so the small events the network must
detect (M 3.5-4.5) are inside its range. Its distance term grows with M (c2 > 0), so a
growing triggered area keeps pushing the magnitude estimate up (no saturation).

The older Boore & Atkinson (2008), Earthquake Spectra 24(1) 99-138 (BA08, fitted for M 5-8)
is kept as `ln_pga_ba08_ms2` for comparison: e1 = -0.53804, e5 = 0.28805, e6 = -0.10164,
e7 = 0, Mh = 6.75, c1 = -0.66050, c2 = 0.11970, c3 = -0.01151, h = 1.35 km, sigma_T = 0.564;
blin = -0.36, b1 = -0.64, b2 = -0.14 (tables 3, 6-8).

Finite fault: with no fault model, R_JB is approximated from the epicentral distance minus a
quarter of the subsurface rupture length of Wells & Coppersmith (1994) BSSA 84(4), table 2A,
all slip types: log10 L = -2.44 + 0.59 M (L in km, "RLD").

Intensity: Worden, Gerstenberger, Rhoades & Wald (2012), BSSA 102(1) 204-221 (WGRW12),
eq. (3) with table 1 (PGA in cm/s²):
    MMI = 1.78 + 1.55 log10 PGA   (log10 PGA <= 1.57)
    MMI = -1.60 + 3.70 log10 PGA  (log10 PGA >  1.57),   sigma_MMI = 0.73
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from crowdquake.domain.types import FloatArray

G_MS2 = 9.80665

# BA08 PGA coefficients (see module docstring)
_E1_U, _E5, _E6, _E7, _MH = -0.53804, 0.28805, -0.10164, 0.0, 6.75
_C1, _C2, _C3, _H_KM = -0.66050, 0.11970, -0.01151, 1.35
_MREF, _RREF_KM, _VREF = 4.5, 1.0, 760.0
_BLIN, _B1, _B2 = -0.36, -0.64, -0.14
BA08_SIGMA_LN = 0.564

# BSSA14 PGA coefficients (see module docstring)
_S_E0, _S_E4, _S_E5, _S_E6, _S_MH = 0.4473, 1.431, 0.05053, -0.1662, 5.5
_S_C1, _S_C2, _S_C3, _S_H_KM = -1.134, 0.1917, -0.008088, 4.5
_S_C, _S_VC, _S_F3, _S_F4, _S_F5 = -0.6, 1500.0, 0.1, -0.15, -0.00701

# WGRW12 PGA coefficients
_W_C1, _W_C2, _W_C3, _W_C4, _W_T1 = 1.78, 1.55, -1.60, 3.70, 1.57
WGRW12_SIGMA_MMI = 0.73


def rupture_length_km(magnitude: npt.ArrayLike) -> FloatArray:
    """Subsurface rupture length, Wells & Coppersmith (1994) table 2A, all slip types.

    >>> round(float(rupture_length_km(7.0)), 1)
    49.0
    """
    return np.asarray(10.0 ** (-2.44 + 0.59 * np.asarray(magnitude, dtype=float)))


def joyner_boore_km(
    epicentral_km: npt.ArrayLike, magnitude: npt.ArrayLike, finite_fault: bool = True
) -> FloatArray:
    """Approximate R_JB from the epicentral distance (point source if ``finite_fault`` off)."""
    d = np.asarray(epicentral_km, dtype=float)
    if not finite_fault:
        return d
    return np.asarray(np.maximum(d - 0.25 * rupture_length_km(magnitude), 0.0))


def _ln_pga_rock_g(magnitude: FloatArray, rjb_km: FloatArray) -> FloatArray:
    dm = magnitude - _MH
    f_m = np.where(dm <= 0.0, _E1_U + _E5 * dm + _E6 * dm**2, _E1_U + _E7 * dm)
    r = np.sqrt(rjb_km**2 + _H_KM**2)
    f_d = (_C1 + _C2 * (magnitude - _MREF)) * np.log(r / _RREF_KM) + _C3 * (r - _RREF_KM)
    return np.asarray(f_m + f_d)


def _site_term(vs30_m_s: float, pga4nl_g: FloatArray) -> FloatArray:
    """BA08 eq. (6)-(8) and (13): linear + nonlinear site amplification."""
    if vs30_m_s >= _VREF:
        return np.asarray(_BLIN * np.log(vs30_m_s / _VREF) + np.zeros_like(pga4nl_g))
    v1, v2 = 180.0, 300.0
    if vs30_m_s <= v1:
        bnl = _B1
    elif vs30_m_s <= v2:
        bnl = (_B1 - _B2) * np.log(vs30_m_s / v2) / np.log(v1 / v2) + _B2
    else:
        bnl = _B2 * np.log(vs30_m_s / _VREF) / np.log(v2 / _VREF)
    a1, a2, pga_low = 0.03, 0.09, 0.06
    dx = np.log(a2 / a1)
    dy = bnl * np.log(a2 / pga_low)
    c = (3.0 * dy - bnl * dx) / dx**2
    d = -(2.0 * dy - bnl * dx) / dx**3
    lx = np.log(np.maximum(pga4nl_g, 1e-12) / a1)
    f_nl = np.where(
        pga4nl_g <= a1,
        bnl * np.log(pga_low / 0.1),
        np.where(
            pga4nl_g <= a2,
            bnl * np.log(pga_low / 0.1) + c * lx**2 + d * lx**3,
            bnl * np.log(np.maximum(pga4nl_g, 1e-12) / 0.1),
        ),
    )
    return np.asarray(_BLIN * np.log(vs30_m_s / _VREF) + f_nl)


def ln_pga_ba08_ms2(
    magnitude: npt.ArrayLike, rjb_km: npt.ArrayLike, vs30_m_s: float = 760.0
) -> FloatArray:
    """ln of the BA08 median PGA (geometric-mean horizontal) in m/s² (comparison model).

    >>> round(float(np.exp(ln_pga_ba08_ms2(6.0, 10.0))) / G_MS2, 3)   # ~0.13 g
    0.132
    """
    m = np.asarray(magnitude, dtype=float)
    r = np.asarray(rjb_km, dtype=float)
    ln_rock = _ln_pga_rock_g(m, r)
    ln_g = ln_rock + _site_term(vs30_m_s, np.exp(ln_rock))
    return np.asarray(ln_g + np.log(G_MS2))


def _ln_pga_bssa14_rock_g(magnitude: FloatArray, rjb_km: FloatArray) -> FloatArray:
    dm = magnitude - _S_MH
    f_e = np.where(dm <= 0.0, _S_E0 + _S_E4 * dm + _S_E5 * dm**2, _S_E0 + _S_E6 * dm)
    r = np.sqrt(rjb_km**2 + _S_H_KM**2)
    f_p = (_S_C1 + _S_C2 * (magnitude - _MREF)) * np.log(r / _RREF_KM) + _S_C3 * (r - _RREF_KM)
    return np.asarray(f_e + f_p)


def ln_pga_median_ms2(
    magnitude: npt.ArrayLike, rjb_km: npt.ArrayLike, vs30_m_s: float = 760.0
) -> FloatArray:
    """ln of the BSSA14 median PGA (RotD50) in m/s², broadcast over inputs.

    >>> round(float(np.exp(ln_pga_median_ms2(6.0, 10.0))) / G_MS2, 3)
    0.175
    """
    m = np.asarray(magnitude, dtype=float)
    r = np.asarray(rjb_km, dtype=float)
    ln_rock = _ln_pga_bssa14_rock_g(m, r)
    if vs30_m_s == _VREF:
        return np.asarray(ln_rock + np.log(G_MS2))  # both site terms vanish at Vref
    f_lin = _S_C * np.log(min(vs30_m_s, _S_VC) / _VREF)
    f2 = _S_F4 * (np.exp(_S_F5 * (min(vs30_m_s, 760.0) - 360.0)) - np.exp(_S_F5 * 400.0))
    f_nl = f2 * np.log((np.exp(ln_rock) + _S_F3) / _S_F3)
    return np.asarray(ln_rock + f_lin + f_nl + np.log(G_MS2))


def bssa14_sigma_ln(magnitude: float) -> tuple[float, float]:
    """(tau, phi) of BSSA14 PGA in ln units, linear in M between 4.5 and 5.5 (eq. 14, 17)."""
    w = min(max(magnitude - 4.5, 0.0), 1.0)
    return 0.398 + (0.348 - 0.398) * w, 0.695 + (0.495 - 0.695) * w


def pga_median_ms2(
    magnitude: npt.ArrayLike, rjb_km: npt.ArrayLike, vs30_m_s: float = 760.0
) -> FloatArray:
    """BSSA14 median PGA in m/s²."""
    return np.asarray(np.exp(ln_pga_median_ms2(magnitude, rjb_km, vs30_m_s)))


def prob_exceed(
    threshold_ms2: float,
    magnitude: npt.ArrayLike,
    rjb_km: npt.ArrayLike,
    sigma_ln: float,
    vs30_m_s: float = 760.0,
) -> FloatArray:
    """P(PGA > threshold) for log-normal scatter ``sigma_ln`` about the BSSA14 median."""
    z = (ln_pga_median_ms2(magnitude, rjb_km, vs30_m_s) - np.log(threshold_ms2)) / sigma_ln
    return np.asarray(ndtr(z))


def mmi_from_pga(pga_ms2: npt.ArrayLike) -> FloatArray:
    """Modified Mercalli Intensity from PGA (WGRW12 eq. 3, table 1), clipped to [1, 10].

    >>> round(float(mmi_from_pga(0.1 * G_MS2)), 2)   # 0.1 g = 98 cm/s²
    5.77
    """
    pga_cm_s2 = np.maximum(np.asarray(pga_ms2, dtype=float) * 100.0, 1e-6)
    lg = np.log10(pga_cm_s2)
    mmi = np.where(lg <= _W_T1, _W_C1 + _W_C2 * lg, _W_C3 + _W_C4 * lg)
    return np.asarray(np.clip(mmi, 1.0, 10.0))


def pga_from_mmi(mmi: npt.ArrayLike) -> FloatArray:
    """Inverse of `mmi_from_pga` in m/s² (both branches meet at MMI 4.21)."""
    i = np.asarray(mmi, dtype=float)
    t_mmi = _W_C1 + _W_C2 * _W_T1
    lg = np.where(i <= t_mmi, (i - _W_C1) / _W_C2, (i - _W_C3) / _W_C4)
    return np.asarray(10.0**lg / 100.0)
