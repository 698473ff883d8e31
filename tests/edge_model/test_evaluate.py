"""The evaluation harness runs end to end on a tiny budget with the runtime only."""

from __future__ import annotations

import numpy as np

from crowdquake.edge import EdgeModel
from edge_model.baseline import MyShakeBaseline
from edge_model.evaluate import run
from edge_model.metrics import threshold_at_fpr


def test_tiny_evaluation_report() -> None:
    report = run(EdgeModel.load(), MyShakeBaseline.load(), n_events=25, n_segments=2, hours=0.1)
    synth = report["synthetic_test"]
    for who in ("cnn", "baseline"):
        part = synth[who]
        assert 0.0 <= part["fpr_human"] <= 1.0
        assert set(part["fpr_by_activity"]) >= {"walking", "door_slam", "drop", "typing"}
        assert "0.01-0.05" in part["recall_by_pga_g"]
        motion = report["pipeline_human_motion"][who]
        assert motion["hours"] >= 0.1 and motion["upper95_per_hour"] > 0
    assert "fema_detection_rate" in report["real_pipeline"]["cnn"]
    assert report["real_test"]["n_quake_windows"] == 100


def test_threshold_at_fpr_is_respected_on_scores() -> None:
    rng = np.random.default_rng(0)
    neg = rng.random(2000)
    assert np.mean(neg >= threshold_at_fpr(neg, 0.005)) <= 0.005
