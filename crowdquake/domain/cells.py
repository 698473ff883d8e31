"""H3 cells: the statistic's cells, their neighbourhoods and the coarse region keys.

Uses the h3 v4 API (Uber H3, https://h3geo.org): ``latlng_to_cell``, ``grid_disk``,
``cell_to_latlng``. Region keys are coarse cells (resolution 2, avg edge ~182 km) that partition
association work across workers; a trigger near a region border is also handed to the
neighbouring regions whose overlap margin covers it, so no earthquake falls between two.
"""

from __future__ import annotations

import math

import h3

REGION_RESOLUTION = 2


def cell_of(lat_deg: float, lon_deg: float, resolution: int) -> str:
    """H3 cell (hex string) containing a point.

    >>> cell_of(37.8716, -122.2727, 6)
    '8628308afffffff'
    """
    return str(h3.latlng_to_cell(lat_deg, lon_deg, resolution))


def cell_center(cell: str) -> tuple[float, float]:
    """(lat_deg, lon_deg) of a cell centre."""
    lat, lon = h3.cell_to_latlng(cell)
    return float(lat), float(lon)


def neighbourhood(cell: str, k_rings: int) -> list[str]:
    """The cell and all cells within ``k_rings`` grid steps (1 + 3k(k+1) cells off pentagons).

    >>> len(neighbourhood(cell_of(37.87, -122.27, 6), 2))
    19
    """
    return sorted(str(c) for c in h3.grid_disk(cell, k_rings))


def region_key(lat_deg: float, lon_deg: float) -> str:
    """Coarse cell (H3 resolution 2) that owns a point's association work.

    >>> region_key(37.8716, -122.2727)
    '822837fffffffff'
    """
    return cell_of(lat_deg, lon_deg, REGION_RESOLUTION)


def region_keys_with_margin(lat_deg: float, lon_deg: float, margin_km: float) -> set[str]:
    """Regions whose interior or overlap margin (``margin_km``) covers the point.

    Always contains ``region_key(lat_deg, lon_deg)``. Computed by probing points on circles of
    radius up to ``margin_km`` (spacing well below the region size), so it is exact for the
    margins used in practice (< one region edge).

    >>> key = region_key(37.8716, -122.2727)
    >>> key in region_keys_with_margin(37.8716, -122.2727, 50.0)
    True
    """
    keys = {region_key(lat_deg, lon_deg)}
    if margin_km <= 0.0:
        return keys
    edge_km = h3.average_hexagon_edge_length(REGION_RESOLUTION, unit="km")
    # rings every ~quarter region edge, 16+ bearings per ring: no region corner is skipped
    n_rings = max(1, math.ceil(margin_km / (edge_km / 4.0)))
    lat0 = math.radians(lat_deg)
    lon0 = math.radians(lon_deg)
    radius_earth_km = 6371.0088
    for i in range(1, n_rings + 1):
        dist_km = margin_km * i / n_rings
        n_bearings = max(16, math.ceil(2.0 * math.pi * dist_km / (edge_km / 4.0)))
        delta = dist_km / radius_earth_km
        for j in range(n_bearings):
            bearing = 2.0 * math.pi * j / n_bearings
            # destination point on the sphere (Sinnott / Vincenty spherical form)
            lat = math.asin(
                math.sin(lat0) * math.cos(delta)
                + math.cos(lat0) * math.sin(delta) * math.cos(bearing)
            )
            lon = lon0 + math.atan2(
                math.sin(bearing) * math.sin(delta) * math.cos(lat0),
                math.cos(delta) - math.sin(lat0) * math.sin(lat),
            )
            lon_deg_wrapped = (math.degrees(lon) + 180.0) % 360.0 - 180.0
            keys.add(region_key(math.degrees(lat), lon_deg_wrapped))
    return keys
