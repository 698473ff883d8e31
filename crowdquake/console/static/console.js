/* Shared helpers of the crowdquake console: an offline base map and a colour scale. */
"use strict";
window.CQ = (function () {
  function fetchJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status + " for " + url); }
        return r.json();
      });
  }

  // Leaflet map on the bundled Natural Earth countries (world-atlas TopoJSON), or on the
  // tile server of the console_tile_url setting when one is configured.
  function baseMap(el) {
    var map = L.map(el, { preferCanvas: false, worldCopyJump: true, zoomSnap: 0.25 });
    var tileUrl = document.body.dataset.tileUrl;
    if (tileUrl) {
      L.tileLayer(tileUrl, { maxZoom: 18, attribution: "base map: configured tile server" }).addTo(map);
      el.dataset.basemap = "tiles";
    } else {
      map.attributionControl.addAttribution("Natural Earth 1:50m (world-atlas)");
      fetchJSON(document.body.dataset.vendor + "countries-50m.json").then(function (topo) {
        var land = topojson.feature(topo, topo.objects.countries);
        var layer = L.geoJSON(land, {
          interactive: false,
          style: { color: "#7d8590", weight: 0.8, fillColor: "#f3f1e7", fillOpacity: 1 },
        });
        layer.addTo(map);
        layer.bringToBack();
        el.dataset.basemap = "natural-earth";
      }).catch(function (err) { el.dataset.basemap = "failed: " + err; });
    }
    return map;
  }

  // Perceptually ordered colours (viridis stops) for t in [0, 1].
  var STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function colour(t) {
    t = Math.max(0, Math.min(1, isFinite(t) ? t : 0));
    var x = t * (STOPS.length - 1), i = Math.min(Math.floor(x), STOPS.length - 2), f = x - i;
    var c = STOPS[i].map(function (v, k) { return Math.round(v + f * (STOPS[i + 1][k] - v)); });
    return "rgb(" + c.join(",") + ")";
  }

  function legend(map, title, lo, hi, unit, digits) {
    digits = digits === undefined ? 1 : digits;
    var ctl = L.control({ position: "bottomright" });
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "legend");
      var h = document.createElement("div");
      h.textContent = title;
      var bar = document.createElement("div");
      bar.className = "legend-bar";
      var lab = document.createElement("div");
      lab.className = "legend-labels";
      var a = document.createElement("span"); a.textContent = lo.toFixed(digits) + " " + unit;
      var b = document.createElement("span"); b.textContent = hi.toFixed(digits) + " " + unit;
      lab.appendChild(a); lab.appendChild(b);
      div.appendChild(h); div.appendChild(bar); div.appendChild(lab);
      return div;
    };
    ctl.addTo(map);
  }

  return { fetchJSON: fetchJSON, baseMap: baseMap, colour: colour, legend: legend };
})();
