"""Value types shared by the science code, the simulator and the services.

Everything here is a frozen dataclass of plain numbers: SI units inside (seconds since the Unix
epoch for absolute times, km for distances and depths, m/s² for accelerations, degrees for
latitude/longitude), units spelled in the field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

Phase = Literal["P", "S"]
AlertLevel = Literal["be_aware", "take_action"]

FloatArray = npt.NDArray[np.float64]

if TYPE_CHECKING:
    from crowdquake.domain.evidence import TrustAssessment


@dataclass(frozen=True, slots=True)
class Trigger:
    """One phone's report of earthquake-like shaking.

    ``time_s`` is the trigger time already corrected by the phone's measured clock offset.
    ``received_s`` is when the server committed it (``None`` in pure offline studies).
    ``pga_ms2`` is ``None`` when unknown.
    """

    trigger_id: str
    device_id: str
    time_s: float
    lat_deg: float
    lon_deg: float
    pga_ms2: float | None = None
    score: float = 1.0
    received_s: float | None = None
    phase_hint: Phase | None = None
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class ActiveDevices:
    """The devices that could have triggered: steady, with a fresh heartbeat.

    Column arrays (not a list of objects) because a region can hold 10^5 devices and every
    statistic is vectorised over them. Positions are the coarsened heartbeat positions.
    """

    device_ids: tuple[str, ...]
    lat_deg: FloatArray
    lon_deg: FloatArray

    def __len__(self) -> int:
        return len(self.device_ids)

    @classmethod
    def empty(cls) -> ActiveDevices:
        return cls((), np.zeros(0), np.zeros(0))


@dataclass(frozen=True, slots=True)
class Hypocenter:
    """A located source with 1-sigma uncertainties."""

    origin_time_s: float
    lat_deg: float
    lon_deg: float
    depth_km: float
    horizontal_uncertainty_km: float = float("nan")
    depth_uncertainty_km: float = float("nan")
    origin_time_uncertainty_s: float = float("nan")
    depth_fixed: bool = True


@dataclass(frozen=True, slots=True)
class MagnitudeEstimate:
    """Posterior summary of the magnitude (moment magnitude scale)."""

    magnitude: float
    uncertainty: float
    lower_bound: float = float("-inf")
    upper_bound: float = float("inf")


@dataclass(frozen=True, slots=True)
class TriggerAssociation:
    """How one trigger is explained by an event."""

    trigger_id: str
    phase: Phase
    residual_s: float


@dataclass(frozen=True, slots=True)
class EventEstimate:
    """The detector's current belief about one earthquake.

    ``event_key`` is stable across updates for as long as the detector considers it the same
    earthquake; the services map it to a public event id.
    """

    event_key: str
    hypocenter: Hypocenter
    magnitude: MagnitudeEstimate | None
    associations: tuple[TriggerAssociation, ...]
    n_active: int
    detection_log10_p: float
    detected_at_s: float
    confirmed: bool
    method: str
    merged_into: str | None = None  # set once when this event was merged into another key
    # what trusted, independent phones support (None: the method does not assess trust)
    trust: TrustAssessment | None = None

    @property
    def n_triggers(self) -> int:
        return len(self.associations)


@dataclass(frozen=True, slots=True)
class CellAlert:
    """The alert decision for one H3 cell."""

    cell: str
    level: AlertLevel
    predicted_mmi: float
    warning_time_s: float


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """All cells an event revision warns, grouped by level."""

    cells: tuple[CellAlert, ...] = field(default_factory=tuple)

    def by_level(self, level: AlertLevel) -> tuple[CellAlert, ...]:
        return tuple(c for c in self.cells if c.level == level)
