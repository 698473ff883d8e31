/* Live events list: polls the console's JSON feed every 2 s with the page's filters. */
"use strict";
(function () {
  var table = document.getElementById("events-table");
  var body = document.getElementById("events-body");
  var state = document.getElementById("live-state");
  if (!table || !body) { return; }
  var known = {};
  Array.prototype.forEach.call(body.querySelectorAll("tr[data-id]"), function (tr) {
    known[tr.dataset.id] = tr.dataset.sig || "";
  });

  function fmt(v, digits) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits); }
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function row(ev) {
    var tr = document.createElement("tr");
    tr.dataset.id = ev.public_id;
    tr.className = "st-" + ev.status;
    var sig = [ev.status, ev.revision, ev.n_alerts].join("/");
    tr.dataset.sig = sig;
    var td = cell(tr, "");
    var a = document.createElement("a");
    a.href = table.dataset.eventBase + encodeURIComponent(ev.public_id);
    a.textContent = ev.public_id;
    td.appendChild(a);
    var st = cell(tr, "");
    var badge = document.createElement("span");
    badge.className = "badge st-" + ev.status;
    badge.textContent = ev.status;
    st.appendChild(badge);
    cell(tr, (ev.origin_time || "").slice(0, 22));
    cell(tr, fmt(ev.magnitude, 1), "num");
    cell(tr, fmt(ev.latitude, 3), "num");
    cell(tr, fmt(ev.longitude, 3), "num");
    cell(tr, fmt(ev.depth_km, 1), "num");
    cell(tr, String(ev.n_triggers), "num");
    cell(tr, String(ev.revision), "num");
    cell(tr, String(ev.n_alerts), "num");
    var rk = cell(tr, "");
    var code = document.createElement("code");
    code.textContent = ev.region_key;
    rk.appendChild(code);
    cell(tr, (ev.updated_at || "").slice(11, 19));
    if (!(ev.public_id in known)) { tr.classList.add("new"); }
    else if (known[ev.public_id] && known[ev.public_id] !== sig) { tr.classList.add("changed"); }
    known[ev.public_id] = sig;
    return tr;
  }

  function refresh() {
    CQfetch(table.dataset.feed + window.location.search).then(function (data) {
      var frag = document.createDocumentFragment();
      data.events.forEach(function (ev) { frag.appendChild(row(ev)); });
      if (!data.events.length) {
        var tr = document.createElement("tr");
        tr.className = "empty";
        var td = cell(tr, "No events in this period.");
        td.colSpan = 12;
        frag.appendChild(tr);
      }
      body.replaceChildren(frag);
      table.dataset.count = String(data.events.length);
      state.textContent = "live · " + new Date().toISOString().slice(11, 19) + " UTC";
      state.classList.remove("stale");
    }).catch(function (err) {
      state.textContent = "not updating (" + err.message + ")";
      state.classList.add("stale");
    });
  }
  function CQfetch(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
  }
  refresh();
  setInterval(refresh, 2000);
})();
