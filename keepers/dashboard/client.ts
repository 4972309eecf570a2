/**
 * The dashboard's browser script, as text (served as `dashboard.js`). It polls `api/state` every 2 s
 * (one request at a time) and rebuilds the sections from the JSON. Plain ES2020 for any current browser.
 *
 * Safety rule, kept by construction: the only way text reaches the page is `el()` below, which sets
 * `textContent` and a short allow-list of attributes through `setAttribute`; nothing assigns `innerHTML`,
 * and chain strings are never used as URLs.
 */
export const CLIENT_JS = String.raw`"use strict";
(function () {
  var POLL_MS = 2000;
  var last = null;
  var lastOk = 0;

  // Build an element: attrs is an allow-list (class, title, data-*); children are strings or nodes.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (attrs[k] === undefined || attrs[k] === null) continue;
        if (k === "class" || k === "title" || k.indexOf("data-") === 0) node.setAttribute(k, String(attrs[k]));
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === undefined || c === null || c === false) continue;
      node.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function replace(id, node) {
    var host = document.getElementById(id);
    host.replaceChildren(node);
  }
  function short(id) {
    return id && id.length > 14 ? id.slice(0, 8) + "…" + id.slice(-4) : id || "";
  }
  function isZero(id) {
    return !id || /^0x0*$/.test(id);
  }
  function clock(t) {
    return t > 0 ? new Date(t * 1000).toISOString().slice(11, 19) + " UTC" : "never";
  }
  // Table cells: the time of day only (the header says UTC); the full date in the title.
  function hms(t) {
    return el("span", { class: "time", title: t > 0 ? new Date(t * 1000).toISOString() : "" }, t > 0 ? new Date(t * 1000).toISOString().slice(11, 19) : "–");
  }
  function ago(t, now) {
    if (!(t > 0)) return "never";
    var d = now - t;
    if (d < 0) return "in " + span(-d);
    return span(d) + " ago";
  }
  function span(d) {
    if (d < 120) return d + " s";
    if (d < 7200) return Math.round(d / 60) + " min";
    if (d < 172800) return Math.round(d / 3600) + " h";
    return Math.round(d / 86400) + " d";
  }
  function pill(text, cls) {
    return el("span", { class: "pill s-" + (cls || text), "data-status": text }, text);
  }
  function tx(hash) {
    return el("span", { class: "mono", title: hash, "data-tx": hash }, short(hash));
  }
  function table(head, rows, attrs) {
    var thead = el("tr", null);
    head.forEach(function (h) { thead.appendChild(el("th", null, h)); });
    var body = el("tbody", null);
    rows.forEach(function (r) { body.appendChild(r); });
    return el("div", { class: "scroll" }, el("table", attrs || null, el("thead", null, thead), body));
  }
  function row(cells, attrs) {
    var tr = el("tr", attrs || null);
    cells.forEach(function (c) { tr.appendChild(c instanceof Node && c.tagName === "TD" ? c : el("td", null, c)); });
    return tr;
  }
  function td(cls, child) {
    return el("td", { class: cls }, child);
  }

  function renderHeader(s) {
    replace("chain", el("span", null,
      "chain ", el("b", null, String(s.chainId)),
      "  ·  block ", el("b", { "data-block": s.block.number }, "#" + s.block.number),
      " at " + clock(s.block.timestamp),
      "  ·  oracle ", el("span", { class: "mono", title: s.contracts.oracle }, short(s.contracts.oracle)),
      "  registry ", el("span", { class: "mono", title: s.contracts.registry }, short(s.contracts.registry)),
      s.contracts.guard ? "  guard " : "", s.contracts.guard ? el("span", { class: "mono", title: s.contracts.guard }, short(s.contracts.guard)) : null));
  }

  function tile(value, key, cls) {
    return el("div", { class: "tile " + (cls || "") }, el("div", { class: "v" }, value), el("div", { class: "k" }, key));
  }
  function renderTiles(s) {
    var eps = 0, down = 0;
    s.services.forEach(function (sv) { sv.endpoints.forEach(function (e) { eps++; if (e.status === "DOWN" || e.status === "UNKNOWN") down++; }); });
    var paused = s.markets.filter(function (m) { return m.paused; }).length;
    var r = s.rounds[0];
    var signed = r ? r.signers.filter(function (x) { return x.signed; }).length : 0;
    var frag = document.createDocumentFragment();
    frag.appendChild(tile(String(s.services.length), "services · " + eps + " endpoints", ""));
    frag.appendChild(tile(String(down), "endpoints down or unknown", down ? "bad" : "ok"));
    frag.appendChild(tile(s.contracts.guard ? String(paused) + " / " + s.markets.length : "–", "markets paused", paused ? "bad" : "ok"));
    frag.appendChild(tile(r ? signed + " / " + r.signers.length : "–", "signers of the last round (quorum " + s.attestors.quorum + ")",
      r && signed < r.quorum ? "bad" : r && signed < r.signers.length ? "warn" : "ok"));
    replace("tiles", frag);
  }

  function timeline(e, s) {
    var total = Math.max(1, s.block.timestamp - s.window.fromTime);
    var bar = el("div", { class: "timeline", "data-timeline": e.id });
    e.timeline.forEach(function (seg) {
      var i = el("i", { class: "t-" + seg.status, title: seg.status + " " + clock(seg.from) + " → " + clock(seg.to), "data-segment": seg.status });
      i.style.width = (100 * Math.max(0, seg.to - seg.from) / total).toFixed(2) + "%";
      bar.appendChild(i);
    });
    return el("div", null, bar, el("div", { class: "axis" }, el("span", null, clock(s.window.fromTime)), el("span", null, "now")));
  }
  function health(e) {
    var bar = el("span", { class: "bar" });
    var fill = el("i", { class: "t-" + e.status });
    fill.style.width = (e.healthBps / 100).toFixed(1) + "%";
    bar.appendChild(fill);
    var q = e.floorBps === e.ceilingBps ? "" : " (quorum " + e.floorBps + "–" + e.ceilingBps + ")";
    return el("span", { title: "median " + e.healthBps + " bps" + q }, bar, e.healthBps + " bps");
  }
  function renderServices(s) {
    var frag = document.createDocumentFragment();
    if (!s.services.length && !s.servicesNotShown && !s.unregisteredServices.length) frag.appendChild(el("div", { class: "empty" }, "no services registered"));
    var uriOf = {};
    s.services.forEach(function (sv) { sv.endpoints.forEach(function (e) { uriOf[e.id] = e.uri; }); });
    s.services.forEach(function (sv) {
      var active = sv.endpoints.filter(function (e) { return e.active; })[0];
      var rows = sv.endpoints.map(function (e) {
        return row([
          td("active-mark", e.active ? "▶" : ""),
          td("uri", e.uri),
          td("dim", e.kind + " · p" + e.priority),
          td("status", pill(e.status)),
          td("", health(e)),
          el("td", { title: clock(e.since) }, e.status === "UNKNOWN" && !e.since ? "never reported" : ago(e.since, s.block.timestamp)),
          td("", timeline(e, s)),
        ], { "data-endpoint-id": e.id, "data-active": e.active ? "true" : "false", class: e.active ? "active" : "" });
      });
      var migrations = el("div", { class: "migrations" });
      if (!sv.migrations.length) migrations.appendChild(el("div", { class: "dim" }, "no migrations in the window"));
      sv.migrations.slice(0, 8).forEach(function (m) {
        migrations.appendChild(el("div", { class: "row", "data-migration": m.tx },
          el("span", { class: "tag " + (m.failback ? "failback" : "") }, m.failback ? "FAILBACK" : "FAILOVER"),
          hms(m.at), "  ", el("span", { class: "uri" }, uriOf[m.from] || short(m.from)), "  →  ",
          el("span", { class: "uri" }, uriOf[m.to] || short(m.to)), "   tx ", tx(m.tx), "  block " + m.block));
      });
      var check = sv.migration.check;
      frag.appendChild(el("div", { class: "card", "data-service-id": sv.id },
        el("h3", null, sv.name),
        el("div", { class: "meta" }, el("span", { class: "mono", title: sv.id }, short(sv.id)),
          "  ·  active ", el("b", { class: "uri", "data-active-uri": "" }, active ? active.uri : "none"),
          "  ·  migration check ", el("b", { "data-migration-check": check }, check),
          sv.lastMigrationAt ? "  ·  last migration " + ago(sv.lastMigrationAt, s.block.timestamp) : ""),
        table(["", "endpoint", "kind", "status", "health", "since", "timeline"], rows),
        el("h2", null, "Migrations"), migrations));
    });
    if (s.servicesNotShown > 0) {
      frag.appendChild(el("div", { class: "empty", "data-services-not-shown": s.servicesNotShown },
        s.servicesNotShown + " more services not shown (set services to choose)"));
    }
    if (s.unregisteredServices.length) {
      frag.appendChild(el("div", { class: "empty", "data-unregistered": s.unregisteredServices.length },
        "not registered: " + s.unregisteredServices.join(", ")));
    }
    replace("services", frag);
  }

  function renderMarkets(s) {
    if (!s.contracts.guard) return replace("markets", el("div", { class: "empty" }, "no guard configured (--guard)"));
    if (!s.markets.length) return replace("markets", el("div", { class: "empty" }, "no markets registered"));
    var rows = s.markets.map(function (m) {
      var ev = m.events[0];
      var state = m.paused ? "PAUSED" : "OPEN";
      return row([
        td("", "#" + m.id),
        el("td", { class: "mono", title: m.market }, short(m.market)),
        td("state", pill(state)),
        td("cause", m.paused ? m.causeLabel : "–"),
        td("", m.paused ? ago(m.pausedAt, s.block.timestamp) : "–"),
        td("", m.delivery === "NONE" ? "delivered" : pill(m.delivery, "PENDING")),
        td("dim", m.paused ? "resume: " + m.resume.check + (m.resume.notBefore ? " (" + ago(m.resume.notBefore, s.block.timestamp) + ")" : "") : "trip: " + m.trip.check),
        td("", ev ? el("span", null, ev.kind + " ", tx(ev.tx)) : "–"),
      ], { "data-market-id": String(m.id), "data-paused": m.paused ? "true" : "false" });
    });
    replace("markets", el("div", { class: "card" }, table(["market", "contract", "state", "cause", "since", "delivery", "next", "last event"], rows)));
  }

  function renderRounds(s) {
    var members = s.attestors.members;
    if (!members.length) return replace("rounds", el("div", { class: "card empty" }, "no attestor set"));
    var head = ["round", "time"].concat(members.map(function (a) {
      var pct = a.rounds ? Math.round(100 * a.signed / a.rounds) + "%" : "–";
      return el("span", { title: a.address }, a.address.slice(0, 6) + "…" + a.address.slice(-4),
        el("br", null), el("span", { class: a.jailed ? "bad" : "dim" }, a.jailed ? "jailed" : pct));
    })).concat(["signed (q " + s.attestors.quorum + ")", "tx"]);
    var rows = s.rounds.slice(0, 12).map(function (r) {
      var n = r.signers.filter(function (x) { return x.signed; }).length;
      var cells = [td("mono", String(r.round)), td("dim", hms(r.observedAt))];
      members.forEach(function (a) {
        var me = r.signers.filter(function (x) { return x.address.toLowerCase() === a.address.toLowerCase(); })[0];
        cells.push(el("td", { title: a.address + (me && me.signed ? " signed" : " did not sign") },
          el("span", { class: "dot" + (me && me.signed ? " on" : "") + (a.jailed ? " jailed" : "") })));
      });
      cells.push(td("time" + (n < r.quorum ? " bad" : ""), n + " / " + r.signers.length));
      cells.push(td("", tx(r.tx)));
      return row(cells, { "data-round": String(r.round) });
    });
    var note = s.attestors.members.map(function (a) { return a.address; }).join("  ");
    replace("rounds", el("div", { class: "card" },
      rows.length ? table(head, rows) : el("div", { class: "empty" }, "no report rounds in the window"),
      el("div", { class: "meta", title: note }, "set v" + s.attestors.version + ", quorum " + s.attestors.quorum + " of " + members.length)));
  }

  function renderActions(s) {
    if (!s.actions.length) return replace("actions", el("div", { class: "card empty" }, "no actions in the window"));
    var rows = s.actions.slice(0, 12).map(function (a) {
      return row([td("dim", hms(a.at)), td("time", el("span", { class: "tag " + a.kind.replace(/ /g, "-") }, a.kind)), td("summary", a.summary), td("", tx(a.tx))],
        { "data-action": a.kind });
    });
    replace("actions", el("div", { class: "card" }, table(["time", "what", "", "tx"], rows)));
  }

  function render(s) {
    renderHeader(s);
    renderTiles(s);
    renderServices(s);
    renderMarkets(s);
    renderRounds(s);
    renderActions(s);
    var gaps = s.window.gaps.length ? " · blocks skipped after an outage: " + s.window.gaps.map(function (g) { return g.from + "–" + g.to; }).join(", ") : "";
    replace("footer", el("span", null, "events from block " + s.window.fromBlock + " (" + clock(s.window.fromTime) + ")" + gaps +
      " · everything on this page is read from the contracts and their events"));
  }

  function setLive(state, text) {
    var live = document.getElementById("live");
    live.setAttribute("data-state", state);
    live.textContent = text;
  }

  async function tick() {
    try {
      var res = await fetch("api/state", { cache: "no-store" });
      var body = await res.json();
      if (!res.ok) throw new Error(body && body.error ? body.error : "HTTP " + res.status);
      last = body;
      lastOk = Date.now();
      render(body);
      setLive("live", "live · block #" + body.block.number);
    } catch (e) {
      setLive(last ? "stale" : "error", (last ? "stale: " : "") + String(e && e.message ? e.message : e));
    } finally {
      setTimeout(tick, POLL_MS);
    }
  }
  tick();
})();
`;
