"""phone-sim against the real Flask app (in-process WSGI transport, SQLite fixtures)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from crowdquake.cli.phone_sim import ApiClient, make_phones, post_events, simulate_events
from crowdquake.edge import EdgeModel, PhonePipeline

create_app = pytest.importorskip("crowdquake.app").create_app


def test_phone_sim_posts_devices_heartbeats_and_triggers(settings, session_factory) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings, session_factory=session_factory)
    client = ApiClient("http://test")
    client.http = httpx.Client(base_url="http://test", transport=httpx.WSGITransport(app=app))
    rng = np.random.default_rng(4)
    pipe = PhonePipeline(EdgeModel.load())
    phones = make_phones(rng, 4, 37.9, -122.3, 5.0)
    events = simulate_events(
        rng,
        pipe,
        phones,
        duration_s=60.0,
        quake=(6.0, 37.9, -122.3, 45.0),
        human_fraction=0.0,
        heartbeat_s=30.0,
    )
    assert any(kind == "trigger" for _, _, kind, _ in events), "an M6 below the phones must trigger"
    # Not real time: the simulated minute is the one that just ended, so a trigger 45 s in is
    # in the past (the API rejects trigger times more than 30 s in the future).
    counts, errors = post_events(client, pipe, phones, events, realtime=False, waveforms=False)
    assert counts["registered"] == 4, errors
    assert counts["heartbeat"] == 8
    assert counts["trigger"] == sum(kind == "trigger" for _, _, kind, _ in events)
    assert errors == []
