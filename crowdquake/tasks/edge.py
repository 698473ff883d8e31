"""Server-side scoring of uploaded waveforms with the shipped edge model."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from crowdquake.services.ports import SystemClock
from crowdquake.services.waveforms import score_pending
from crowdquake.tasks.base import runtime, unit_of_work


def _model(app: Any) -> Any:
    rt = runtime(app)
    if rt.edge_model is None:
        from crowdquake.edge import EdgeModel

        rt.edge_model = EdgeModel.load(rt.settings.edge_model_path or None)
    return rt.edge_model


@shared_task(bind=True, name="crowdquake.edge.score_waveforms", ignore_result=True, time_limit=120)
def score_waveforms(self: Any) -> int:
    """Score the waveforms not scored yet; their triggers get ``server_score``."""
    from crowdquake.edge import score_waveform

    model = _model(self.app)
    with unit_of_work(self.app) as session:
        return score_pending(
            session, lambda data, rate: score_waveform(model, data, rate), SystemClock().now()
        )
