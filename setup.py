"""Build hook (all metadata is in pyproject.toml): the wheel ships ``migrations/`` as
``crowdquake/migrations/`` so that an installed package can migrate its database
(``crowdquake.storage.migrate`` looks there when not run from a source checkout)."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithMigrations(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's migrations/ directly
        shutil.copytree(
            ROOT / "migrations",
            Path(self.build_lib) / "crowdquake" / "migrations",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            dirs_exist_ok=True,
        )


setup(cmdclass={"build_py": BuildPyWithMigrations})
