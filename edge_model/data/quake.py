"""Synthetic earthquake ground acceleration by the stochastic method (Boore 2003).

Boore, D. M. (2003). Simulation of ground motion using the stochastic method. Pure and Applied
Geophysics 160, 635-676. A windowed Gaussian noise is given the Fourier amplitude spectrum of
a point source observed at hypocentral distance R:

    A(f) = C · M0 · (2πf)² / (1 + (f/fc)²)       Brune (1970) omega-squared source, acceleration
         · G(R) · exp(-π f R / (Q(f) v)) · exp(-π κ f)     spreading, anelastic Q, kappa

with C = <R_θφ> V F / (4π ρ v³ R0) · 1e-20 (cm/s for M0 in dyne·cm, ρ g/cm³, v km/s,
R0 = 1 km; Boore 2003 eq. 3-4), corner frequency fc = 4.906e6 v (Δσ/M0)^(1/3) (Boore 2003
eq. 5, Δσ in bar), M0 = 10^(1.5 M + 16.05) dyne·cm (Hanks & Kanamori 1979).

Regional constants for active crust (California): Q(f) = 180 f^0.45 and geometric spreading
1/R to 40 km then R^-0.5 (Raoof, Herrmann & Malagnini 1999, BSSA 89); kappa 0.02-0.06 s
(Anderson & Hough 1984); generic rock crustal amplification (Boore & Joyner 1997);
Δσ lognormal around 70 bar (Atkinson & Silva 2000). Near-source saturation by an effective
distance sqrt(R² + h²), h = 10^(-0.405 + 0.235 M) km (Yenier & Atkinson 2015,
BSSA 105). Duration T = 1/fc + 0.05 R (Atkinson & Boore 1995), shaped by the
Saragoni & Hart (1974) window with ε = 0.2, η = 0.05 (Boore 2003 eq. 33-35).

P waves use the same recipe with the P velocity α = 6 km/s, <R_θφ> = 0.52 (Boore & Boatwright
1984), Q_P = 9/4 Q_S (Poisson solid without bulk loss) and fc_P = 1.5 fc_S (Madariaga 1976);
the P train lasts at least until the S arrival (its coda). P is polarised along the ray
(mostly vertical at the surface), S transverse (mostly horizontal). Near-fault sites may add a
forward-directivity velocity pulse (Mavroeidis & Papageorgiou 2003), see ``random_scenario``.

All outputs are in SI: m/s², seconds, axes (east, north, up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BASE_RATE_HZ = 100.0
G_MS2 = 9.80665


@dataclass(frozen=True)
class QuakeScenario:
    """One earthquake seen at one site."""

    magnitude: float
    hypo_distance_km: float
    stress_drop_bar: float = 70.0
    kappa_s: float = 0.035
    incidence_deg: float = 20.0
    backazimuth_deg: float = 0.0
    s_polarisation_deg: float = 45.0
    pulse_pgv_ms: float = 0.0  # near-fault forward-directivity pulse (0: none)
    pulse_period_s: float = 1.0
    pulse_gamma: float = 2.0
    pulse_phase_rad: float = 0.0


@dataclass(frozen=True)
class QuakeRecord:
    """Ground acceleration (3, n) in m/s², east-north-up, at ``rate_hz``; onsets in samples."""

    acc_enu_ms2: np.ndarray
    rate_hz: float
    p_onset: int
    s_onset: int
    scenario: QuakeScenario


def moment_dyne_cm(magnitude: float) -> float:
    """Seismic moment from moment magnitude (Hanks & Kanamori 1979)."""
    return float(10.0 ** (1.5 * magnitude + 16.05))


def corner_frequency_hz(magnitude: float, stress_drop_bar: float, velocity_km_s: float) -> float:
    """Brune corner frequency, Boore 2003 eq. 5."""
    return float(4.906e6 * velocity_km_s * (stress_drop_bar / moment_dyne_cm(magnitude)) ** (1 / 3))


def effective_distance_km(magnitude: float, hypo_distance_km: float) -> float:
    """Finite-fault saturation (Yenier & Atkinson 2015, eq. 5)."""
    h_km = 10.0 ** (-0.405 + 0.235 * magnitude)
    return float(np.hypot(hypo_distance_km, h_km))


def geometric_spreading(r_km: float) -> float:
    """1/R to 40 km, then R^-0.5 (Raoof et al. 1999)."""
    if r_km <= 40.0:
        return 1.0 / r_km
    return float((1.0 / 40.0) * (40.0 / r_km) ** 0.5)


# Boore & Joyner (1997, BSSA 87) generic rock (Vs30 620 m/s) amplification, as tabulated in SMSIM.
_GENERIC_ROCK_F_HZ = np.array([0.01, 0.09, 0.16, 0.51, 0.84, 1.26, 2.26, 3.17, 6.05, 16.6, 61.2])
_GENERIC_ROCK_AMP = np.array([1.00, 1.10, 1.18, 1.42, 1.58, 1.74, 2.06, 2.25, 2.58, 3.13, 4.00])


def generic_rock_amplification(freqs_hz: np.ndarray) -> np.ndarray:
    """Crustal amplification, log-log interpolated in the Boore & Joyner (1997) table."""
    log_f = np.log(np.clip(freqs_hz, _GENERIC_ROCK_F_HZ[0], _GENERIC_ROCK_F_HZ[-1]))
    return np.asarray(
        np.exp(np.interp(log_f, np.log(_GENERIC_ROCK_F_HZ), np.log(_GENERIC_ROCK_AMP)))
    )


def fourier_acceleration_ms(freqs_hz: np.ndarray, scenario: QuakeScenario, wave: str) -> np.ndarray:
    """Target Fourier amplitude of acceleration in m/s (= m/s² · s), Boore 2003 eq. 2-9."""
    beta_km_s, alpha_km_s, rho_g_cm3 = 3.5, 6.0, 2.8
    if wave == "S":
        v, radiation, fc_factor, q_factor = beta_km_s, 0.55, 1.0, 1.0
    else:
        v, radiation, fc_factor, q_factor = alpha_km_s, 0.52, 1.5, 9.0 / 4.0
    m0 = moment_dyne_cm(scenario.magnitude)
    fc = fc_factor * corner_frequency_hz(scenario.magnitude, scenario.stress_drop_bar, beta_km_s)
    # V = 1/sqrt(2) splits energy onto two horizontal components; F = 2 free surface.
    c_cm = radiation * (1 / np.sqrt(2.0)) * 2.0 / (4 * np.pi * rho_g_cm3 * v**3 * 1.0) * 1e-20
    r_km = effective_distance_km(scenario.magnitude, scenario.hypo_distance_km)
    f = np.maximum(freqs_hz, 1e-3)
    source = c_cm * m0 * (2 * np.pi * f) ** 2 / (1 + (f / fc) ** 2)
    q = q_factor * 180.0 * f**0.45
    path = geometric_spreading(r_km) * np.exp(-np.pi * f * r_km / (q * v))
    site = generic_rock_amplification(f) * np.exp(-np.pi * scenario.kappa_s * f)
    amp = source * path * site * 0.01  # cm -> m
    amp[freqs_hz <= 0] = 0.0
    return np.asarray(amp)


def saragoni_hart(n: int, eps: float = 0.2, eta: float = 0.05) -> np.ndarray:
    """Saragoni & Hart (1974) envelope on n samples, peak at eps of the duration (Boore 2003)."""
    b = -eps * np.log(eta) / (1 + eps * (np.log(eps) - 1))
    c = b / eps
    a = (np.e / eps) ** b
    t = np.linspace(0.0, 1.0, n, endpoint=False) + 0.5 / n
    w = a * t**b * np.exp(-c * t)
    return np.asarray(w)


def stochastic_trace(
    *,
    rng: np.random.Generator,
    scenario: QuakeScenario,
    wave: str,
    duration_s: float,
    n_out: int,
    rate_hz: float,
) -> np.ndarray:
    """One component: windowed noise with the target spectrum (Boore 2003, section 'Method')."""
    n_win = max(round(duration_s * rate_hz), 8)
    n_fft = int(2 ** np.ceil(np.log2(max(n_win, n_out) * 1.25)))
    noise = np.zeros(n_fft)
    noise[:n_win] = rng.standard_normal(n_win) * saragoni_hart(n_win)
    spec = np.fft.rfft(noise)
    spec /= np.sqrt(np.mean(np.abs(spec) ** 2))
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / rate_hz)
    target = fourier_acceleration_ms(freqs, scenario, wave) * rate_hz  # continuous FT -> DFT
    return np.fft.irfft(spec * target, n=n_fft)[:n_out]


def velocity_pulse_acc(scenario: QuakeScenario, n: int, rate_hz: float) -> np.ndarray:
    """Acceleration of the Mavroeidis & Papageorgiou (2003, BSSA 93) velocity pulse.

    v(t) = A/2 [1 + cos(2π fp t / γ)] cos(2π fp t + ν) for |t| <= γ / (2 fp), centred at the
    middle of the support; differentiated numerically.
    """
    fp, gamma = 1.0 / scenario.pulse_period_s, scenario.pulse_gamma
    half_s = gamma / (2 * fp)
    t = np.arange(n) / rate_hz - half_s
    v = np.where(
        np.abs(t) <= half_s,
        scenario.pulse_pgv_ms
        / 2
        * (1 + np.cos(2 * np.pi * fp * t / gamma))
        * np.cos(2 * np.pi * fp * t + scenario.pulse_phase_rad),
        0.0,
    )
    return np.asarray(np.gradient(v) * rate_hz)


def simulate_quake(
    rng: np.random.Generator,
    scenario: QuakeScenario,
    pre_p_s: float,
    post_s_s: float,
    rate_hz: float = BASE_RATE_HZ,
) -> QuakeRecord:
    """Three-component P + S acceleration from ``pre_p_s`` before P to ``post_s_s`` after S."""
    r_km = scenario.hypo_distance_km
    tp_s, ts_s = r_km / 6.0, r_km / 3.5
    n = round((ts_s - tp_s + pre_p_s + post_s_s) * rate_hz)
    p0 = round(pre_p_s * rate_hz)
    s0 = round((ts_s - tp_s + pre_p_s) * rate_hz)
    fc_s = corner_frequency_hz(scenario.magnitude, scenario.stress_drop_bar, 3.5)
    dur_s = 1.0 / fc_s + 0.05 * r_km
    dur_p = max(1.0 / (1.5 * fc_s) + 0.05 * r_km, 1.3 * (ts_s - tp_s))

    p_amp = np.zeros(n)
    p_amp[p0:] = stochastic_trace(
        rng=rng, scenario=scenario, wave="P", duration_s=dur_p, n_out=n - p0, rate_hz=rate_hz
    )
    s_h1 = np.zeros(n)
    s_h2 = np.zeros(n)
    s_h1[s0:] = stochastic_trace(
        rng=rng, scenario=scenario, wave="S", duration_s=dur_s, n_out=n - s0, rate_hz=rate_hz
    )
    s_h2[s0:] = stochastic_trace(
        rng=rng, scenario=scenario, wave="S", duration_s=dur_s, n_out=n - s0, rate_hz=rate_hz
    )
    # The S pair is Boore's two horizontal components (V = 1/sqrt 2 each), rotated by a random
    # polarisation; SV leaks onto the vertical in proportion to the incidence angle.
    inc = np.radians(scenario.incidence_deg)
    baz = np.radians(scenario.backazimuth_deg)
    pol = np.radians(scenario.s_polarisation_deg)
    s_radial = s_h1 * np.cos(pol) - s_h2 * np.sin(pol)
    transverse = s_h1 * np.sin(pol) + s_h2 * np.cos(pol)
    radial = p_amp * np.sin(inc) + s_radial * np.cos(inc)
    up = p_amp * np.cos(inc) + s_radial * np.sin(inc)
    if scenario.pulse_pgv_ms > 0:
        transverse[s0:] += velocity_pulse_acc(scenario, n - s0, rate_hz)
    # Radial axis points from the source to the site (azimuth = backazimuth + 180°).
    az = baz + np.pi
    east = radial * np.sin(az) + transverse * np.cos(az)
    north = radial * np.cos(az) - transverse * np.sin(az)
    acc = np.stack([east, north, up])
    return QuakeRecord(acc, rate_hz, p0, s0, scenario)


def random_scenario(rng: np.random.Generator, magnitude: float, hypo_km: float) -> QuakeScenario:
    """Scenario with randomised source, site and geometry terms around the published values.

    Half of the sites within 25 km of an M >= 6 get a forward-directivity velocity pulse:
    period ln Tp = -5.73 + 0.99 M (Shahi & Baker 2011, BSSA 101), PGV lognormal around
    0.5 m/s (near-fault pulse records of NGA-West2 span ~0.2-1.5 m/s).
    """
    pulse = {}
    if magnitude >= 6.0 and hypo_km <= 25.0 and rng.random() < 0.5:
        pulse = {
            "pulse_pgv_ms": float(np.exp(rng.normal(np.log(0.5), 0.5))),
            "pulse_period_s": float(np.exp(-5.73 + 0.99 * magnitude + rng.normal(0, 0.5))),
            "pulse_gamma": float(rng.uniform(1.5, 3.0)),
            "pulse_phase_rad": float(rng.uniform(0, 2 * np.pi)),
        }
    return QuakeScenario(
        magnitude=magnitude,
        hypo_distance_km=hypo_km,
        stress_drop_bar=float(np.exp(rng.normal(np.log(70.0), 0.5))),
        kappa_s=float(rng.uniform(0.02, 0.06)),
        incidence_deg=float(rng.uniform(5.0, 40.0)),
        backazimuth_deg=float(rng.uniform(0.0, 360.0)),
        s_polarisation_deg=float(rng.uniform(0.0, 360.0)),
        **pulse,
    )
