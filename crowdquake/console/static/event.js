/* Event page: map (triggers by time, epicentre and uncertainty, alert cells), moveout plot,
   magnitude and location across revisions. Data: the JSON the page embeds (the console's event
   JSON at render time). */
"use strict";
(function () {
  var mapEl = document.getElementById("event-map");
  if (!mapEl) { return; }
  var LEVEL_STYLE = {
    be_aware: { color: "#d97706", fillColor: "#f59e0b", fillOpacity: 0.18, weight: 0.6 },
    take_action: { color: "#b91c1c", fillColor: "#dc2626", fillOpacity: 0.3, weight: 0.8 },
  };

  function km(lat1, lon1, lat2, lon2) {
    var r = Math.PI / 180, dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r;
    var a = Math.sin(dlat / 2) ** 2 + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(dlon / 2) ** 2;
    return 2 * 6371.0 * Math.asin(Math.sqrt(a));
  }

  function drawMap(e) {
    var map = CQ.baseMap(mapEl);
    var bounds = L.latLngBounds([]);
    var p = e.preferred;
    // Alert cells of the latest revision that has alerts, per level (take_action on top).
    var latest = {};
    e.alerts.forEach(function (a) { latest[a.level] = a; });
    var nCells = 0;
    ["be_aware", "take_action"].forEach(function (level) {
      var a = latest[level];
      if (!a) { return; }
      a.cells.forEach(function (c) {
        var poly = L.polygon(c.polygon, LEVEL_STYLE[level]).addTo(map);
        poly.bindTooltip(level.replace("_", " ") + ", predicted MMI " + Number(c.predicted_mmi).toFixed(1));
        poly.getElement && poly.getElement() && poly.getElement().classList.add("alert-cell", "lvl-" + level);
        nCells += 1;
      });
    });
    var ts = e.triggers.map(function (t) { return t.t_s; }).filter(function (v) { return v !== null; });
    var lo = ts.length ? Math.min.apply(null, ts) : 0, hi = ts.length ? Math.max.apply(null, ts) : 1;
    e.triggers.forEach(function (t) {
      var f = hi > lo ? (t.t_s - lo) / (hi - lo) : 0;
      var m = L.circleMarker([t.latitude, t.longitude], {
        radius: 5, color: "#222", weight: 0.6, fillColor: CQ.colour(f), fillOpacity: 0.95,
        className: "trigger-marker",
      }).addTo(map);
      m.bindTooltip(t.phase + " · " + (t.t_s === null ? "?" : t.t_s.toFixed(2)) + " s · residual " +
        t.residual_s.toFixed(2) + " s · trust " + t.device_trust.toFixed(2));
      bounds.extend([t.latitude, t.longitude]);
    });
    // The take-action outline again above the triggers, so dense triggers cannot hide it.
    if (latest.take_action) {
      latest.take_action.cells.forEach(function (c) {
        L.polygon(c.polygon, { fill: false, color: "#b91c1c", weight: 2, interactive: false }).addTo(map);
      });
    }
    // Epicentre track across revisions, then the preferred epicentre and its uncertainty.
    if (e.revisions.length > 1) {
      L.polyline(e.revisions.map(function (r) { return [r.latitude, r.longitude]; }),
        { color: "#555", weight: 1.5, dashArray: "2 4" }).addTo(map);
      e.revisions.forEach(function (r) {
        L.circleMarker([r.latitude, r.longitude], { radius: 2.5, color: "#555", fillOpacity: 1 })
          .bindTooltip("revision " + r.version).addTo(map);
      });
    }
    if (p) {
      if (p.horizontal_uncertainty_km) {
        L.circle([p.latitude, p.longitude], {
          radius: p.horizontal_uncertainty_km * 1000, color: "#111", weight: 1.5, dashArray: "5 4",
          fill: false, className: "uncertainty",
        }).addTo(map);
      }
      L.marker([p.latitude, p.longitude], {
        icon: L.divIcon({ className: "epicentre", html: "★", iconSize: [22, 22], iconAnchor: [11, 11] }),
        title: "epicentre", alt: "epicentre",
      }).addTo(map);
      bounds.extend([p.latitude, p.longitude]);
    }
    if (bounds.isValid()) { map.fitBounds(bounds.pad(0.25), { maxZoom: 11 }); }
    else { map.setView([0, 0], 2); }
    CQ.legend(map, "trigger time after origin", lo, hi, "s");
    mapEl.dataset.triggers = String(e.triggers.length);
    mapEl.dataset.alertCells = String(nCells);
    mapEl.dataset.ready = "1";
  }

  function drawMoveout(e) {
    var canvas = document.getElementById("moveout");
    var mo = e.moveout;
    if (!canvas || !mo.distance_km) { return; }
    function pts(phase) {
      return e.triggers.filter(function (t) { return t.phase === phase && t.t_s !== null; })
        .map(function (t) { return { x: t.distance_km, y: t.t_s }; });
    }
    function curve(ys) { return mo.distance_km.map(function (d, i) { return { x: d, y: ys[i] }; }); }
    var chart = new Chart(canvas, {
      type: "scatter",
      data: {
        datasets: [
          { label: "P triggers", data: pts("P"), backgroundColor: "#2563eb", pointRadius: 3.5 },
          { label: "S triggers", data: pts("S"), backgroundColor: "#dc2626", pointRadius: 3.5, pointStyle: "triangle" },
          { label: "P travel time", data: curve(mo.p_s), type: "line", borderColor: "#2563eb", borderWidth: 1.5, pointRadius: 0, showLine: true },
          { label: "S travel time", data: curve(mo.s_s), type: "line", borderColor: "#dc2626", borderWidth: 1.5, pointRadius: 0, showLine: true, borderDash: [6, 4] },
        ],
      },
      options: {
        animation: false, maintainAspectRatio: false,
        plugins: { title: { display: true, text: "Moveout" } },
        scales: {
          x: { type: "linear", title: { display: true, text: "epicentral distance (km)" }, min: 0 },
          y: { title: { display: true, text: "time after origin (s)" } },
        },
      },
    });
    canvas.dataset.points = String(chart.data.datasets[0].data.length + chart.data.datasets[1].data.length);
    canvas.dataset.ready = "1";
  }

  function drawRevisions(e) {
    var canvas = document.getElementById("revisions-chart");
    if (!canvas || !e.revisions.length) { return; }
    var last = e.revisions[e.revisions.length - 1];
    new Chart(canvas, {
      type: "line",
      data: {
        labels: e.revisions.map(function (r) { return "rev " + r.version; }),
        datasets: [
          { label: "magnitude", data: e.revisions.map(function (r) { return r.magnitude; }), borderColor: "#7c3aed", yAxisID: "y" },
          { label: "epicentre shift from final (km)", data: e.revisions.map(function (r) { return km(r.latitude, r.longitude, last.latitude, last.longitude); }), borderColor: "#0891b2", borderDash: [4, 3], yAxisID: "y1" },
        ],
      },
      options: {
        animation: false, maintainAspectRatio: false,
        plugins: { title: { display: true, text: "Across revisions" } },
        scales: {
          y: { title: { display: true, text: "magnitude" } },
          y1: { position: "right", title: { display: true, text: "km" }, grid: { drawOnChartArea: false }, min: 0 },
        },
      },
    });
    canvas.dataset.revisions = String(e.revisions.length);
    canvas.dataset.ready = "1";
  }

  // The page's own snapshot (the same read as the header and the tables), so the map and the
  // charts never show revisions the text does not; the feed is polled only to offer a reload.
  var shown = JSON.parse(document.getElementById("event-data").textContent);
  var shownVersion = shown.revisions.length ? shown.revisions[shown.revisions.length - 1].version : 0;
  drawMap(shown);
  drawMoveout(shown);
  drawRevisions(shown);

  var notice = document.getElementById("newer-revision");
  function checkNewer() {
    CQ.fetchJSON(mapEl.dataset.feed).then(function (e) {
      var latest = e.revisions.length ? e.revisions[e.revisions.length - 1].version : 0;
      if (latest > shownVersion || e.status !== shown.status) {
        notice.hidden = false;
        notice.dataset.latest = String(latest);
      }
    }).catch(function (err) { mapEl.dataset.error = String(err); });
  }
  setInterval(checkNewer, 5000);
})();
