from __future__ import annotations

import dataclasses

import pytest

from crowdquake.config import SETTINGS_DOC, Settings


def test_embedded_defaults_live_under_instance_dir(tmp_path: object) -> None:
    settings = Settings.from_env({"CROWDQUAKE_INSTANCE_DIR": str(tmp_path)})
    assert settings.database_url.startswith("sqlite:///") and str(tmp_path) in settings.database_url
    assert settings.broker_url.startswith("sqla+sqlite:///")
    assert settings.is_sqlite and settings.embedded_broker


def test_environment_is_typed_and_validated() -> None:
    settings = Settings.from_env(
        {"CROWDQUAKE_WEB_WORKERS": "4", "CROWDQUAKE_MAX_FUTURE_SKEW_S": "2.5"}
    )
    assert settings.web_workers == 4 and settings.max_future_skew_s == 2.5
    with pytest.raises(ValueError, match="CROWDQUAKE_WEB_WORKERS"):
        Settings.from_env({"CROWDQUAKE_WEB_WORKERS": "many"})
    with pytest.raises(ValueError, match="positive"):
        Settings.from_env({"CROWDQUAKE_RATE_LIMIT_PER_MINUTE": "0"})


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().bind = "x"  # type: ignore[misc]


def test_every_setting_is_documented() -> None:
    assert set(SETTINGS_DOC) == {f.name for f in dataclasses.fields(Settings)}
