"""Waveform snippets uploaded with triggers, and their re-scoring with the edge model.

The server runs the very artefact the phones run (``crowdquake.edge``), so a trigger's
``server_score`` says what the shipped model thinks of the raw shaking, whatever app version or
tampering produced the phone's own ``score``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdquake.services.errors import NotFound
from crowdquake.storage.models import Trigger, Waveform

Scorer = Callable[[np.ndarray, float], float]


@dataclass(frozen=True, slots=True)
class StoredWaveform:
    trigger_id: uuid.UUID
    n_samples: int
    created: bool


def store_waveform(
    session: Session,
    device_id: uuid.UUID,
    trigger_id: uuid.UUID,
    samples_ms2: np.ndarray,
    *,
    sample_rate_hz: float,
    start_time: datetime,
    now: datetime,
) -> StoredWaveform:
    """Store (or replace: PUT semantics) the snippet of one of this device's triggers."""
    trigger = session.get(Trigger, trigger_id)
    if trigger is None or trigger.device_id != device_id:
        raise NotFound(f"no trigger {trigger_id}")
    data = np.ascontiguousarray(samples_ms2, dtype="<f4")
    row = session.get(Waveform, trigger_id)
    created = row is None
    if row is None:
        row = Waveform(trigger_id=trigger_id)
        session.add(row)
    row.sample_rate_hz = sample_rate_hz
    row.start_time = start_time
    row.n_channels = int(data.shape[0])
    row.n_samples = int(data.shape[1])
    row.data = data.tobytes()
    row.received_at = now
    row.model_score = None
    row.scored_at = None
    trigger.server_score = None
    session.flush()
    return StoredWaveform(trigger_id, row.n_samples, created)


def waveform_array(row: Waveform) -> np.ndarray:
    return np.frombuffer(row.data, dtype="<f4").reshape(row.n_channels, row.n_samples)


def score_pending(session: Session, scorer: Scorer, now: datetime, limit: int = 200) -> int:
    """Score unscored snippets with ``scorer(samples, rate)``; the score lands on the trigger."""
    rows = session.scalars(
        select(Waveform)
        .where(Waveform.scored_at.is_(None))
        .order_by(Waveform.received_at)
        .limit(limit)
    ).all()
    for row in rows:
        score = float(scorer(waveform_array(row).astype(np.float64), row.sample_rate_hz))
        row.model_score = score
        row.scored_at = now
        trigger = session.get(Trigger, row.trigger_id)
        if trigger is not None:
            trigger.server_score = score
    session.flush()
    return len(rows)
