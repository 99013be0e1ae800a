// fsivr dashboard: plain JS, no framework. Data only ever reaches the DOM
// through textContent and attributes, never as markup.
"use strict";
(function () {
  const $ = (s, el) => (el || document).querySelector(s);
  const SVG = "http://www.w3.org/2000/svg";
  let token = sessionStorage.getItem("fsivr-token") || "";
  let me = null;
  let streams = [];
  const agents = new Map(); // id -> {name, state, since, reason, number}
  const queues = new Map(); // name -> {count, joins: [ms]}
  let graphs = [];

  function el(tag, attrs, text) {
    const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // An SSE client over fetch (EventSource cannot send Authorization):
  // it reconnects after `retry` ms and sends Last-Event-ID.
  function stream(url, onEvent, onState) {
    const s = { stopped: false, ctl: null };
    (async () => {
      let lastId = null, delay = 1000;
      while (!s.stopped) {
        try {
          const headers = { Authorization: "Bearer " + token };
          if (lastId !== null) headers["Last-Event-ID"] = lastId;
          s.ctl = new AbortController();
          const resp = await fetch(url, { headers, cache: "no-store", signal: s.ctl.signal });
          if (resp.status === 401) { logout("token refused"); return; }
          if (resp.status === 404) { onState(false, "not served here"); return; }
          if (!resp.ok) throw new Error("HTTP " + resp.status);
          onState(true);
          const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
          let buf = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += value;
            let i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              let ev = "message", id = null;
              const data = [];
              for (const line of block.split("\n")) {
                if (line === "" || line.startsWith(":")) continue;
                const c = line.indexOf(":");
                const f = c < 0 ? line : line.slice(0, c);
                let v = c < 0 ? "" : line.slice(c + 1);
                if (v.startsWith(" ")) v = v.slice(1);
                if (f === "event") ev = v;
                else if (f === "data") data.push(v);
                else if (f === "id") id = v;
                else if (f === "retry" && +v > 0) delay = +v;
              }
              if (id !== null) lastId = id;
              if (data.length) onEvent(ev, JSON.parse(data.join("\n")));
            }
          }
        } catch (e) {
          if (s.stopped) return;
        }
        onState(false);
        await sleep(delay);
      }
    })();
    s.stop = () => { s.stopped = true; if (s.ctl) s.ctl.abort(); };
    return s;
  }

  // ---- call centre: agents and queues ----
  function agent(id) {
    if (!agents.has(id)) agents.set(id, { name: "", state: "", since: Date.now(), reason: "", number: "" });
    return agents.get(id);
  }
  function setState(a, st) {
    if (a.state !== st) { a.state = st; a.since = Date.now(); }
  }
  function queue(name) {
    if (!queues.has(name)) queues.set(name, { count: 0, joins: [] });
    return queues.get(name);
  }
  function onCallCentre(type, d) {
    switch (d.type || type) {
      case "snapshot": agents.clear(); queues.clear(); break;
      case "stale": $("#stale").hidden = false; break;
      case "resynced": $("#stale").hidden = true; break;
      case "agentName": agent(d.agent).name = d.name || ""; break;
      case "extensionStatus": {
        const a = agent(d.agent);
        if (!a.paused) setState(a, d.status);
        break;
      }
      case "queueMemberStatus": {
        const a = agent(d.agent);
        a.paused = d.status === "paused";
        a.reason = a.paused ? (d.pausedReason || "") : "";
        setState(a, d.status);
        if (a.paused && d.pausedSince) a.since = d.pausedSince * 1000;
        break;
      }
      case "phoneNumber": agent(d.agent).number = d.number || ""; break;
      case "queueCount": {
        const q = queue(d.queue);
        // Waits are timed from when the page saw the count grow: the stream
        // carries counts, not join times.
        while (q.joins.length < d.count) q.joins.push(Date.now());
        while (q.joins.length > d.count) q.joins.shift();
        q.count = d.count;
        break;
      }
    }
    renderCallCentre();
  }
  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s < 60 ? s + "s" : s < 3600 ? Math.floor(s / 60) + "m" + (s % 60) + "s" : Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m";
  }
  function threshold(name) {
    const t = (me && me.thresholds) || {};
    return t[name] || t["*"] || null;
  }
  function renderCallCentre() {
    const tiles = $("#queues");
    tiles.replaceChildren();
    for (const name of [...queues.keys()].sort()) {
      const q = queues.get(name);
      const longest = q.joins.length ? (Date.now() - q.joins[0]) / 1000 : 0;
      const th = threshold(name);
      const red = th && ((th.waiting > 0 && q.count > th.waiting) || (th.longestWaitSecs > 0 && longest > th.longestWaitSecs));
      const t = el("div", { class: "tile queue" + (red ? " alarm" : ""), "data-queue": name });
      t.append(el("div", { class: "label" }, name), el("div", { class: "big waiting" }, String(q.count)),
        el("div", { class: "longest" }, "longest wait " + (q.joins.length ? ago(q.joins[0]) : "-")));
      tiles.append(t);
    }
    const body = $("#agents tbody");
    body.replaceChildren();
    for (const id of [...agents.keys()].sort()) {
      const a = agents.get(id);
      const tr = el("tr", { "data-agent": id, class: a.state });
      tr.append(el("td", {}, id), el("td", { class: "name" }, a.name), el("td", { class: "state" }, a.state),
        el("td", { class: "since" }, ago(a.since)), el("td", { class: "reason" }, a.reason), el("td", { class: "number" }, a.number));
      body.append(tr);
    }
  }

  // ---- campaigns and IVR (the dashboard's own stream) ----
  function chart(h) {
    const W = 320, H = 80;
    const svg = el("svg:svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "chart" });
    if (h.length < 1) return svg;
    const t0 = h[0].t, t1 = Math.max(h[h.length - 1].t, t0 + 1), top = Math.max(1, h[h.length - 1].d);
    const pts = (k) => h.map((p) => `${(((p.t - t0) / (t1 - t0)) * (W - 10) + 5).toFixed(1)},${(H - 5 - (p[k] / top) * (H - 10)).toFixed(1)}`).join(" ");
    svg.append(el("svg:polyline", { points: pts("d"), fill: "none", stroke: "#5b6b86", "stroke-width": 2, class: "line-dialed" }),
      el("svg:polyline", { points: pts("a"), fill: "none", stroke: "#1a7f37", "stroke-width": 2, class: "line-answered" }));
    return svg;
  }
  async function control(id, action) {
    const r = await fetch(`/dash/api/campaigns/${encodeURIComponent(id)}/${action}`, { method: "POST", headers: { Authorization: "Bearer " + token } });
    if (!r.ok) alert(`${action} ${id}: ${(await r.json()).error}`);
  }
  function renderCampaigns(list) {
    const box = $("#campaigns");
    box.replaceChildren();
    for (const c of list) {
      const d = el("div", { class: "campaign", "data-campaign": c.id });
      const h = el("h3", {}, c.id + " ");
      h.append(el("span", { class: "state" }, c.done ? "done" : c.state));
      d.append(h);
      const counts = el("div", { class: "counts" });
      for (const [k, label] of [["dialed", "dialed"], ["answered", "answered"], ["failed", "failed"], ["retrying", "retrying"], ["remaining", "remaining"]]) {
        const s = el("span", {}, label);
        s.prepend(el("b", { class: k }, String(c[k])));
        counts.append(s);
      }
      d.append(counts, chart(c.history || []));
      if (me && me.control) {
        const b = el("div", { class: "buttons" });
        for (const a of ["pause", "resume", "cancel"]) {
          const btn = el("button", { class: a, type: "button" }, a);
          btn.addEventListener("click", () => control(c.id, a));
          b.append(btn);
        }
        d.append(b);
      }
      if (c.error) d.append(el("div", { class: "error" }, c.error));
      box.append(d);
    }
  }
  function renderIVR(v) {
    if (!v) return;
    $("#ivr-inprogress").textContent = String(v.inProgress);
    $("#ivr-cpm").textContent = String(v.callsPerMin);
    $("#ivr-stream").hidden = v.streamHealthy;
    const ul = $("#ivr-outcomes");
    ul.replaceChildren();
    for (const k of Object.keys(v.outcomes).sort()) ul.append(el("li", { "data-outcome": k }, `${k}: ${v.outcomes[k]}`));
    const box = $("#flows");
    box.replaceChildren();
    for (const g of graphs) box.append(drawFlow(g, (v.byNode[g.flow] || {}), (v.edges[g.flow] || {}), v.byFlow[g.flow] || 0));
  }
  function drawFlow(g, here, edges, total) {
    const wrap = el("div", { class: "flow", "data-flow": g.flow });
    const h = el("h3", {}, `${g.flow}: `);
    h.append(el("span", { class: "flow-total" }, String(total)), " calls");
    wrap.append(h);
    const svg = el("svg:svg", { width: g.width, height: g.height, viewBox: `0 0 ${g.width} ${g.height}` });
    const pos = new Map(g.nodes.map((n) => [n.id, n]));
    for (const e of g.edges) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      const n = edges[e.from + ">" + e.to] || 0;
      // Forward edges go straight down; a loop and an edge back up bend
      // out to the left so they do not cover the forward ones.
      let d, lx, ly;
      if (a === b) {
        d = `M${a.x + 60},${a.y - 8} c30,0 30,16 0,16`;
        lx = a.x + 95; ly = a.y + 4;
      } else if (b.y <= a.y) {
        const cx = Math.min(a.x, b.x) - 110, cy = (a.y + b.y) / 2;
        d = `M${a.x - 60},${a.y} Q${cx},${cy} ${b.x - 60},${b.y}`;
        lx = cx + 20; ly = cy + 4;
      } else {
        d = `M${a.x},${a.y + 18} L${b.x},${b.y - 18}`;
        lx = (a.x + b.x) / 2 + 4; ly = (a.y + b.y) / 2;
      }
      svg.append(el("svg:path", { d, class: "edge" + (n ? " hot" : ""), "data-edge": e.from + ">" + e.to }));
      svg.append(el("svg:text", { x: lx, y: ly, class: "edge-label" }, e.outcome + (n ? ` (${n})` : "")));
    }
    for (const n of g.nodes) {
      const c = here[n.id] || 0;
      const grp = el("svg:g", { class: "node" + (c ? " busy" : ""), "data-node": n.id });
      grp.append(el("svg:rect", { x: n.x - 60, y: n.y - 18, width: 120, height: 36, rx: 6 }),
        el("svg:text", { x: n.x - 54, y: n.y - 3 }, n.id),
        el("svg:text", { x: n.x - 54, y: n.y + 12, "font-size": 10 }, n.kind),
        el("svg:text", { x: n.x + 40, y: n.y + 5, class: "count" }, String(c)));
      svg.append(grp);
    }
    wrap.append(svg);
    return wrap;
  }

  // ---- login ----
  const live = { cc: false, dash: false };
  function showConn() {
    $("#conn").textContent = live.cc && live.dash ? "live" : "reconnecting";
  }
  async function start() {
    const r = await fetch("/dash/api/me", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    if (!r.ok) { logout("token refused"); return; }
    me = await r.json();
    sessionStorage.setItem("fsivr-token", token);
    $("#login").hidden = true;
    $("#board").hidden = false;
    $("#logout").hidden = false;
    $("#whoami").textContent = me.name;
    const fr = await fetch("/dash/api/flows", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    graphs = fr.ok ? await fr.json() : [];
    const q = new URLSearchParams({ agents: (me.agents || []).join(","), queues: (me.queues || []).join(",") });
    streams.push(stream("/v1/events?" + q, onCallCentre, (ok, why) => {
      live.cc = ok;
      if (why) { live.cc = true; $("#agents tbody").replaceChildren(el("tr", {}, "call-centre stream " + why)); }
      showConn();
    }));
    streams.push(stream("/dash/events", (type, d) => {
      if (type !== "snapshot") return;
      renderCampaigns(d.campaigns || []);
      renderIVR(d.ivr);
    }, (ok) => { live.dash = ok; showConn(); }));
    setInterval(renderCallCentre, 1000); // "since" and waits tick
  }
  function logout(why) {
    for (const s of streams) s.stop();
    streams = [];
    sessionStorage.removeItem("fsivr-token");
    token = "";
    $("#board").hidden = true;
    $("#logout").hidden = true;
    $("#login").hidden = false;
    $("#login-error").textContent = why || "";
  }
  $("#login").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("#token").value.trim();
    start();
  });
  $("#logout").addEventListener("click", () => logout(""));
  if (token) start();
})();
