"""The operator console in real headless Chromium (Debian's ``chromium`` + ``chromium-driver``,
driven by Selenium; no browser download), against ``crowdquake serve`` and a real worker.

One operator session, in order: log in; watch the event appear in the live list (no reload)
while the 2014 South Napa scenario streams in; open it; the map and the moveout plot render
(screenshots saved under out/test-artefacts/); confirm it; find the action in the audit log;
switch the region's alerts off and see the rest of the stream add revisions but no alert; then a
viewer gets 403 on every action URL. Runs on PostgreSQL + Redis when the test URLs are set (CI),
else on SQLite with the embedded broker.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crowdquake.cli.common import free_port, stop, wait_ready
from crowdquake.cli.scenarios import earthquake_scenario
from crowdquake.services.operators import create_operator
from crowdquake.services.replay import ReplayData, load_at_once, shifted
from crowdquake.services.triggers import TriggerInput, ingest_triggers
from crowdquake.storage import migrate, models
from crowdquake.storage.session import make_engine, make_session_factory
from tests.functional.live import PG_URL, REDIS_URL, flush_redis, fresh_pg_database, start

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(900)]

PASSWORD = "browser test password"
ARTEFACTS = Path(os.environ.get("CROWDQUAKE_TEST_ARTEFACTS", "out/test-artefacts"))
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# The stream pauses after this many seconds of triggers, until the test has switched the
# region's alerts off; the rest then arrives (late, as after a network hiccup).
FIRST_PART_S = 9.0


class Stream(threading.Thread):
    """Writes the scenario's triggers as their (shifted) times come, like phones posting."""

    def __init__(self, engine: Any, scenario: Any, data: ReplayData) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        truth = datetime.fromtimestamp(scenario.quake.origin_time_s, UTC)
        # Phones register and send their heartbeats first (that takes a while), then the
        # earthquake starts 2 s after the stream does.
        now = datetime.now(UTC)
        with make_session_factory(engine)() as session:
            self.devices = load_at_once(
                session, ReplayData([], shifted(data, now - truth).heartbeats), now
            )
            session.commit()
        self.origin = datetime.now(UTC) + timedelta(seconds=2)
        self.data = shifted(data, self.origin - truth)
        self.resume = threading.Event()
        self.paused = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _run(self) -> None:
        devices = self.devices
        with make_session_factory(self.engine)() as session:
            pending = sorted(self.data.triggers, key=lambda t: t.time)
            while pending:
                now = datetime.now(UTC)
                if not self.resume.is_set() and now - self.origin > timedelta(seconds=FIRST_PART_S):
                    self.paused.set()
                    self.resume.wait(120)
                    now = datetime.now(UTC)
                # After the pause everything left arrives at once (the scenario's noise
                # triggers run on for minutes after the earthquake).
                due = [t for t in pending if t.time <= now or self.resume.is_set()]
                pending = pending[len(due) :]
                for t in due:
                    ingest_triggers(
                        session,
                        devices[t.device_id],
                        [
                            TriggerInput(
                                id=uuid.uuid4(),
                                device_time=t.time,
                                clock_offset_s=0.0,
                                lat_deg=t.lat_deg,
                                lon_deg=t.lon_deg,
                                accuracy_m=10.0,
                                pga_ms2=t.pga_ms2,
                                score=t.score,
                                model_version="napa-sim",
                                phase_hint=None,
                            )
                        ],
                        now=now,
                        cell_resolution=7,
                    )
                session.commit()
                self.sent += len(due)
                time.sleep(0.2)


