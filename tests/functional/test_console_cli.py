"""The console's actions from the command line, on a migrated SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from crowdquake.cli import main
from crowdquake.services.devices import register_device
from crowdquake.storage import migrate
from crowdquake.storage.models import AuditLog, Device, Event, RegionAlertSwitch
from crowdquake.storage.session import make_engine, make_session_factory
from tests.unit.services.test_review import REGION, make_event


def test_cli_actions_are_applied_and_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    migrate.upgrade(url)
    monkeypatch.setenv("CROWDQUAKE_DATABASE_URL", url)
    monkeypatch.setenv("CROWDQUAKE_INSTANCE_DIR", str(tmp_path))
    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    with factory() as session:
        event = make_event(session, now, status="held")
        device = register_device(
            session, platform="ios", app_version="1", model_version="m", now=now
        )
        session.commit()
        public_id, device_id = event.public_id, str(device.device_id)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    run("operators", "create", "ada", "--role", "admin", "--password", "long enough pw")
    assert "ada" in run("operators", "list")
    run("operators", "disable", "ada")
    assert "disabled" in run("operators", "list")
    assert "confirmed, alerts" in run("events", "release", public_id, "--note", "real")
    assert "rejected" in run("events", "reject", public_id, "--actor", "night-shift")
    run("regions", "alerts-off", REGION, "--reason", "drill")
    run("devices", "block", device_id)
    bad = runner.invoke(main, ["regions", "alerts-off", "nope"])
    assert bad.exit_code == 1 and "H3 resolution-2" in bad.output
    missing = runner.invoke(main, ["events", "confirm", "cq-nope"])
    assert missing.exit_code == 1 and "no event" in missing.output

    with factory() as session:
        assert session.scalar(select(Event.status)) == "rejected"
        switch = session.get(RegionAlertSwitch, REGION)
        assert switch is not None and not switch.alerts_enabled and switch.reason == "drill"
        assert session.scalar(select(Device.status)) == "blocked"
        actions = session.execute(
            select(AuditLog.actor, AuditLog.action).order_by(AuditLog.id)
        ).all()
    engine.dispose()
    assert [a for _, a in actions] == [
        "operator.create",
        "operator.disable",
        "event.release",
        "event.reject",
        "region.alerts_off",
        "device.block",
    ]
    assert actions[3][0] == "night-shift" and actions[0][0].startswith("cli:")
