"""The WADL of ``/fdsnws/event/1`` (fdsnws-event 1.2 section 3.3): what clients such as ObsPy read
to learn which query parameters the service supports."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

WADL_MIME = "application/xml"

# (name, WADL type, documentation); every alias is listed under its own name as well.
_PARAMS: tuple[tuple[str, str, str], ...] = (
    ("starttime", "xs:dateTime", "Events with an origin time at or after (UTC)"),
    ("endtime", "xs:dateTime", "Events with an origin time at or before (UTC)"),
    ("minlatitude", "xs:double", "Southern bound, degrees"),
    ("maxlatitude", "xs:double", "Northern bound, degrees"),
    ("minlongitude", "xs:double", "Western bound, degrees (may exceed maxlongitude: antimeridian)"),
    ("maxlongitude", "xs:double", "Eastern bound, degrees"),
    ("latitude", "xs:double", "Centre of the radius search, degrees"),
    ("longitude", "xs:double", "Centre of the radius search, degrees"),
    ("minradius", "xs:double", "Smallest great-circle distance from the centre, degrees"),
    ("maxradius", "xs:double", "Largest great-circle distance from the centre, degrees"),
    ("mindepth", "xs:double", "Shallowest depth, km"),
    ("maxdepth", "xs:double", "Deepest depth, km"),
    ("minmagnitude", "xs:double", "Smallest magnitude"),
    ("maxmagnitude", "xs:double", "Largest magnitude"),
    ("magnitudetype", "xs:string", "Magnitude type (we publish Mw)"),
    ("eventtype", "xs:string", "Event types, comma-separated (we publish earthquake)"),
    ("includeallorigins", "xs:boolean", "Every revision of an event as an origin"),
    ("includeallmagnitudes", "xs:boolean", "Every revision's magnitude"),
    ("includearrivals", "xs:boolean", "Picks and arrivals from the associated triggers"),
    ("eventid", "xs:string", "One event by its public id"),
    ("limit", "xs:int", "At most this many events"),
    ("offset", "xs:int", "Skip to this event (1 is the first)"),
    ("orderby", "xs:string", "time, time-asc, magnitude or magnitude-asc"),
    ("catalog", "xs:string", "Catalogue name (see /catalogs)"),
    ("contributor", "xs:string", "Contributor name (see /contributors)"),
    ("updatedafter", "xs:dateTime", "Events updated after this time (UTC)"),
    ("format", "xs:string", "xml (QuakeML 1.2), text or geojson"),
    ("nodata", "xs:int", "Status of an empty result: 204 or 404"),
    ("start", "xs:dateTime", "Alias of starttime"),
    ("end", "xs:dateTime", "Alias of endtime"),
    ("minlat", "xs:double", "Alias of minlatitude"),
    ("maxlat", "xs:double", "Alias of maxlatitude"),
    ("minlon", "xs:double", "Alias of minlongitude"),
    ("maxlon", "xs:double", "Alias of maxlongitude"),
    ("lat", "xs:double", "Alias of latitude"),
    ("lon", "xs:double", "Alias of longitude"),
    ("minmag", "xs:double", "Alias of minmagnitude"),
    ("maxmag", "xs:double", "Alias of maxmagnitude"),
    ("magtype", "xs:string", "Alias of magnitudetype"),
)
_OPTIONS = {
    "orderby": ("time", "time-asc", "magnitude", "magnitude-asc"),
    "format": ("xml", "text", "geojson"),
    "nodata": ("204", "404"),
    "includeallorigins": ("true", "false"),
    "includeallmagnitudes": ("true", "false"),
    "includearrivals": ("true", "false"),
}
_DEFAULTS = {
    "orderby": "time",
    "format": "xml",
    "nodata": "204",
    "offset": "1",
    "includeallorigins": "false",
    "includeallmagnitudes": "false",
    "includearrivals": "false",
}


def _param(name: str, kind: str, doc: str) -> str:
    default = _DEFAULTS.get(name)
    attrs = f'name="{name}" style="query" type="{kind}"'
    if default is not None:
        attrs += f' default="{default}"'
    options = "".join(f'<option value="{v}"/>' for v in _OPTIONS.get(name, ()))
    return f"<param {attrs}><doc title={quoteattr(doc)}/>{options}</param>"


def render_wadl(base_url: str) -> bytes:
    """The service description; ``base_url`` ends with ``/fdsnws/event/1/``."""
    params = "\n          ".join(_param(*p) for p in _PARAMS)
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<application xmlns="http://wadl.dev.java.net/2009/02"
             xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <resources base={quoteattr(base_url)}>
    <resource path="/">
      <method name="GET"><response><representation mediaType="text/html"/></response></method>
    </resource>
    <resource path="query">
      <method name="GET" id="query">
        <request>
          {params}
        </request>
        <response status="200">
          <representation mediaType="application/xml"/>
          <representation mediaType="text/plain"/>
          <representation mediaType="application/geo+json"/>
        </response>
        <response status="204 400 404 413 500 503">
          <representation mediaType="text/plain"/>
        </response>
      </method>
    </resource>
    <resource path="catalogs">
      <method name="GET"><response><representation mediaType="application/xml"/></response></method>
    </resource>
    <resource path="contributors">
      <method name="GET"><response><representation mediaType="application/xml"/></response></method>
    </resource>
    <resource path="version">
      <method name="GET"><response><representation mediaType="text/plain"/></response></method>
    </resource>
    <resource path="application.wadl">
      <method name="GET"><response><representation mediaType="application/xml"/></response></method>
    </resource>
  </resources>
</application>
"""
    return text.encode("utf-8")
