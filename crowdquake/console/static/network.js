/* Network page: active phones per cell on the map, counts per hour against day and night. */
"use strict";
(function () {
  var mapEl = document.getElementById("network-map");
  if (!mapEl) { return; }

  function drawMap(n) {
    var map = CQ.baseMap(mapEl);
    var bounds = L.latLngBounds([]);
    var most = Math.max.apply(null, [1].concat(n.cells.map(function (c) { return c.active; })));
    n.cells.forEach(function (c) {
      var f = Math.log(1 + c.active) / Math.log(1 + most);
      var poly = L.polygon(c.polygon, {
        color: "#1e3a8a", weight: 0.5, fillColor: CQ.colour(1 - f), fillOpacity: 0.75, className: "device-cell",
      }).addTo(map);
      poly.bindTooltip(c.active + " active phone" + (c.active === 1 ? "" : "s"));
      c.polygon.forEach(function (ll) { bounds.extend(ll); });
    });
    if (bounds.isValid()) { map.fitBounds(bounds.pad(0.1)); } else { map.setView([20, 0], 2); }
    CQ.legend(map, "active phones per cell (log scale)", most, 1, "", 0);
    mapEl.dataset.cells = String(n.cells.length);
    mapEl.dataset.ready = "1";
    return n.cells.length ? bounds.getCenter().lng : 0;
  }

  function drawHours(n, lon) {
    var canvas = document.getElementById("hourly-chart");
    if (!canvas) { return; }
    // Local solar hour at the network's mean longitude: night is 20:00 to 06:00.
    var night = n.hours.map(function (h) {
      var utc = new Date(h).getUTCHours();
      var local = ((utc + lon / 15) % 24 + 24) % 24;
      return local < 6 || local >= 20;
    });
    new Chart(canvas, {
      data: {
        labels: n.hours.map(function (h) { return h.slice(11, 13) + "h"; }),
        datasets: [
          { type: "bar", label: "triggers per hour", data: n.triggers_per_hour, yAxisID: "y",
            backgroundColor: night.map(function (x) { return x ? "#1e3a8a" : "#f59e0b"; }) },
          { type: "line", label: "phones last heard in that hour", data: n.heartbeats_per_hour, yAxisID: "y1",
            borderColor: "#059669", pointRadius: 2 },
        ],
      },
      options: {
        animation: false, maintainAspectRatio: false,
        plugins: { title: { display: true, text: "Last 24 h (UTC hours; bars: dark = local night, amber = day)" } },
        scales: {
          y: { beginAtZero: true, title: { display: true, text: "triggers" } },
          y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "phones" } },
        },
      },
    });
    canvas.dataset.ready = "1";
  }

  CQ.fetchJSON(mapEl.dataset.feed).then(function (n) {
    var lon = drawMap(n);
    drawHours(n, lon);
  }).catch(function (err) { mapEl.dataset.error = String(err); });
})();
