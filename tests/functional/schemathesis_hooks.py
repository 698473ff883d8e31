"""schemathesis hooks (``SCHEMATHESIS_HOOKS``) for the rules JSON Schema cannot express.

Three rules of the published document are stated in words and vendor extensions, because no JSON
Schema keyword can say them: a time must lie in a window around the server's clock
(``x-acceptance-window``), a waveform's channels must all have the same length, and a page cursor
must be one the server issued (``x-server-issued``). For schema-valid (positive) cases only, this
moves each generated time into the window the document states, cuts the channels to a common
length (keeping the generated zone and every other field) and leaves server-issued values out.
Negative cases are left as generated. Nothing here reads the server's configuration: the window
comes from the document the fuzzer loaded.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Any

import schemathesis

SAFETY_S = 10.0  # room for the time between generating a case and the server reading it
_windows: dict[str, dict[str, float]] = {}
_server_issued: set[str] = set()


def _scan(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("x-server-issued") and node.get("in") == "query":
            _server_issued.add(node["name"])
        for key, value in node.items():
            if isinstance(value, dict) and "x-acceptance-window" in value:
                _windows[key] = value["x-acceptance-window"]
            _scan(value)
    elif isinstance(node, list):
        for item in node:
            _scan(item)


@schemathesis.hook
def after_load_schema(context: Any, schema: Any) -> None:
    _scan(schema.raw_schema)


def _into_window(value: Any, field: str, offset_s: float, seed: bytes) -> Any:
    """``value`` (a generated date-time) moved into the stated window, in its own zone. A string
    Python cannot parse is left alone: the server rejects it, and the fuzzer reports that."""
    window = _windows.get(field)
    if window is None or not isinstance(value, str):
        return value
    try:
        generated = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return value
    if generated.tzinfo is None:
        return value
    low = -float(window["max_age_s"]) + SAFETY_S
    high = float(window["max_future_s"]) - SAFETY_S
    fraction = zlib.crc32(seed) / 2**32
    ahead_s = low + fraction * (high - low)
    corrected = datetime.now(generated.tzinfo) + timedelta(seconds=ahead_s)
    return (corrected - timedelta(seconds=offset_s)).isoformat()


def _fix_trigger(item: Any) -> None:
    if isinstance(item, dict) and "trigger_time" in item:
        offset = item.get("clock_offset_s", 0.0)
        offset = offset if isinstance(offset, int | float) else 0.0
        seed = repr(sorted(item.items(), key=str)).encode()
        item["trigger_time"] = _into_window(item["trigger_time"], "trigger_time", offset, seed)


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if isinstance(case.query, dict):
        # An opaque value only the server issues (a page cursor) cannot come from a schema: a
        # positive case leaves it out, as a client starting at the first page does.
        for name in _server_issued & set(case.query):
            del case.query[name]
    if not isinstance(case.body, dict):
        return case
    body = case.body
    _fix_trigger(body)
    for item in body.get("triggers", []) if isinstance(body.get("triggers"), list) else []:
        _fix_trigger(item)
    if "start_time" in body:
        body["start_time"] = _into_window(
            body["start_time"], "start_time", 0.0, repr(sorted(body.keys())).encode()
        )
    data = body.get("data")
    if isinstance(data, list) and data and all(isinstance(c, list) for c in data):
        shortest = min(len(c) for c in data)
        body["data"] = [c[:shortest] for c in data]
    return case
