"""Column storage for simulated triggers, with their ground-truth labels.

Scenarios can hold millions of triggers (noise-only region-days), so they are kept as numpy
columns and turned into ``Trigger`` objects only in the small batches fed to a detector.
Labels: the true event id for genuine earthquake triggers, ``""`` for background false triggers,
``"lookalike:<kind>"`` for natural look-alikes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crowdquake.domain.types import FloatArray, Phase, Trigger

NOISE_LABEL = ""


@dataclass(frozen=True)
class TriggerTable:
    device_id: np.ndarray  # str objects
    time_s: FloatArray  # reported trigger time (phone clock corrected by its measured offset)
    received_s: FloatArray  # server arrival time
    lat_deg: FloatArray
    lon_deg: FloatArray
    pga_ms2: FloatArray
    label: np.ndarray  # str objects, see module docstring
    phase: np.ndarray  # "P", "S" or "" (not a seismic phase)

    def __len__(self) -> int:
        return int(self.time_s.size)

    @classmethod
    def empty(cls) -> TriggerTable:
        e = np.zeros(0)
        o = np.zeros(0, dtype=object)
        return cls(o, e, e, e, e, e, o, o)

    @classmethod
    def concat(cls, tables: list[TriggerTable]) -> TriggerTable:
        tables = [t for t in tables if len(t)]
        if not tables:
            return cls.empty()
        return cls(*(np.concatenate([getattr(t, f) for t in tables]) for f in _FIELDS))

    def take(self, index: np.ndarray) -> TriggerTable:
        return TriggerTable(*(getattr(self, f)[index] for f in _FIELDS))

    def sorted_by_received(self) -> TriggerTable:
        return self.take(np.argsort(self.received_s, kind="stable"))

    def to_triggers(self, start: int, stop: int, id_prefix: str) -> list[Trigger]:
        """``Trigger`` objects for rows ``start:stop``; trigger ids are ``<prefix>-<row>``."""
        out = []
        for i in range(start, stop):
            ph = self.phase[i]
            out.append(
                Trigger(
                    trigger_id=f"{id_prefix}-{i}",
                    device_id=str(self.device_id[i]),
                    time_s=float(self.time_s[i]),
                    lat_deg=float(self.lat_deg[i]),
                    lon_deg=float(self.lon_deg[i]),
                    pga_ms2=float(self.pga_ms2[i]),
                    received_s=float(self.received_s[i]),
                    phase_hint=_phase(ph),
                )
            )
        return out


def _phase(text: str) -> Phase | None:
    # The phone does not know which phase woke it up; the hint stays empty on purpose.
    del text
    return None


_FIELDS = ("device_id", "time_s", "received_s", "lat_deg", "lon_deg", "pga_ms2", "label", "phase")


@dataclass(frozen=True)
class LatencyModel:
    """Phone -> server delay (our assumption, documented in docs/evaluation.md).

    Log-normal body (median 0.8 s, sigma_ln 0.5: mobile data round trips plus a 0.5 s decision
    window on the phone) and a heavy tail: 2% of reports are delayed 5-30 s (radio wake-up,
    retries after a dropped connection).
    """

    median_s: float = 0.8
    sigma_ln: float = 0.5
    tail_fraction: float = 0.02
    tail_min_s: float = 5.0
    tail_max_s: float = 30.0

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        lat = self.median_s * np.exp(rng.normal(0.0, self.sigma_ln, n))
        tail = rng.random(n) < self.tail_fraction
        lat[tail] = rng.uniform(self.tail_min_s, self.tail_max_s, int(tail.sum()))
        return np.asarray(lat)