@pytest.fixture(scope="module", params=["postgresql+redis" if PG_URL and REDIS_URL else "embedded"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("console")
    if request.param == "postgresql+redis":
        database_url = fresh_pg_database(PG_URL, "console")
        broker = backend = REDIS_URL
        flush_redis(REDIS_URL)
    else:
        database_url = f"sqlite:///{tmp / 'db.sqlite3'}"
        broker = f"sqla+sqlite:///{tmp / 'broker.sqlite3'}"
        backend = f"db+sqlite:///{tmp / 'results.sqlite3'}"
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        now = datetime.now(UTC)
        create_operator(
            session, username="ada", password=PASSWORD, role="admin", now=now, actor="t"
        )
        create_operator(
            session, username="vic", password=PASSWORD, role="viewer", now=now, actor="t"
        )
        session.commit()
    env = {
        "CROWDQUAKE_DATABASE_URL": database_url,
        "CROWDQUAKE_BROKER_URL": broker,
        "CROWDQUAKE_RESULT_BACKEND": backend,
        "CROWDQUAKE_INSTANCE_DIR": str(tmp),
        "CROWDQUAKE_WEB_WORKERS": "1",
        "CROWDQUAKE_WEB_THREADS": "4",
    }
    port = free_port()
    web = start(["serve", "--bind", f"127.0.0.1:{port}"], env, tmp / "web.log")
    worker = start(["worker", "--pool", "solo", "--beat"], env, tmp / "worker.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}", timeout_s=60)
        yield {"base": f"http://127.0.0.1:{port}", "engine": engine, "tmp": tmp}
    finally:
        stop(worker)
        stop(web)
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Debian's browser and driver, never a download: selenium-manager stays offline.
    os.environ["SE_OFFLINE"] = "true"
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    assert not missing, f"{missing} missing: `make install` installs chromium and chromium-driver"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1500",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(driver: Any, what: str, condition: Any, timeout_s: float = 60) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.25).until(condition, message=what)


def _login(driver: Any, base: str, username: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/console/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    _wait(driver, "logged in", lambda d: d.find_elements(By.CSS_SELECTOR, "form.who"))


def _click_link(driver: Any, text: str) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        driver.find_element(By.LINK_TEXT, text).click()
    except StaleElementReferenceException:
        return False
    return True


def _alerts_and_revisions(engine: Any, public_id: str) -> tuple[int, int]:
    with engine.connect() as conn:
        event_id = conn.scalar(select(models.Event.id).where(models.Event.public_id == public_id))
        alerts = conn.scalar(
            select(func.count()).select_from(models.Alert).where(models.Alert.event_id == event_id)
        )
        revisions = conn.scalar(
            select(func.count())
            .select_from(models.EventRevision)
            .where(models.EventRevision.event_id == event_id)
        )
    return int(alerts or 0), int(revisions or 0)


def test_operator_session_in_chromium(stack: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base, engine, driver = stack["base"], stack["engine"], browser
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    _login(driver, base, "ada")
    assert driver.find_elements(By.CSS_SELECTOR, "#events-body tr.empty")
    driver.execute_script("window.cqNoReload = 42;")

    sc, data = earthquake_scenario("Napa", penetration=0.0002, seed=3)
    stream = Stream(engine, sc, data)
    stream.start()

    # The event appears in the live list without a reload.
    # (The list is rebuilt at every poll, so elements are looked up in one script call.)
    first_row = (
        "const r = document.querySelector('#events-body tr[data-id]'); return r && r.dataset.id;"
    )
    public_id = _wait(
        driver, "the event in the live list", lambda d: d.execute_script(first_row), 90
    )
    assert driver.execute_script("return window.cqNoReload;") == 42
    driver.save_screenshot(str(ARTEFACTS / "console-events.png"))

    # Its page: map with triggers and the moveout plot.
    _wait(driver, "the event link followed", lambda d: _click_link(d, public_id), 10)
    _wait(
        driver,
        "map drawn",
        lambda d: d.find_element(By.ID, "event-map").get_attribute("data-ready") == "1",
    )
    _wait(
        driver,
        "moveout drawn",
        lambda d: d.find_element(By.ID, "moveout").get_attribute("data-ready") == "1",
    )
    _wait(
        driver,
        "base map",
        lambda d: (
            d.find_element(By.ID, "event-map").get_attribute("data-basemap") == "natural-earth"
        ),
    )
    n_map = int(driver.find_element(By.ID, "event-map").get_attribute("data-triggers"))
    markers = driver.find_elements(By.CSS_SELECTOR, "#event-map path.trigger-marker")
    assert n_map >= 5 and len(markers) == n_map
    assert driver.find_elements(By.CSS_SELECTOR, "#event-map .epicentre")
    assert int(driver.find_element(By.ID, "moveout").get_attribute("data-points")) == n_map
    assert driver.find_element(By.ID, "moveout").size["height"] > 200
    # The map, the charts and the tables come from one read (the event is still growing while
    # the page loads; a newer revision only offers a reload).
    assert len(driver.find_elements(By.CSS_SELECTOR, "#trigger-table tbody tr")) == n_map
    _wait(
        driver,
        "revisions chart drawn",
        lambda d: d.find_element(By.ID, "revisions-chart").get_attribute("data-ready") == "1",
    )
    n_revisions = len(driver.find_elements(By.CSS_SELECTOR, "#revision-table tbody tr"))
    assert n_revisions >= 1
    assert int(driver.find_element(By.ID, "revisions-chart").get_attribute("data-revisions")) == (
        n_revisions
    )
    driver.save_screenshot(str(ARTEFACTS / "console-event.png"))
    region = driver.find_element(By.CSS_SELECTOR, ".summary code").text

    # Confirm it, and find the action in the audit log.
    driver.find_element(By.ID, "confirm-note").send_keys("checked the moveout")
    driver.find_element(By.ID, "confirm-btn").click()
    _wait(driver, "confirmed", lambda d: d.find_element(By.ID, "event-status").text == "confirmed")
    driver.get(base + "/console/audit")
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#audit-table tbody tr")]
    assert any(
        "event.confirm" in r and public_id in r and "ada" in r and "checked the moveout" in r
        for r in rows
    )

    # Kill switch: the rest of the stream adds revisions but no alert.
    _wait(driver, "stream paused", lambda d: stream.paused.is_set(), 60)
    driver.get(base + "/console/operations")
    driver.find_element(By.ID, "switch-region").send_keys(region)
    driver.find_element(By.ID, "switch-reason").send_keys("browser test")
    driver.find_element(By.ID, "alerts-off-btn").click()
    _wait(driver, "switch listed", lambda d: region in d.find_element(By.ID, "switches").text)
    time.sleep(1.5)  # a run already under way when the switch flipped may still finish
    alerts_before, revisions_before = _alerts_and_revisions(engine, public_id)
    assert alerts_before > 0, "the confirmed M6 alerted before the switch"
    stream.resume.set()
    stream.join(120)
    assert stream.error is None and not stream.is_alive()
    _wait(
        driver,
        "new revisions after the switch",
        lambda d: _alerts_and_revisions(engine, public_id)[1] > revisions_before,
        90,
    )
    time.sleep(3)
    alerts_after, revisions_after = _alerts_and_revisions(engine, public_id)
    assert revisions_after > revisions_before and alerts_after == alerts_before
    driver.get(f"{base}/console/events/{public_id}")
    _wait(
        driver,
        "map redrawn",
        lambda d: d.find_element(By.ID, "event-map").get_attribute("data-ready") == "1",
    )
    driver.save_screenshot(str(ARTEFACTS / "console-event-after-switch.png"))
    driver.get(base + "/console/network")
    _wait(
        driver,
        "network map",
        lambda d: d.find_element(By.ID, "network-map").get_attribute("data-ready") == "1",
    )
    _wait(
        driver,
        "hourly chart",
        lambda d: d.find_element(By.ID, "hourly-chart").get_attribute("data-ready") == "1",
    )
    assert int(driver.find_element(By.ID, "network-map").get_attribute("data-cells")) > 10
    driver.save_screenshot(str(ARTEFACTS / "console-network.png"))

    # A viewer: no action forms, and 403 on every action URL even with a valid CSRF token.
    driver.find_element(By.CSS_SELECTOR, "form.who button").click()
    _login(driver, base, "vic")
    driver.get(f"{base}/console/events/{public_id}")
    assert not driver.find_elements(By.ID, "confirm-btn")
    device_id = str(uuid.uuid4())
    urls = [
        f"/console/events/{public_id}/{verb}"
        for verb in ("confirm", "reject", "release", "merge", "annotate")
    ]
    urls += [
        f"/console/devices/{device_id}/block",
        f"/console/devices/{device_id}/unblock",
        "/console/regions/alerts",
        "/console/deliveries/1/resend",
    ]
    statuses = driver.execute_async_script(
        """
        const [urls, region, done] = arguments;
        urls.region = region;
        const token = document.querySelector("input[name=csrf_token]").value;
        Promise.all(urls.map(u => fetch(u, {method: "POST", redirect: "manual",
            headers: {"Content-Type": "application/x-www-form-urlencoded"},
            body: new URLSearchParams(
                {csrf_token: token, note: "x", into: "cq", region: urls.region, alerts: "on"})
        }).then(r => r.status))).then(done);
        """,
        urls,
        region,
    )
    assert statuses == [403] * len(urls)
