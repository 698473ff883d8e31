"""Make the source-tree ``edge_model`` folder importable (it is not an installed package)."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("edge_model") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
