// sluice status page: polls /api/status (topology, states, errors, plugins) and /metrics
// (Flume's JSON counters) every second and draws the pipeline, channel gauges and per-component
// event rates. No libraries, no network beyond this agent.
"use strict";
(function () {
  const POLL_MS = 1000;
  const HISTORY = 300;  // samples kept per component: 5 minutes at 1 s
  const SVG_NS = "http://www.w3.org/2000/svg";
  const history = {};   // "SOURCE.r1" -> [{t, in, out}]
  let lastTopology = "";
  let polls = 0;

  const $ = (id) => document.getElementById(id);

  function svg(tag, attrs, parent) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(el);
    return el;
  }
  function el(tag, attrs, parent, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function fmtRate(v) {
    if (!isFinite(v)) return "–";
    if (v >= 1e6) return (v / 1e6).toFixed(2) + " M/s";
    if (v >= 1e3) return (v / 1e3).toFixed(1) + " k/s";
    return v.toFixed(v < 10 ? 1 : 0) + " /s";
  }
  function fmtInt(v) { return Number(v).toLocaleString("en-US"); }
  function fmtDuration(s) {
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + (s % 60) + "s";
    return s + "s";
  }
  function num(m, key, name) { return m && m[key] && m[key][name] !== undefined ? Number(m[key][name]) : 0; }

  // In/out counters per kind, as Flume names them.
  function inOut(kind, m, key) {
    if (kind === "SOURCE") return [num(m, key, "EventReceivedCount"), num(m, key, "EventAcceptedCount")];
    if (kind === "CHANNEL") return [num(m, key, "EventPutSuccessCount"), num(m, key, "EventTakeSuccessCount")];
    return [num(m, key, "EventDrainAttemptCount"), num(m, key, "EventDrainSuccessCount")];
  }

  function record(key, tSec, vin, vout) {
    const h = history[key] || (history[key] = []);
    h.push({ t: tSec, in: vin, out: vout });
    if (h.length > HISTORY + 1) h.shift();
  }
  // Rates between consecutive samples (a counter that went down means the component restarted).
  function rates(key) {
    const h = history[key] || [];
    const out = [];
    for (let i = 1; i < h.length; i++) {
      const dt = h[i].t - h[i - 1].t;
      if (dt <= 0) continue;
      out.push({ in: Math.max(0, h[i].in - h[i - 1].in) / dt, out: Math.max(0, h[i].out - h[i - 1].out) / dt });
    }
    return out;
  }
  function recentRate(key, which, n) {
    const r = rates(key).slice(-(n || 5));
    if (!r.length) return 0;
    return r.reduce((a, x) => a + x[which], 0) / r.length;
  }

  function components(st) {
    const out = [];
    for (const s of st.sources) out.push({ kind: "SOURCE", ...s });
    for (const c of st.channels) out.push({ kind: "CHANNEL", ...c });
    for (const k of st.sinks) out.push({ kind: "SINK", ...k });
    return out;
  }

  // ---- the pipeline graph ----
  const NODE_W = 210, NODE_H = 58, GAP = 14, GROUP_PAD = 8, GROUP_LABEL = 18, TOP = 26;
  const COLS = [20, 375, 730];

  function drawGraph(st) {
    const g = $("pipeline-graph");
    while (g.firstChild) g.removeChild(g.firstChild);
    const pos = {};
    ["sources", "channels", "sinks"].forEach((n, i) =>
      svg("text", { x: COLS[i], y: 14, class: "col-label" }, g).textContent = n);
    let y = TOP;
    for (const s of st.sources) { pos["SOURCE." + s.name] = { x: COLS[0], y }; y += NODE_H + GAP + (s.interceptors.length ? 12 : 0); }
    let maxY = y;
    y = TOP;
    for (const c of st.channels) { pos["CHANNEL." + c.name] = { x: COLS[1], y }; y += NODE_H + GAP; }
    maxY = Math.max(maxY, y);
    // Sinks: members of a group together, inside a dashed box.
    y = TOP;
    const groups = st.sinkRunners.filter((r) => r.group);
    const placed = new Set();
    const boxes = [];
    for (const grp of groups) {
      y += GROUP_LABEL + 14;  // two lines: name, then state
      const y0 = y - GROUP_PAD;
      for (const name of grp.sinks) {
        if (!st.sinks.some((k) => k.name === name)) continue;
        pos["SINK." + name] = { x: COLS[2], y };
        placed.add(name);
        y += NODE_H + GAP;
      }
      boxes.push({ grp, y0, y1: y - GAP + GROUP_PAD });
      y += GROUP_PAD;
    }
    for (const k of st.sinks)
      if (!placed.has(k.name)) { pos["SINK." + k.name] = { x: COLS[2], y }; y += NODE_H + GAP; }
    maxY = Math.max(maxY, y);
    g.setAttribute("viewBox", "0 0 960 " + Math.max(120, maxY + 4));

    const edges = svg("g", { class: "edges" }, g);
    const link = (a, b) => {
      const p = pos[a], q = pos[b];
      if (!p || !q) return;
      const x1 = p.x + NODE_W, y1 = p.y + NODE_H / 2, x2 = q.x, y2 = q.y + NODE_H / 2, mx = (x1 + x2) / 2;
      svg("path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
        "data-from": a, "data-to": b }, edges);
    };
    for (const s of st.sources) for (const c of s.channels) link("SOURCE." + s.name, "CHANNEL." + c);
    for (const k of st.sinks) link("CHANNEL." + k.channel, "SINK." + k.name);
    for (const b of boxes) {
      const box = svg("g", { class: "sink-group", "data-group": b.grp.name }, g);
      svg("rect", { class: "group", x: COLS[2] - GROUP_PAD, y: b.y0, width: NODE_W + 2 * GROUP_PAD,
        height: b.y1 - b.y0, rx: 8 }, box);
      svg("text", { class: "group-label", x: COLS[2] - GROUP_PAD + 4, y: b.y0 - 18 }, box).textContent =
        "group " + b.grp.name + " (" + b.grp.processor + ")";
      svg("text", { class: "group-stats", x: COLS[2] - GROUP_PAD + 4, y: b.y0 - 4,
        "data-group-stats-for": b.grp.name }, box).textContent = groupText(b.grp);
    }
    for (const c of components(st)) {
      const p = pos[c.kind + "." + c.name];
      if (!p) continue;
      const node = svg("g", { class: "node " + c.kind.toLowerCase() + (c.state !== "START" ? " bad" : ""),
        "data-component": c.name, "data-kind": c.kind, transform: `translate(${p.x},${p.y})` }, g);
      svg("rect", { class: "box", width: NODE_W, height: NODE_H, rx: 7 }, node);
      svg("text", { class: "title", x: 10, y: 18 }, node).textContent = c.name;
      svg("text", { class: "sub", x: 10, y: 33 }, node).textContent =
        c.type + (c.state !== "START" ? " · " + c.state : "");
      svg("text", { class: "rate", x: 10, y: 49, "data-rate-for": c.kind + "." + c.name }, node);
      if (c.kind === "CHANNEL") {
        svg("rect", { class: "fill-bg", x: NODE_W - 16, y: 8, width: 8, height: NODE_H - 16, rx: 3 }, node);
        svg("rect", { class: "fill", x: NODE_W - 16, y: NODE_H - 8, width: 8, height: 0, rx: 3,
          "data-fill-for": c.name }, node);
      }
      if (c.kind === "SOURCE" && c.interceptors.length) {
        svg("text", { class: "sub", x: 0, y: NODE_H + 11, "data-interceptors-for": c.name }, node).textContent =
          interceptorText(c);
      }
    }
  }

  function interceptorText(source) {
    return "interceptors: " + source.interceptors.map((i) => i.name + ":" + i.type +
      (i.dropped ? " (dropped " + fmtInt(i.dropped) + ")" : "")).join(", ");
  }
  // "active k1 · 1 backed off · 2 failovers"
  function groupText(r) {
    const parts = ["active " + (r.activeSink || "–")];
    if (r.sinksInBackoff) parts.push(r.sinksInBackoff + " backed off");
    if (r.failoverCount) parts.push(fmtInt(r.failoverCount) + " failover" + (r.failoverCount === 1 ? "" : "s"));
    return parts.join(" · ");
  }

  function updateGraph(st, m) {
    for (const r of st.sinkRunners) {
      if (!r.group) continue;
      const t = document.querySelector(`[data-group-stats-for="${CSS.escape(r.name)}"]`);
      if (t) t.textContent = groupText(r);
    }
    for (const s of st.sources) {
      const t = document.querySelector(`[data-interceptors-for="${CSS.escape(s.name)}"]`);
      if (t) t.textContent = interceptorText(s);
    }
    for (const c of components(st)) {
      const key = c.kind + "." + c.name;
      const t = document.querySelector(`[data-rate-for="${CSS.escape(key)}"]`);
      if (t) t.textContent = "in " + fmtRate(recentRate(key, "in")) + "  ·  out " + fmtRate(recentRate(key, "out"));
      if (c.kind === "CHANNEL") {
        const f = document.querySelector(`[data-fill-for="${CSS.escape(c.name)}"]`);
        const pct = Math.min(100, Math.max(0, Number(c.fillPercentage) || 0));
        const h = (NODE_H - 16) * pct / 100;
        if (f) { f.setAttribute("height", h); f.setAttribute("y", NODE_H - 8 - h); }
      }
    }
  }

  // ---- channel gauges ----
  function updateGauges(st, m, ready) {
    const box = $("channel-gauges");
    const limit = ready && ready.maxChannelFillPercent !== undefined ? ready.maxChannelFillPercent : 90;
    for (const c of st.channels) {
      const key = "CHANNEL." + c.name;
      let g = box.querySelector(`.channel-gauge[data-component="${CSS.escape(c.name)}"]`);
      if (!g) {
        g = el("div", { class: "channel-gauge", "data-component": c.name }, box);
        const row = el("div", { class: "row" }, g);
        el("span", { class: "name" }, row);
        el("span", { class: "value" }, row);
        el("span", {}, el("div", { class: "bar" }, g));
      }
      const size = num(m, key, "ChannelSize"), cap = num(m, key, "ChannelCapacity");
      const pct = Number(m[key] ? m[key].ChannelFillPercentage : c.fillPercentage) || 0;
      g.dataset.size = size;
      g.dataset.capacity = cap;
      g.dataset.fill = pct;
      g.querySelector(".name").textContent = c.name + " (" + c.type + ")";
      g.querySelector(".value").textContent = fmtInt(size) + " / " + fmtInt(cap) + " · " + pct.toFixed(1) + "%";
      const bar = g.querySelector(".bar");
      bar.className = "bar" + (pct > limit ? " bad" : pct > limit * 0.7 ? " warn" : "");
      bar.firstChild.style.width = Math.min(100, pct) + "%";
    }
    for (const g of Array.from(box.children))
      if (!st.channels.some((c) => c.name === g.dataset.component)) box.removeChild(g);
  }

  // ---- sparklines ----
  function sparkline(parent, cls) {
    const wrap = el("div", { class: "spark " + cls }, parent);
    const s = svg("svg", { viewBox: "0 0 160 28", preserveAspectRatio: "none" }, wrap);
    svg("polyline", { class: cls === "in" ? "line-in" : "line-out", points: "" }, s);
    el("span", { class: "val" }, wrap);
    return wrap;
  }
  function drawSpark(wrap, series, which) {
    const line = wrap.querySelector("polyline");
    const vals = series.map((x) => x[which]);
    const max = Math.max(1, ...vals);
    const n = Math.max(60, Math.min(HISTORY, vals.length));  // the first minute fills the width
    const pts = vals.map((v, i) => {
      const x = 160 - (vals.length - 1 - i) * (160 / n);
      return x.toFixed(1) + "," + (26 - (v / max) * 24).toFixed(1);
    });
    line.setAttribute("points", pts.join(" "));
    const recent = vals.slice(-5);
    wrap.querySelector(".val").textContent = fmtRate(recent.length ? recent.reduce((a, v) => a + v, 0) / recent.length : 0);
    wrap.title = "max " + fmtRate(max) + " over the last " + fmtDuration(vals.length) ;
  }

  function updateTable(st, m) {
    const body = $("component-table").tBodies[0];
    const seen = new Set();
    for (const c of components(st)) {
      const key = c.kind + "." + c.name;
      seen.add(key);
      let row = body.querySelector(`tr[data-key="${CSS.escape(key)}"]`);
      if (!row) {
        row = el("tr", { class: "component-row", "data-key": key, "data-component": c.name, "data-kind": c.kind }, body);
        el("td", {}, row, c.kind.toLowerCase() + " " + c.name);
        el("td", {}, row, c.type);
        el("td", { class: "state" }, row);
        sparkline(el("td", {}, row), "in");
        sparkline(el("td", {}, row), "out");
        el("td", { class: "num in-total" }, row);
        el("td", { class: "num out-total" }, row);
      }
      const [vin, vout] = inOut(c.kind, m, key);
      row.dataset.inTotal = vin;
      row.dataset.outTotal = vout;
      const stateCell = row.querySelector(".state");
      stateCell.textContent = c.state;
      stateCell.className = "state state-" + c.state;
      const series = rates(key);
      drawSpark(row.querySelector(".spark.in"), series, "in");
      drawSpark(row.querySelector(".spark.out"), series, "out");
      row.querySelector(".in-total").textContent = fmtInt(vin);
      row.querySelector(".out-total").textContent = fmtInt(vout);
    }
    for (const row of Array.from(body.rows)) if (!seen.has(row.dataset.key)) body.removeChild(row);
  }

  function updateReady(st) {
    const r = st.ready || {};
    const pill = $("ready-status");
    pill.textContent = r.ready ? "ready" : "not ready";
    pill.className = "pill " + (r.ready ? "pill-ready" : "pill-notready");
    const ul = $("ready-reasons");
    ul.textContent = "";
    if (r.ready) el("li", { class: "ok" }, ul, "All components started, channels below " +
      r.maxChannelFillPercent + "% full, no sink failing for more than " + r.maxSinkFailingMs + " ms.");
    for (const reason of r.reasons || []) el("li", { class: "bad" }, ul, reason);
    const errs = $("error-list");
    errs.textContent = "";
    for (const e of st.errors || []) {
      const li = el("li", { class: "error" }, errs);
      el("span", { class: "when" }, li, new Date(e.timeMs).toLocaleTimeString());
      el("span", {}, li, e.component + ": " + e.message + " (" + e.count + " failure" + (e.count === 1 ? "" : "s") + ")");
    }
    updateLog(st.log || { records: [] });
  }

  // Recent WARN/ERROR records, newest first. Redrawn only when new records came, so that a
  // reader's scroll position stays put.
  function updateLog(log) {
    const list = $("log-list");
    const stamp = log.total + "/" + log.records.length;
    if (list.dataset.stamp === stamp) return;
    list.dataset.stamp = stamp;
    list.dataset.total = log.total || 0;
    list.dataset.dropped = log.dropped || 0;
    list.textContent = "";
    for (const r of log.records) {
      const level = r.level === "warning" ? "warn" : r.level;
      const li = el("li", { class: "log-record level-" + level, "data-level": r.level, "data-logger": r.logger }, list);
      el("span", { class: "when" }, li, new Date(r.timeMs).toLocaleTimeString());
      el("span", { class: "lvl" }, li, level.toUpperCase());
      el("span", { class: "logger" }, li, r.logger);
      el("span", { class: "msg" }, li, r.message);
    }
    const note = $("log-note");
    if (!log.records.length) note.textContent = "No warnings or errors logged.";
    else note.textContent = log.records.length + " most recent warning/error record" + (log.records.length === 1 ? "" : "s") +
      ", newest first" + (log.dropped ? "; " + fmtInt(log.dropped) + " older not kept" : "");
  }

  function updatePlugins(st) {
    const body = $("plugin-table").tBodies[0];
    if (body.dataset.count === String(st.plugins.length)) return;
    body.textContent = "";
    for (const p of st.plugins) {
      const row = el("tr", { class: "plugin-row", "data-plugin": p.name }, body);
      el("td", {}, row, p.name);
      el("td", {}, row, p.version);
      el("td", {}, row, p.types.join(", "));
      el("td", { class: "file" }, row, p.file);
    }
    body.dataset.count = String(st.plugins.length);
  }

  async function poll() {
    try {
      const [sr, mr] = await Promise.all([fetch("/api/status", { cache: "no-store" }),
                                          fetch("/metrics", { cache: "no-store", headers: { Accept: "application/json" } })]);
      const st = await sr.json();
      const m = await mr.json();
      // The agent's clock, so that rates do not depend on when this page's timers fire.
      const t = st.takenAtMs ? st.takenAtMs / 1000 : performance.now() / 1000;
      for (const c of components(st)) {
        const [vin, vout] = inOut(c.kind, m, c.kind + "." + c.name);
        record(c.kind + "." + c.name, t, vin, vout);
      }
      const topo = JSON.stringify([st.sources.map((s) => [s.name, s.type, s.state, s.channels, s.interceptors]),
        st.channels.map((c) => [c.name, c.type, c.state]), st.sinks.map((k) => [k.name, k.type, k.state, k.channel]),
        st.sinkRunners.map((r) => [r.name, r.group, r.processor, r.sinks])]);
      if (topo !== lastTopology) { drawGraph(st); lastTopology = topo; }
      updateGraph(st, m);
      updateGauges(st, m, st.ready);
      updateTable(st, m);
      updateReady(st);
      updatePlugins(st);
      $("agent-name").textContent = st.agent;
      $("agent-version").textContent = st.version;
      $("agent-uptime").textContent = fmtDuration(st.uptimeSeconds);
      $("config-file").textContent = st.configFile;
      $("last-update").textContent = new Date().toLocaleTimeString();
      document.title = st.agent + " · sluice";
      polls++;
      document.body.dataset.polls = polls;
    } catch (e) {
      const pill = $("ready-status");
      pill.textContent = "agent unreachable";
      pill.className = "pill pill-notready";
    }
    setTimeout(poll, POLL_MS);
  }
  poll();
})();
