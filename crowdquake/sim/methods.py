"""The methods the harness compares, behind one small streaming protocol.

Every method (ours and each baseline) is driven the same way: ``set_active_devices`` whenever the
steady set changes, then ``update(new_triggers, now_s)`` with the triggers that reached the server
in the last batch, returning the events created or changed by that batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from crowdquake.domain.types import ActiveDevices, EventEstimate, Trigger


class StreamingMethod(Protocol):
    def set_active_devices(self, active: ActiveDevices) -> None: ...

    def update(self, triggers: Sequence[Trigger], now_s: float) -> list[EventEstimate]: ...

    @property
    def events(self) -> Sequence[EventEstimate]: ...


@dataclass(frozen=True)
class MethodSpec:
    """A named method: ``factory()`` builds a fresh instance per scenario.

    ``available`` is ``None`` when the method can run, else the reason it is skipped.
    """

    name: str
    factory: Callable[[], StreamingMethod]
    available: str | None = None
    description: str = ""


class _OursAdapter:
    """Our ``StreamingDetector`` seen through the harness protocol."""

    def __init__(self) -> None:
        from crowdquake.domain.detector import StreamingDetector
        from crowdquake.domain.params import DetectionParams

        self._det = StreamingDetector(DetectionParams())

    def set_active_devices(self, active: ActiveDevices) -> None:
        self._det.set_active_devices(active)

    def update(self, triggers: Sequence[Trigger], now_s: float) -> list[EventEstimate]:
        return list(self._det.update(list(triggers), now_s))

    @property
    def events(self) -> Sequence[EventEstimate]:
        ev = self._det.events
        return list(ev.values()) if isinstance(ev, dict) else list(ev)


class _OursTrustAdapter(_OursAdapter):
    """Ours with the trust policy on: every phone gets a profile of the attack suite's honest
    city (``sim.attacks.honest_profile``, drawn from a hash of its id: the same phone keeps
    its profile). Measures what the spoofing defences cost real earthquakes."""

    def __init__(self) -> None:
        super().__init__()
        from crowdquake.domain.trust import DeviceProfile

        self._profiles: dict[str, DeviceProfile] = {}

    def set_active_devices(self, active: ActiveDevices) -> None:
        from crowdquake.sim.attacks import honest_profile

        for d in active.device_ids:
            if d not in self._profiles:
                self._profiles[d] = honest_profile(d)
        self._det.set_devices(active, self._profiles)


def ours_trust_spec() -> MethodSpec:
    return MethodSpec(
        "crowdquake_trust",
        _OursTrustAdapter,
        None,
        "ours with honest trust profiles (ages, heartbeats, networks): the defences' cost",
    )


def ours_spec() -> MethodSpec:
    try:
        import crowdquake.domain.detector  # noqa: F401
    except ImportError as exc:
        return MethodSpec("crowdquake", _OursAdapter, f"crowdquake.domain.detector: {exc}")
    return MethodSpec("crowdquake", _OursAdapter, None, "our streaming detector (domain)")


def all_methods(include: Sequence[str] | None = None) -> list[MethodSpec]:
    """Ours and the three baselines, in report order (filtered by name if ``include``);
    ``crowdquake_trust`` (ours with honest trust profiles) only when named in ``include``."""
    from crowdquake.sim.baselines.count_test import count_test_spec
    from crowdquake.sim.baselines.myshake import myshake_spec
    from crowdquake.sim.baselines.pyocto_baseline import pyocto_spec

    specs = [ours_spec(), myshake_spec(), count_test_spec(), pyocto_spec()]
    if include is not None and "crowdquake_trust" in include:
        specs.insert(1, ours_trust_spec())  # only on request: it doubles our cost
    return [s for s in specs if include is None or s.name in include]
