"""FDSN event query parameters: aliases, defaults, strict 400s, the 413 read-ahead."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crowdquake.fdsn.params import BadRequest, parse_query


def parse(**args: str) -> object:
    return parse_query(
        {k: [v] for k, v in args.items()},
        catalog_id="crowdquake",
        contributor="crowdquake",
        magnitude_type="Mw",
        max_events=100,
    )


def test_aliases_and_defaults() -> None:
    q = parse(
        start="2026-11-25",
        end="2026-11-26T01:02:03.5",
        minlat="1",
        maxlat="2",
        minlon="3",
        maxlon="4",
        minmag="2.5",
        maxmag="7",
        magtype="mw",
    )
    f = q.catalog.filter  # type: ignore[attr-defined]
    assert f.start == datetime(2026, 11, 25, tzinfo=UTC)
    assert f.end == datetime(2026, 11, 26, 1, 2, 3, 500_000, tzinfo=UTC)
    assert (f.min_lat, f.max_lat, f.min_lon, f.max_lon) == (1, 2, 3, 4)
    assert (f.min_magnitude, f.max_magnitude) == (2.5, 7)
    assert f.centre is None
    assert q.format == "xml" and q.nodata == 204 and not q.empty  # type: ignore[attr-defined]
    assert q.catalog.limit == 101 and q.catalog.offset == 0  # type: ignore[attr-defined]


def test_radius_defaults_to_origin_centre_and_offset_is_one_based() -> None:
    q = parse(maxradius="10", offset="3", limit="20")
    assert q.catalog.filter.centre == (0.0, 0.0)  # type: ignore[attr-defined]
    assert q.catalog.offset == 2 and q.catalog.limit == 20  # type: ignore[attr-defined]


def test_filters_we_cannot_match_give_an_empty_answer() -> None:
    assert parse(catalog="ISC").empty  # type: ignore[attr-defined]
    assert parse(eventtype="explosion").empty  # type: ignore[attr-defined]
    assert parse(magnitudetype="ML").empty  # type: ignore[attr-defined]
    assert not parse(eventtype="earth*").empty  # type: ignore[attr-defined]


def test_withdrawn_events_only_by_id_or_update_time() -> None:
    assert "rejected" not in parse().catalog.filter.statuses  # type: ignore[attr-defined]
    assert "rejected" in parse(eventid="cq1").catalog.filter.statuses  # type: ignore[attr-defined]
    assert "rejected" in parse(updatedafter="2026-01-01").catalog.filter.statuses  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "args",
    [
        {"bogus": "1"},
        {"starttime": "25/11/2026"},
        {"starttime": "2026-13-01"},
        {"endtime": "2026-01-01", "starttime": "2026-02-01"},
        {"minlatitude": "-91"},
        {"maxlongitude": "nan"},
        {"minmag": "inf"},
        {"minradius": "5", "maxradius": "1"},
        {"limit": "0"},
        {"limit": "-1"},
        {"offset": "0"},
        {"orderby": "depth"},
        {"format": "csv"},
        {"nodata": "500"},
        {"includearrivals": "yes"},
        {"limit": "9" * 40},
    ],
)
def test_bad_values_are_400s_naming_the_parameter(args: dict[str, str]) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(**args)
    assert str(caught.value)


def test_repeated_parameter_is_refused() -> None:
    with pytest.raises(BadRequest, match="more than once"):
        parse_query(
            {"start": ["2026-01-01"], "starttime": ["2026-01-02"]},
            catalog_id="c",
            contributor="c",
            magnitude_type="Mw",
            max_events=10,
        )
