"""Our ground motion, travel times and geodesy against independent implementations.

* BSSA14 PGA (median and sigma) against pyGMM (A. Kottke's implementations of published GMPEs;
  it has no BA08, our comparison-only relation);
* layered travel times against ObsPy's TauP (Crotwell, Owens & Ritsema 1999) in IASP91
  (Kennett & Engdahl 1991), whose crust is the layered model the simulator uses;
* distances and the local projection against GeographicLib's WGS84 geodesics (Karney 2013,
  J. Geodesy 87(1) 43-55).

The references are test-only dependencies (the ``dev`` extra); each test is skipped where its
package is missing, so the tests state where our simplifications stop being exact.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from crowdquake.domain.geodesy import LocalProjection, haversine_km
from crowdquake.domain.groundmotion import (
    G_MS2,
    bssa14_sigma_ln,
    ln_pga_median_ms2,
)
from crowdquake.domain.traveltime import LayeredModel

MAGNITUDES = (3.5, 5.0, 6.5, 8.0)  # both sides of the hinge (Mh = 5.5)
RJB_KM = (0.0, 10.0, 80.0, 200.0)
VS30_M_S = (760.0, 250.0)  # reference rock; soft soil (nonlinear site term)


def test_bssa14_median_and_sigma_match_pygmm() -> None:
    pygmm = pytest.importorskip("pygmm")
    for m in MAGNITUDES:
        for r in RJB_KM:
            for vs30 in VS30_M_S:
                scenario = pygmm.Scenario(
                    mag=m, dist_jb=r, v_s30=vs30, mechanism="U", region="global"
                )
                ref = pygmm.BooreStewartSeyhanAtkinson2014(scenario)
                ours_g = math.exp(float(ln_pga_median_ms2(m, r, vs30))) / G_MS2
                assert math.log(ours_g / ref.pga) == pytest.approx(0.0, abs=1e-3), (m, r, vs30)
                if r <= 80.0 and vs30 == 760.0:
                    # our sigma omits BSSA14's distance (> 80 km) and low-Vs30 terms of phi
                    tau, phi = bssa14_sigma_ln(m)
                    assert math.hypot(tau, phi) == pytest.approx(ref.ln_std_pga, abs=1e-3)


def test_layered_first_arrivals_match_taup_iasp91() -> None:
    taup = pytest.importorskip("obspy.taup")
    from obspy.geodetics import kilometer2degrees

    model = taup.TauPyModel("iasp91")
    # IASP91's crust (Kennett & Engdahl 1991): 0-20 km 5.8/3.36, 20-35 km 6.5/3.75 km/s,
    # mantle 8.04/4.47 km/s (TauP adds the mantle gradient and the Earth's curvature)
    ours = LayeredModel((0.0, 20.0, 35.0), (5.80, 6.50, 8.04), (3.36, 3.75, 4.47))
    for depth_km in (5.0, 25.0):  # in the upper and in the lower crust
        for dist_km in (5.0, 50.0, 150.0, 300.0):
            arrivals = model.get_travel_times(
                source_depth_in_km=depth_km,
                distance_in_degree=kilometer2degrees(dist_km, radius=6371.0),
                phase_list=["p", "P", "Pn", "Pg", "s", "S", "Sn", "Sg"],
            )
            for phase in ("P", "S"):
                ref = min(a.time for a in arrivals if a.name.upper().startswith(phase))
                got = float(ours.travel_time_s(dist_km, depth_km, phase))  # type: ignore[arg-type]
                # flat layers vs a sphere with a mantle gradient: exact near the source,
                # slower by up to 0.2 s (P) / 0.35 s (S) at 300 km
                tol_s = 0.02 + (0.0007 if phase == "P" else 0.0012) * dist_km
                assert got == pytest.approx(ref, abs=tol_s), (depth_km, dist_km, phase)


def test_haversine_and_local_projection_match_wgs84_geodesics() -> None:
    geodesic = pytest.importorskip("geographiclib.geodesic").Geodesic.WGS84
    rng = np.random.default_rng(3)
    for lat0 in (-33.45, 0.0, 37.77, 60.0):
        lon0 = float(rng.uniform(-180.0, 180.0))
        proj = LocalProjection(lat0, lon0)
        for dist_km in (1.0, 30.0, 150.0, 300.0):
            azi = float(rng.uniform(0.0, 360.0))
            line = geodesic.Direct(lat0, lon0, azi, dist_km * 1000.0)
            lat2, lon2 = line["lat2"], line["lon2"]
            d = float(haversine_km(lat0, lon0, lat2, lon2))
            # the sphere (IUGG mean radius) is within 0.6% of the ellipsoid's geodesic (worst
            # north-south at the equator: 6371.0 / 6335.4 km, the meridian's radius there)
            assert d == pytest.approx(dist_km, rel=6e-3), (lat0, dist_km)
            x, y = proj.forward(lat2, lon2)
            assert math.hypot(float(x), float(y)) == pytest.approx(dist_km, rel=6e-3)
            # azimuth from the centre: the sphere's vs the ellipsoid's, within 0.2 degree
            ours_azi = math.degrees(math.atan2(float(x), float(y))) % 360.0
            diff = (ours_azi - azi + 180.0) % 360.0 - 180.0
            assert abs(diff) < 0.2, (lat0, dist_km, ours_azi, azi)
