"""``crowdquake worker --beat`` on a fresh embedded instance (no CROWDQUAKE_* variables: SQLite
database, SQLite broker), started again and again: it must always reach ready, process a
trigger, and end within 10 s of SIGTERM. A child that dies takes the whole command down with a
non-zero exit code, so a dead pipeline is never silent.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crowdquake.services import health
from crowdquake.services.devices import register_device
from crowdquake.services.triggers import TriggerInput, ingest_triggers
from crowdquake.storage import migrate, models
from crowdquake.storage.session import make_engine, make_session_factory
from tests.functional.live import wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow]

STARTS = 20
SIGTERM_BOUND_S = 10.0


def _fresh_instance(root: Path) -> tuple[Path, str]:
    root.mkdir(parents=True)
    url = f"sqlite:///{root / 'instance' / 'crowdquake.sqlite3'}"
    (root / "instance").mkdir()
    migrate.upgrade(url)
    return root, url


def _start_worker(cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROWDQUAKE_")}
    with (cwd / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "crowdquake.cli", "worker", "--beat", "--concurrency", "1"],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _add_trigger(factory: Any) -> uuid.UUID:
    now = datetime.now(UTC)
    trigger_id = uuid.uuid4()
    with factory() as session:
        device = register_device(
            session, platform="android", app_version="t", model_version="t", now=now
        )
        ingest_triggers(
            session,
            device.device_id,
            [
                TriggerInput(
                    id=trigger_id,
                    device_time=now - timedelta(seconds=1),
                    clock_offset_s=0.0,
                    lat_deg=38.2,
                    lon_deg=-122.3,
                    accuracy_m=20.0,
                    pga_ms2=0.3,
                    score=0.9,
                    model_version="t",
                    phase_hint=None,
                )
            ],
            now=now,
            cell_resolution=7,
        )
        session.commit()
    return trigger_id


def _processed(
    factory: Any, trigger_id: uuid.UUID, process: subprocess.Popen[bytes], log: Path
) -> bool:
    assert process.poll() is None, f"worker exited: {log.read_text()[-3000:]}"
    with factory() as session:
        status = session.scalar(
            select(models.Trigger.status).where(models.Trigger.id == trigger_id)
        )
    return status != "new"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.timeout(1800)  # 20 cold starts of three Python processes each
def _detection_running(factory: Any) -> bool:
    with factory() as session:
        return health.detection_status(session, datetime.now(UTC)).running


def test_fresh_embedded_worker_starts_processes_and_stops_every_time(tmp_path: Path) -> None:
    stop_times: list[float] = []
    for attempt in range(STARTS):
        root, url = _fresh_instance(tmp_path / f"start{attempt}")
        engine = make_engine(url)
        factory = make_session_factory(engine)
        process = _start_worker(root)
        log = root / "worker.log"
        try:
            trigger_id = _add_trigger(factory)
            wait_for(
                partial(_processed, factory, trigger_id, process, log),
                90,
                f"start {attempt}: the trigger to be processed",
                0.25,
            )
            # The pipeline heartbeat is stamped every 5 s by beat: wait for the first one.
            wait_for(partial(_detection_running, factory), 30, f"start {attempt}: heartbeat", 0.25)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
            stop_times.append(time.monotonic() - started)
        finally:
            if process.poll() is None:
                _kill_group(process)
            engine.dispose()
        text = log.read_text()
        assert code == 0, text[-3000:]
        assert stop_times[-1] <= SIGTERM_BOUND_S, (stop_times, text[-3000:])
        for bad in ("UNIQUE constraint", "Unrecoverable error", "already exists", "Traceback"):
            assert bad not in text, text[-3000:]
    print(f"SIGTERM to exit: max {max(stop_times):.1f} s over {STARTS} starts")


@pytest.mark.parametrize("child", ["worker", "beat"])
def test_a_dead_child_stops_the_command_with_an_error(tmp_path: Path, child: str) -> None:
    root, url = _fresh_instance(tmp_path / "inst")
    engine = make_engine(url)
    factory = make_session_factory(engine)
    process = _start_worker(root)
    try:
        trigger_id = _add_trigger(factory)
        log = root / "worker.log"
        wait_for(
            partial(_processed, factory, trigger_id, process, log),
            90,
            "the trigger to be processed",
            0.25,
        )
        marker = "crowdquake.cli worker --no-beat" if child == "worker" else "crowdquake.cli beat"
        target = next(
            pid
            for pid in _group_pids(process.pid)
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        )
        os.kill(target, signal.SIGKILL)
        code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            _kill_group(process)
        engine.dispose()
    assert code != 0
    text = (root / "worker.log").read_text()
    assert f"{child} exited" in text and "detection is NOT running" in text
    # Nothing of the other child is left behind.
    time.sleep(0.5)
    assert not [pid for pid in _all_pids() if str(root) in _cwd(pid)]


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def _group_pids(supervisor: int) -> list[int]:
    """Processes whose parent is the supervisor (its children lead their own sessions)."""
    found = []
    for pid in _all_pids():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == supervisor:
            found.append(pid)
    return found
