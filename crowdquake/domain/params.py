"""Every tunable of the detection science, with its unit and where its default comes from.

One frozen object is passed down to every domain function so that a scenario, a test or the
service can change a number in one place (``dataclasses.replace(params, window_s=5.0)``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DetectionParams:
    """Parameters of detection, association, location, magnitude and alerting.

    Sources: MyShake = Kong et al. (2016) Sci. Adv. 2(2) e1501055 and Kong et al. (2020)
    SRL 91(4) 2206-2215; BSSA14 = Boore et al. (2014) Earthq. Spectra 30(3) 1057-1085;
    WGRW12 = Worden et al. (2012) BSSA 102(1) 204-221; WC94 = Wells & Coppersmith (1994)
    BSSA 84(4) 974-1002.
    """

    # --- velocity model (MyShake uses a homogeneous crust with these speeds) ---
    vp_km_s: float = 6.1  # P speed, km/s (MyShake)
    vs_km_s: float = 3.55  # S speed, km/s (MyShake)
    default_depth_km: float = 8.0  # fixed hypocentral depth, km (typical crustal, MyShake 2020)
    free_depth: bool = False  # solve for depth too (needs many triggers near the source)

    # --- cells and denominators ---
    h3_resolution: int = 6  # statistic cells, avg edge 3.7 km (h3 docs); ~MyShake 10-km cells
    neighbourhood_k_rings: int = 2  # cell neighbourhood = grid_disk(cell, k): radius ~13 km

    # --- detection statistic ---
    window_s: float = 10.0  # counting window W, s
    background_rate_per_device_hour: float = 1.3  # prior /device/h, edge pipeline (MyShake: 0.2)
    background_prior_device_hours: float = 50.0  # strength of the Gamma prior, device-hours
    local_rate_lookback_s: float = 60.0  # window before W used to see a raised local noise rate
    # triggers one phone adds to that local rate at most (a broken phone cannot raise it alone)
    local_rate_max_per_device: int = 12
    target_false_events_per_region_year: float = 1.0  # before the wave-consistency check
    min_triggers: int = 4  # fewest wave-consistent triggers for a declaration
    declare_tolerance_s: float = 1.0  # fit tolerance of a declaration, s (2 sigma of 0.5 s picks)
    min_consistent_fraction: float = 0.7  # of the triggers in the fitted span that must fit
    declare_log10_alpha: float = -6.0  # fitted count vs the surrounding noise rate (see above)
    context_radius_km: float = 40.0  # where "before the wave" triggers measure the noise rate
    context_lookback_s: float = 5.0  # how far before t0 they are counted (short: onsets count)
    context_prior_device_hours: float = 2.0  # weak prior: a few device-hours of evidence win
    context_rate_quantile: float = 0.9  # Gamma-posterior quantile of the context noise rate
    site_radius_km: float = 0.3  # triggers closer than this are one site (one building)
    min_aperture_km: float = 1.0  # spread of consistent triggers: rejects one shaking building
    max_candidate_triggers: int = 30  # earliest triggers of a candidate used by the check
    max_grid_triggers: int = 20  # of which the grid-search start uses the earliest
    max_source_offset_km: float = 30.0  # farther from all its triggers: twice the evidence
    noise_hold_s: float = 10.0  # a neighbourhood rejected as noise is not re-checked this long

    # --- association ---
    tolerance_s: float = 1.5  # |t - (t0 + T)| accepted, s (pick scatter ~0.5 s, MyShake)
    tolerance_per_km_s: float = 0.05  # extra tolerance per km of location uncertainty, s/km
    tolerance_travel_fraction: float = 0.08  # + this share of the travel time (model error)
    max_association_distance_km: float = 600.0  # hard cap on source-phone distance
    event_expiry_s: float = 300.0  # an event without new triggers for this long is retired
    merge_distance_km: float = 25.0  # two events closer than this in space ...
    merge_time_s: float = 4.0  # ... and in origin time are one earthquake
    relocate_growth: float = 1.25  # relocate when the trigger count grew by this factor
    relocate_max_triggers: int = 400  # triggers used by one relocation (deterministic subsample)
    pool_retention_s: float = 180.0  # unassociated triggers kept this long, s

    # --- location ---
    grid_half_width_km: float = 40.0  # grid-search half width around the trigger centroid, km
    grid_nodes_per_side: int = 41  # grid-search resolution
    soft_l1_scale_s: float = 0.5  # f_scale of the soft_l1 loss, s (~ pick scatter)
    negative_evidence_weight: float = 1.0  # weight of silent-device penalty (0 disables)
    negative_evidence_radius_km: float = 60.0  # silent cells considered around the trial source

    # --- magnitude ---
    trigger_threshold_ms2: float = 0.0981  # phone trigger threshold, 0.01 g (MyShake)
    threshold_sigma_ln: float = 0.5  # phone-to-phone threshold scatter (MyShake: 0.005-0.02 g)
    phone_efficiency: float = 0.8  # fraction of would-be triggers that arrive (MyShake: 20% lost)
    phone_sigma_ln: float = 0.7  # ln-PGA scatter phone vs GMPE (BSSA14 phi ~0.5-0.7 + coupling)
    vs30_m_s: float = 760.0  # site condition for the GMPE (BSSA14 reference rock)
    magnitude_min: float = 2.0
    magnitude_max: float = 9.2
    magnitude_step: float = 0.02
    magnitude_prior_b_value: float = 1.0  # Gutenberg-Richter prior slope (0 = flat prior)
    # spread of the median between published GMPEs (epistemic, ln units): an amplitude offset
    # shared by every phone of an event, added to the stated magnitude uncertainty
    gmpe_model_sigma_ln: float = 0.3
    finite_fault_correction: bool = True  # Rjb from epicentral distance minus L/4 (WC94 length)
    p_to_s_amplitude_ratio: float = 0.33  # assumed P/S peak ratio at local distances: a phone
    # that triggered on P before its S wave arrived had a P peak above threshold (magnitude)
    pga_report_window_s: float = 5.0  # phones report the peak of this long after triggering
    pga_report_margin_s: float = 2.0  # S-P uncertainty: P reports this close to it are bounds
    silent_margin_s: float = 2.0  # a phone is silent if the S wave passed it this long ago
    # silent phones the P wave has passed (but not yet S) bound M too: their P peak stayed low
    p_wave_silence: bool = True
    # the published magnitude is marginalised over candidate epicentres (domain.sizing) when
    # the stated horizontal uncertainty is at least this (km), over a Gaussian this many times
    # wider than stated
    magnitude_location_min_km: float = 2.0
    magnitude_location_sd_factor: float = 2.0

    # --- alerting (Android style levels, WGRW12 intensity) ---
    alert_h3_resolution: int = 5  # alert cells, avg edge 9.9 km
    alert_be_aware_mmi: float = 3.0  # MMI 3-4 -> "be_aware"
    alert_take_action_mmi: float = 5.0  # MMI >= 5 -> "take_action"
    alert_max_radius_km: float = 800.0

    # --- trust: spoofed triggers (domain.trust, domain.evidence; docs/science.md) ---
    probation_days: float = 30.0  # a device younger than this has trust 0
    trust_full_age_days: float = 90.0  # ... and full age trust from this age on (linear ramp)
    trust_full_heartbeat_days: float = 14.0  # days with a heartbeat for full heartbeat trust
    network_cap: float = 1.0  # trust one network prefix may add to one event (one witness)
    burst_cap: float = 1.0  # trust one registration burst may add to one event
    min_trusted_evidence: float = 4.0  # capped trusted weight an automatic alert needs
    min_trigger_score: float = 0.5  # classifier score below this: no trusted evidence
    max_heartbeat_offset_km: float = 30.0  # trigger this far from its heartbeat cell: no trust
    silence_log10_p: float = -3.0  # trusted silence test: P(<= observed | expected) below this
    silence_min_fraction: float = 0.2  # ... and observed below this share of the expectation
    # corroboration (domain.corroboration): established phones must feel what new phones report
    established_trust: float = 0.5  # trust from which a device is established (60 days, 7 hb days)
    min_established_witnesses: int = 3  # established members (distinct networks) an alert needs
    corroboration_log10_p: float = -3.0  # Fisher test: fewer established members than this: held
    corroboration_bg_log10_p: float = -3.0  # established members above background: corroborated
    max_untrusted_share: float = 0.5  # ... else more members than this without trust: held
    # registration cohorts (domain.cohorts): a campaign's devices registered in a narrow window
    cohort_scan_widths_days: tuple[float, ...] = (1.0, 7.0, 30.0, 91.0)  # scanned windows
    cohort_log10_p: float = -6.0  # a window's member excess below this / tests: a cohort
    cohort_min_members: int = 3  # members a window needs to be a cohort
    witness_cohort_days: float = 7.0  # registration weeks ...
    min_witness_cohorts: int = 3  # ... the established members must span for an alert

    # --- bookkeeping ---
    confirm_min_triggers: int = 8  # Earthquake Network detections had >= 8 triggers
    method: str = "crowdquake-stream-v1"
