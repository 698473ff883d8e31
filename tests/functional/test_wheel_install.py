"""The built wheel works outside a source checkout: fresh venv, migrate PostgreSQL, /readyz.

Builds the wheel from this checkout, installs it (core dependencies only, pinned by
requirements.lock) into a new virtualenv, and runs the installed ``crowdquake`` from a directory
that holds no source: the migrations and the default edge model must come from the package.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect

from crowdquake.cli.common import free_port
from crowdquake.storage.session import make_engine
from tests.functional.live import PG_URL, fresh_pg_database

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs CROWDQUAKE_TEST_DATABASE_URL"),
]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def test_wheel_installs_migrates_and_serves(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env = {k: v for k, v in env.items() if not k.startswith("CROWDQUAKE_")}
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        ROOT,
        env,
    )
    (wheel,) = dist.glob("crowdquake-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    _run([*pip, "-c", str(ROOT / "requirements.lock"), str(wheel)], tmp_path, env)

    run_dir = tmp_path / "elsewhere"  # no source tree here or above it
    run_dir.mkdir()
    cli = str(venv / "bin" / "crowdquake")
    url = fresh_pg_database(PG_URL, "wheel")
    env.update(
        CROWDQUAKE_DATABASE_URL=url,
        CROWDQUAKE_INSTANCE_DIR=str(run_dir / "instance"),
        CROWDQUAKE_LOG_LEVEL="WARNING",
    )
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import crowdquake; print(crowdquake.__file__)"],
        run_dir,
        env,
    )
    assert where.stdout.strip().startswith(str(venv)), where.stdout

    _run([cli, "db", "upgrade"], run_dir, env)
    engine = make_engine(url)
    try:
        assert {"triggers", "events", "alembic_version"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()

    # The default edge model is package data, loadable without a checkout.
    model = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from crowdquake.edge import EdgeModel; print(EdgeModel.load().sidecar.version)",
        ],
        run_dir,
        env,
    )
    assert model.stdout.strip()

    # The core install has no simulator extra: a simulator command says what to install.
    simulate = subprocess.run(  # noqa: PLW1510  (the exit status is the assertion)
        [cli, "simulate", "--scenario", "earthquake", "--out", str(run_dir / "sim")],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert simulate.returncode == 1, simulate.stderr
    assert "needs the [sim] extra" in simulate.stderr, simulate.stderr
    assert "Traceback" not in simulate.stderr

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [cli, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"],
        cwd=run_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        answer: httpx.Response | None = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert answer is not None and answer.status_code == 200, (
            answer.text if answer is not None else (tmp_path / "serve.log").read_text()[-3000:]
        )
        assert answer.json()["checks"]["database"] == "ok"
    finally:
        os.killpg(server.pid, 15)
        server.wait(20)
        log.close()
