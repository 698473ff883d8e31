"""Active phones aggregated per H3 cell: the denominators of every statistic.

Built once per `set_active_devices` (vectorised + one h3 call per phone) so that an update
never loops over phones: neighbourhood counts are dictionary sums over <= 19 cells and
"cells within R km" is one k-d tree query over populated cell centres (Earth-centred xyz).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.spatial import cKDTree

from crowdquake.domain.cells import cell_center, cell_of, neighbourhood
from crowdquake.domain.geodesy import arc_to_chord_km, haversine_km, to_xyz_km
from crowdquake.domain.trust import DeviceProfile, group_ids
from crowdquake.domain.types import ActiveDevices, FloatArray

# Without profiles (offline studies, the baselines' world) every phone is fully trusted and
# is its own network: the trust defences then change nothing.
OPEN_PROFILE = DeviceProfile(1.0)
UNKNOWN_PROFILE = DeviceProfile(0.0)


class DeviceIndex:
    """Per-cell counts of active phones, their cell centres and a k-d tree over them.

    >>> import numpy as np
    >>> idx = DeviceIndex(ActiveDevices(("a", "b", "c"), np.array([37.87, 37.87, 38.5]),
    ...                                 np.array([-122.27, -122.27, -122.0])), resolution=6)
    >>> idx.n_devices, idx.n_cells
    (3, 2)
    >>> idx.neighbourhood_count(cell_of(37.87, -122.27, 6), 1)
    2
    """

    def __init__(
        self,
        devices: ActiveDevices,
        resolution: int,
        profiles: Mapping[str, DeviceProfile] | None = None,
    ) -> None:
        self.resolution = resolution
        self.profiles = profiles
        self.n_devices = len(devices)
        lat = np.asarray(devices.lat_deg, dtype=float)
        lon = np.asarray(devices.lon_deg, dtype=float)
        device_cells = [
            cell_of(a, b, resolution) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)
        ]
        self.cell_of_device: dict[str, str] = dict(
            zip(devices.device_ids, device_cells, strict=True)
        )
        cells, counts = (
            np.unique(np.array(device_cells, dtype=object), return_counts=True)
            if device_cells
            else (np.zeros(0, dtype=object), np.zeros(0, dtype=int))
        )
        self.cells: list[str] = [str(c) for c in cells]  # append-only (add_device)
        self.counts: FloatArray = counts.astype(float)
        self.cell_index: dict[str, int] = {c: i for i, c in enumerate(self.cells)}
        centres = [cell_center(c) for c in self.cells]
        self.cell_lat = np.array([c[0] for c in centres], dtype=float)
        self.cell_lon = np.array([c[1] for c in centres], dtype=float)
        self._tree = cKDTree(to_xyz_km(self.cell_lat, self.cell_lon)) if self.cells else None
        self._n_tree = len(self.cells)
        self._nbhd_cache: dict[tuple[str, int], list[str]] = {}
        # phones with a heartbeat: their cell index, trust and network group (trusted silence)
        self.heartbeat_ids = frozenset(devices.device_ids)
        self.dev_cell = np.array([self.cell_index[c] for c in device_cells], dtype=np.int64)
        prof = [self.profile(d) for d in devices.device_ids]
        self.dev_trust = np.array([pr.trust for pr in prof], dtype=float)
        self.dev_registered_s = np.array([pr.registered_s for pr in prof], dtype=float)
        networks = [pr.network for pr in prof]
        self.dev_group = group_ids(networks) if prof else np.zeros(0, dtype=np.int64)
        self.group_of_network = {
            n: int(g) for n, g in zip(networks, self.dev_group.tolist(), strict=True) if n
        }
        self.device_row = {d: i for i, d in enumerate(devices.device_ids)}
        self.trusted_counts: FloatArray = np.bincount(
            self.dev_cell, weights=self.dev_trust, minlength=len(self.cells)
        ).astype(float)

    def profile(self, device_id: str) -> DeviceProfile:
        """The device's profile; all phones are trusted when no profiles were given."""
        if self.profiles is None:
            return OPEN_PROFILE
        return self.profiles.get(device_id, UNKNOWN_PROFILE)

    def add_device(self, device_id: str, cell: str) -> bool:
        """Count a phone that showed it is alive (it triggered) but had no fresh heartbeat.

        Without this a replay with triggers only would have no denominators at all. Cells new
        to the index are kept outside the k-d tree and searched linearly (few in practice).
        Returns True if the phone was new.
        """
        if device_id in self.cell_of_device:
            return False
        self.cell_of_device[device_id] = cell
        self.n_devices += 1
        i = self.cell_index.get(cell)
        if i is None:
            self.cell_index[cell] = len(self.cells)
            self.cells.append(cell)
            lat, lon = cell_center(cell)
            self.cell_lat = np.append(self.cell_lat, lat)
            self.cell_lon = np.append(self.cell_lon, lon)
            self.counts = np.append(self.counts, 1.0)
            self.trusted_counts = np.append(self.trusted_counts, 0.0)
        else:
            self.counts[i] += 1.0
        return True

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    def count(self, cell: str) -> int:
        i = self.cell_index.get(cell)
        return 0 if i is None else int(self.counts[i])

    def neighbourhood(self, cell: str, k_rings: int) -> tuple[list[str], int]:
        """Cells of the k-ring disk (cached per cell) and their total active phones."""
        key = (cell, k_rings)
        cells = self._nbhd_cache.get(key)
        if cells is None:
            cells = neighbourhood(cell, k_rings)
            self._nbhd_cache[key] = cells
        return cells, sum(self.count(c) for c in cells)

    def neighbourhood_count(self, cell: str, k_rings: int) -> int:
        return self.neighbourhood(cell, k_rings)[1]

    def cells_within(self, lat_deg: float, lon_deg: float, radius_km: float) -> np.ndarray:
        """Indices of populated cells whose centre lies within ``radius_km`` (arc) of a point."""
        if radius_km <= 0.0:
            return np.zeros(0, dtype=int)
        idx: list[int] = []
        if self._tree is not None:
            centre = to_xyz_km(lat_deg, lon_deg)[0]
            idx = list(self._tree.query_ball_point(centre, arc_to_chord_km(radius_km)))
        if len(self.cells) > self._n_tree:
            extra = np.arange(self._n_tree, len(self.cells))
            d = haversine_km(lat_deg, lon_deg, self.cell_lat[extra], self.cell_lon[extra])
            idx.extend(extra[d <= radius_km].tolist())
        return np.asarray(sorted(idx), dtype=int)
