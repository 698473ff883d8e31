"""What a phone's accelerometer reports: coupling, orientation, gravity, noise, quantisation.

Physical model (all SI, m/s²):

* Floor coupling. A phone lies on a floor or table of a building; with probability
  ``p_building`` the ground motion passes through a single-degree-of-freedom building mode
  (natural frequency f0 = 10/N_storeys Hz, i.e. the T ≈ 0.1 N rule of thumb, 5% damping;
  Chopra, Dynamics of Structures, ch. 3). Absolute floor acceleration of the SDOF is computed
  exactly in the frequency domain.
* Orientation. The reading is the specific force f = R (a - g) in the device frame with
  g = (0, 0, -9.80665) in east-north-up; a phone at rest reads +9.81 on the axis pointing up.
  Steady phones are mostly face-up with a random yaw and a small tilt; otherwise uniformly random.
* Sensor. MEMS accelerometers of phones: white noise density 80-400 µg/√Hz (e.g. Bosch
  BMI160 180 µg/√Hz, ST LSM6DSL 90 µg/√Hz datasheets), bandwidth half the output rate,
  full scale ±2 g to ±16 g (clipping), 12-16 bit quantisation, a small per-axis offset.
* Output rate. Phones deliver 25, 50 or 100 Hz; a digital anti-alias low-pass precedes the
  decimation (polyphase FIR, scipy.signal.resample_poly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from edge_model.data.quake import G_MS2


@dataclass(frozen=True)
class SensorSpec:
    """One phone accelerometer."""

    noise_ug_per_rt_hz: float = 180.0
    full_scale_g: float = 8.0
    bits: int = 16
    offset_ms2: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def lsb_ms2(self) -> float:
        return float(2 * self.full_scale_g * G_MS2 / 2**self.bits)


def random_sensor(rng: np.random.Generator) -> SensorSpec:
    full_scale = float(rng.choice([2.0, 4.0, 8.0, 16.0]))
    noise = float(np.exp(rng.uniform(np.log(80.0), np.log(400.0))))
    bits = int(rng.choice([12, 14, 16]))
    off = rng.normal(0.0, 0.05, 3)
    return SensorSpec(noise, full_scale, bits, (float(off[0]), float(off[1]), float(off[2])))


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """World (ENU) to device rotation, Z-Y-X Euler angles in radians."""
    cy, sy, cp, sp, cr, sr = (
        np.cos(yaw),
        np.sin(yaw),
        np.cos(pitch),
        np.sin(pitch),
        np.cos(roll),
        np.sin(roll),
    )
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    return np.asarray((rz @ ry @ rx).T)


def rotation_series(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(n, 3, 3) world-to-device rotations for angle time series (radians)."""
    cy, sy, cp, sp, cr, sr = (
        np.cos(yaw),
        np.sin(yaw),
        np.cos(pitch),
        np.sin(pitch),
        np.cos(roll),
        np.sin(roll),
    )
    r = np.empty((yaw.size, 3, 3))
    # Transpose of Rz @ Ry @ Rx written out element by element.
    r[:, 0, 0] = cy * cp
    r[:, 1, 0] = cy * sp * sr - sy * cr
    r[:, 2, 0] = cy * sp * cr + sy * sr
    r[:, 0, 1] = sy * cp
    r[:, 1, 1] = sy * sp * sr + cy * cr
    r[:, 2, 1] = sy * sp * cr - cy * sr
    r[:, 0, 2] = -sp
    r[:, 1, 2] = cp * sr
    r[:, 2, 2] = cp * cr
    return r


def resting_orientation(rng: np.random.Generator) -> np.ndarray:
    """A phone left on a surface: 80% face up or down with a small tilt, else any orientation."""
    if rng.random() < 0.8:
        flip = np.pi if rng.random() < 0.2 else 0.0
        return rotation_matrix(
            rng.uniform(0, 2 * np.pi), rng.normal(0, 0.05) + flip, rng.normal(0, 0.05)
        )
    return rotation_matrix(*rng.uniform(0, 2 * np.pi, 3))


def building_floor(rng: np.random.Generator, acc_ms2: np.ndarray, rate_hz: float) -> np.ndarray:
    """Absolute acceleration on a floor of a one-mode building (SDOF, 5% damping)."""
    n_storeys = int(rng.integers(1, 21))
    f0 = 10.0 / n_storeys
    zeta = 0.05
    n = acc_ms2.shape[-1]
    n_fft = int(2 ** np.ceil(np.log2(2 * n)))
    f = np.fft.rfftfreq(n_fft, 1.0 / rate_hz)
    # Absolute-acceleration transfer function of a base-excited SDOF oscillator.
    h = (f0**2 + 2j * zeta * f0 * f) / (f0**2 - f**2 + 2j * zeta * f0 * f)
    # Horizontal motion goes through the mode; vertical floors are stiff (no amplification).
    out = acc_ms2.copy()
    spec = np.fft.rfft(acc_ms2[:2], n=n_fft, axis=-1)
    out[:2] = np.fft.irfft(spec * h, n=n_fft, axis=-1)[:, :n]
    return out


def world_to_device(acc_enu_ms2: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Specific force in the device frame: f = R (a - g) for a fixed or per-sample rotation."""
    specific = acc_enu_ms2.copy()
    specific[2] += G_MS2
    if rot.ndim == 2:
        return np.asarray(rot @ specific)
    return np.asarray(np.einsum("nij,jn->in", rot, specific))


def decimate_to(x: np.ndarray, rate_hz: float, out_rate_hz: float) -> np.ndarray:
    """Anti-aliased decimation by an integer factor (the phone's digital filter)."""
    factor = round(rate_hz / out_rate_hz)
    if factor == 1:
        return x
    # padtype="line" extends the signal linearly so gravity does not ring at the edges.
    return np.asarray(signal.resample_poly(x, 1, factor, axis=-1, padtype="line"))


def sense(
    rng: np.random.Generator, specific_ms2: np.ndarray, rate_hz: float, sensor: SensorSpec
) -> np.ndarray:
    """Add sensor noise and offset, clip to full scale, quantise (input at the output rate)."""
    sigma = sensor.noise_ug_per_rt_hz * 1e-6 * G_MS2 * np.sqrt(rate_hz / 2.0)
    out = specific_ms2 + rng.normal(0.0, sigma, specific_ms2.shape)
    out += np.asarray(sensor.offset_ms2)[:, None]
    lim = sensor.full_scale_g * G_MS2
    lsb = sensor.lsb_ms2()
    return np.asarray(np.round(np.clip(out, -lim, lim) / lsb) * lsb)


def resample_to(x: np.ndarray, rate_hz: float, out_rate_hz: float) -> np.ndarray:
    """Polyphase resampling along the last axis (e.g. a 25 Hz phone to the 50 Hz model)."""
    if rate_hz == out_rate_hz:
        return x
    from fractions import Fraction

    ratio = Fraction(out_rate_hz / rate_hz).limit_denominator(100)
    return np.asarray(
        signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=-1, padtype="line")
    )
