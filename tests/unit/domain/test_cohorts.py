"""Registration cohorts (``domain.cohorts``) and their use in ``domain.corroboration``: a
campaign's old devices are no independent witnesses; a real earthquake's members are."""

from __future__ import annotations

import numpy as np

from crowdquake.domain.cohorts import distinct_cohorts, in_windows, overrepresented_windows
from crowdquake.domain.corroboration import CohortScan, corroborate
from crowdquake.domain.devices import DeviceIndex
from crowdquake.domain.trust import DeviceProfile
from crowdquake.domain.types import ActiveDevices

DAY = 86400.0
NOW = 1.767e9
LAT0, LON0 = 34.05, -118.25
SCAN = CohortScan(
    widths_s=(1 * DAY, 7 * DAY, 30 * DAY, 91 * DAY),
    log10_alpha=-6.0,
    min_members=3,
    witness_width_s=7 * DAY,
)


def _city(n_honest: int, n_sleepers: int) -> tuple[DeviceIndex, list[str], list[str]]:
    """Honest established phones (ages exponential, mean 365 days, >= 90 days old) and
    120-day-old sleepers registered in 32 consecutive hours from 32 prefixes."""
    rng = np.random.default_rng(11)
    honest = [f"h{i}" for i in range(n_honest)]
    sleepers = [f"s{i}" for i in range(n_sleepers)]
    n = n_honest + n_sleepers
    lat = LAT0 + rng.uniform(-0.1, 0.1, n)
    lon = LON0 + rng.uniform(-0.1, 0.1, n)
    age = 90.0 + rng.exponential(365.0, n_honest)
    profiles = {
        d: DeviceProfile(1.0, f"net{i}", f"h{i}", NOW - a * DAY)
        for i, (d, a) in enumerate(zip(honest, age.tolist(), strict=True))
    }
    profiles |= {
        d: DeviceProfile(1.0, f"atk{i % 32}", f"b{i % 32}", NOW - 120 * DAY - (i % 32) * 3600.0)
        for i, d in enumerate(sleepers)
    }
    idx = DeviceIndex(ActiveDevices(tuple(honest + sleepers), lat, lon), 8, profiles)
    return idx, honest, sleepers


def _run(idx: DeviceIndex, members: list[str], cohorts: CohortScan | None = SCAN):  # type: ignore[no-untyped-def]
    return corroborate(
        idx,
        LAT0,
        LON0,
        members,
        [idx.profile(d).network for d in members],
        established_trust=0.5,
        background_per_device_s=1.3 / 3600.0,
        duration_s=30.0,
        cohorts=cohorts,
    )


def test_a_campaign_cohort_stands_out_among_honest_phones() -> None:
    rng = np.random.default_rng(2)
    reach = NOW - rng.exponential(365.0, 3000) * DAY
    campaign = NOW - 120 * DAY - np.arange(64) * 3600.0 / 2  # 64 devices in 32 hours
    windows = overrepresented_windows(
        campaign,
        np.concatenate([reach, campaign]),
        widths_s=SCAN.widths_s,
        log10_alpha=-6.0,
        min_members=3,
    )
    assert in_windows(campaign, windows).all()
    assert in_windows(reach, windows).mean() < 0.1  # the windows are around the campaign
    # ... while a random sample of the same phones is not a cohort
    sample = rng.choice(reach, 200, replace=False)
    assert not overrepresented_windows(
        sample, reach, widths_s=SCAN.widths_s, log10_alpha=-6.0, min_members=3
    )


def test_old_sleepers_are_demoted_and_the_silent_honest_phones_then_contradict_them() -> None:
    idx, honest, sleepers = _city(2000, 64)
    c = _run(idx, sleepers + honest[:1])  # every sleeper and one honest phone (noise)
    assert c.cohort_members[: len(sleepers)].all() and not c.cohort_members[-1]
    assert c.established_members == 1 and c.new_members == 64
    assert c.log10_p < -10.0 and c.witness_cohorts == 1
    # without the scan the sleepers are established phones far beyond the noise
    plain = _run(idx, sleepers + honest[:1], cohorts=None)
    assert plain.established_members == 65 and plain.log10_bg < -3.0


def test_without_honest_phones_the_members_span_too_few_registration_weeks() -> None:
    idx, _, sleepers = _city(0, 256)
    c = _run(idx, sleepers)
    assert not c.cohort_members.any()  # no reference: the scan cannot tell
    assert c.established_members == 256 and c.witness_cohorts <= 2


def test_a_real_earthquake_keeps_its_witnesses() -> None:
    idx, honest, _ = _city(2000, 0)
    rng = np.random.default_rng(4)
    members = [str(d) for d in rng.choice(honest, 300, replace=False)]  # random w.r.t. age
    c = _run(idx, members)
    assert not c.cohort_members.any()
    assert c.established_members == 300 and c.witness_cohorts > 100
    few = _run(idx, members[:4])  # the first four members: four registration weeks
    assert few.witness_cohorts == distinct_cohorts(
        np.array([idx.profile(d).registered_s for d in members[:4]]), 7 * DAY
    )
