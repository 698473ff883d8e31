"""Optional dependencies of the simulator (the ``[sim]`` extra) with a clear error when absent."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ImportError):
    """A simulator feature needs a package of an extra that is not installed."""


def import_extra(module: str, extra: str = "sim") -> ModuleType:
    """Import ``module``, or say which extra brings it: ``pip install 'crowdquake[sim]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module} is not installed: this command needs the [{extra}] extra "
            f"(pip install 'crowdquake[{extra}]'; `make install` includes it)"
        ) from exc
