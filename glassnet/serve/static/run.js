/* One run (or several, overlaid): curves that follow the run live, the diagnosis, the Recorder's layer
   statistics and histograms, pictures, text and configuration. */
"use strict";
(function () {
  const page = document.getElementById("page");
  const names = JSON.parse(page.dataset.runs);
  const compare = names.length > 1;
  const OVERVIEW_POINTS = 2000;
  const controls = {
    x: document.getElementById("xaxis"),
    smoothing: document.getElementById("smoothing"),
    smoothingValue: document.getElementById("smoothing-value"),
    log: document.getElementById("logscale"),
    live: document.getElementById("live"),
  };
  /* runs[name] = {info, series: {tag: {step, value, wall, epoch}}, total: {tag: n}, t0, zoom: {group: data}} */
  const runs = {};
  const charts = {};
  const zoomed = {};
  const streams = [];
  let drawPending = false;

  /* ----- grouping series into charts ------------------------------------------------------------------------ */
  function group(tag) {
    if (tag.includes("/")) return tag.split("/")[0];
    return tag.replace(/^(batch_|val_|valid_|train_|test_)/, "");
  }
  function rank(tag) {
    return tag.startsWith("batch_") ? 0 : /^(val_|valid_|test_)/.test(tag) ? 2 : 1;
  }
  function groups() {
    const out = {};
    for (const name of names) {
      for (const tag of Object.keys(runs[name] ? runs[name].series : {})) {
        (out[group(tag)] = out[group(tag)] || new Set()).add(tag);
      }
    }
    const order = (g) => (g === "loss" ? 0 : g === "lr" ? 2 : g === "time" ? 3 : 1);
    return Object.keys(out).sort((a, b) => order(a) - order(b) || a.localeCompare(b))
      .map((g) => [g, [...out[g]].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))]);
  }

  function xOf(run, s, i) {
    const axis = controls.x.value;
    if (axis === "wall") return s.wall[i] === null ? null : s.wall[i] - run.t0;
    return s[axis][i];
  }

  /* ----- drawing ---------------------------------------------------------------------------------------------- */
  function scheduleDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; drawCurves(); });
  }

  function seriesFor(g, tags, source) {
    const defs = [], tables = [];
    const weight = Number(controls.smoothing.value);
    names.forEach((name, r) => {
      const run = runs[name];
      if (!run) return;
      /* a validation series takes its training series' colour, dashed */
      const families = [...new Set(tags.map((tag) => tag.replace(/^(val_|valid_|test_)/, "")))];
      tags.forEach((tag) => {
        const s = (source(name) || {})[tag];
        if (!s) return;
        const family = families.indexOf(tag.replace(/^(val_|valid_|test_)/, ""));
        const color = gn.colors[(compare ? r : family) % gn.colors.length];
        const dash = /^(val_|valid_|test_)/.test(tag) ? [6, 4] : undefined;
        const label = compare ? `${name}: ${tag}` : tag;
        const xs = s.step.map((_, i) => xOf(run, s, i));
        const batch = tag.startsWith("batch_");
        /* per-step series are noisy: drawn faint as logged, and smoothed on top (epoch series are not) */
        if (weight > 0 && (batch || (run.total[tag] || s.step.length) >= 50)) {
          defs.push({label: label + " (raw)", color, dash, width: 1, alpha: "40"});
          tables.push([xs, s.value]);
          defs.push({label, color, dash, width: 1.5});
          tables.push([xs, gn.smooth(s.value, weight)]);
        } else {
          defs.push({label, color, dash, width: batch ? 1 : 2});
          tables.push([xs, s.value]);
        }
      });
    });
    return [defs, tables];
  }

  function drawCurves() {
    const box = document.getElementById("curves");
    const xLabel = controls.x.options[controls.x.selectedIndex].text;
    const note = box.querySelector("p.muted");
    if (note && groups().length) note.remove();
    for (const [g, tags] of groups()) {
      if (!charts[g]) {
        charts[g] = new gn.LineChart(box, g, {
          onZoom: (lo, hi) => zoomTo(g, tags, lo, hi),
          onReset: () => { delete zoomed[g]; drawCurves(); },
        });
      }
      const source = zoomed[g] ? (name) => zoomed[g][name] : (name) => runs[name].series;
      const [defs, tables] = seriesFor(g, tags, source);
      charts[g].set(defs, tables, {log: controls.log.checked, xLabel, keepZoom: Boolean(zoomed[g])});
    }
    document.body.dataset.ready = "1";
  }

  let zoomTimer = null;
  function zoomTo(g, tags, lo, hi) {
    clearTimeout(zoomTimer);
    zoomTimer = setTimeout(async () => {
      const axis = controls.x.value;
      const result = {};
      for (const name of names) {
        const run = runs[name];
        const wanted = tags.filter((t) => run.series[t]);
        if (!wanted.length) continue;
        const offset = axis === "wall" ? run.t0 : 0;
        const query = wanted.map((t) => "tag=" + encodeURIComponent(t)).join("&") +
          `&x=${axis}&xmin=${lo + offset}&xmax=${hi + offset}&max_points=${OVERVIEW_POINTS}`;
        const data = await gn.json(gn.api(name, "scalars") + "?" + query);
        result[name] = data.series;
      }
      zoomed[g] = result;
      drawCurves();
    }, 150);
  }

  /* ----- loading and following ---------------------------------------------------------------------------------- */
  async function loadSeries(name) {
    const data = await gn.json(gn.api(name, "scalars") + "?max_points=" + OVERVIEW_POINTS);
    const run = runs[name];
    run.series = data.series;
    run.total = data.total;
    let t0 = run.info.summary.started;
    if (!t0) {
      t0 = Infinity;
      for (const s of Object.values(data.series)) for (const w of s.wall) if (w !== null && w < t0) t0 = w;
    }
    run.t0 = Number.isFinite(t0) ? t0 : 0;
    return data;
  }

  function follow(name, cursor, resets) {
    const url = gn.api(name, "events") + `?cursor=${cursor}&resets=${resets}`;
    const events = new EventSource(url);
    streams.push(events);
    events.onopen = () => { controls.live.className = "live on"; };
    events.onerror = () => { controls.live.className = "live off"; };
    events.addEventListener("scalars", (e) => {
      const message = JSON.parse(e.data);
      const run = runs[name];
      for (const [tag, points] of Object.entries(message.series)) {
        const s = run.series[tag] || (run.series[tag] = {step: [], value: [], wall: [], epoch: []});
        for (const key of ["step", "value", "wall", "epoch"]) s[key].push(...points[key]);
        run.total[tag] = (run.total[tag] || 0) + points.step.length;
      }
      scheduleDraw();
      if (Date.now() - (run.infoAt || 0) > 5000) refreshInfo(name); /* findings, pictures, duration */
    });
    events.addEventListener("status", () => refreshInfo(name));
    events.addEventListener("layers", () => { if (!compare) refreshLayers(name); });
    events.addEventListener("reset", async () => {
      events.close();
      const data = await loadSeries(name);
      drawCurves();
      follow(name, data.cursor, data.resets);
    });
  }

  const infoTimers = {};
  function refreshInfo(name) {
    runs[name].infoAt = Date.now();
    clearTimeout(infoTimers[name]);
    infoTimers[name] = setTimeout(async () => {
      runs[name].info = await gn.json(gn.api(name));
      drawInfo();
    }, 300);
  }

  let layersTimer = null, layersAt = 0;
  function refreshLayers(name) {
    if (layersTimer) return;
    const wait = Math.max(0, 2000 - (Date.now() - layersAt));
    layersTimer = setTimeout(async () => {
      layersTimer = null;
      layersAt = Date.now();
      await drawLayers(name);
    }, wait);
  }

  /* ----- the other sections --------------------------------------------------------------------------------- */
  function drawInfo() {
    document.getElementById("title").textContent = compare ? "Comparing " + names.length + " runs" : names[0];
    const facts = document.getElementById("facts");
    facts.replaceChildren();
    names.forEach((name, r) => {
      const s = runs[name].info.summary;
      const epochs = s.epochs_planned ? `${gn.number(s.epochs)} / ${s.epochs_planned}` : gn.number(s.epochs);
      const items = [
        compare ? gn.el("span", {}, gn.el("span", {class: "swatch", "data-color": r}),
          gn.el("a", {href: "/run/" + encodeURIComponent(name), text: name})) : null,
        gn.badge(s.status),
        gn.el("span", {}, "what ", gn.el("b", {text: s.kind})),
        gn.el("span", {}, "epochs ", gn.el("b", {text: epochs})),
        s.best ? gn.el("span", {}, `best ${s.best.tag} `, gn.el("b", {text: gn.number(s.best.value)})) : null,
        gn.el("span", {}, "started ", gn.el("b", {text: gn.time(s.started)})),
        gn.el("span", {}, "duration ", gn.el("b", {text: gn.duration(s.duration)})),
      ];
      facts.append(gn.el("div", {class: "facts"}, items));
    });
    for (const swatch of facts.querySelectorAll(".swatch")) {
      swatch.style.background = gn.colors[Number(swatch.dataset.color) % gn.colors.length];
    }
    const problems = names.flatMap((n) => (runs[n].info.errors || []).map((e) => (compare ? n + ": " : "") + e));
    const box = document.getElementById("problems");
    box.hidden = problems.length === 0;
    box.textContent = problems.join(" · ");
    if (compare) return;
    const info = runs[names[0]].info;
    drawFindings(info.findings);
    drawTexts(info.texts);
    drawPictures(names[0], info.pictures);
    drawConfig(info.config);
    drawTour(info.tour);
  }

  function drawFindings(findings) {
    const box = document.getElementById("findings");
    box.replaceChildren();
    if (!findings.length) {
      box.append(gn.el("div", {class: "finding ok"}, gn.el("span", {class: "severity", text: "healthy"}),
        gn.el("h3", {text: "No problems found"}),
        gn.el("p", {text: "No vanishing or exploding gradients, dead or saturated units, divergence, stalled " +
          "loss or overfitting in what has been logged so far."})));
      return;
    }
    for (const f of findings) {
      const rows = Object.entries(f.evidence || {}).map(([k, v]) => gn.el("tr", {},
        gn.el("td", {text: k}), gn.el("td", {class: "num", text: Array.isArray(v) ? v.join(", ") : gn.number(v)})));
      box.append(gn.el("div", {class: "finding " + f.severity},
        gn.el("span", {class: "severity", text: f.severity}),
        gn.el("h3", {text: String(f.kind).replace(/_/g, " ")}), gn.el("p", {text: f.message}),
        f.remedy ? gn.el("p", {}, gn.el("b", {text: "What helps: "}), f.remedy) : null,
        rows.length ? gn.el("table", {}, gn.el("tbody", {}, rows)) : null,
        f.source ? gn.el("p", {class: "muted", text: "from " + f.source}) : null));
    }
  }

  function drawTexts(texts) {
    const card = document.getElementById("text-card");
    card.hidden = !texts || !texts.length;
    const box = document.getElementById("texts");
    box.replaceChildren(...(texts || []).map((t) => gn.el("div", {},
      gn.el("h3", {text: `${t.tag} · step ${t.step}`}), gn.el("pre", {class: "text", text: t.text}))));
  }

  let picturesShown = "";
  function drawPictures(name, pictures) {
    const key = JSON.stringify(pictures || []);
    if (key === picturesShown) return; /* unchanged: keep the images as they are */
    picturesShown = key;
    const card = document.getElementById("pictures-card");
    card.hidden = !pictures || !pictures.length;
    const box = document.getElementById("pictures");
    box.replaceChildren(...(pictures || []).map((p) => gn.el("figure", {},
      gn.el("img", {src: `/runs/${encodeURIComponent(name)}/artefacts/${encodeURIComponent(p.name)}?v=${p.modified}`,
        alt: p.name, loading: "lazy"}),
      gn.el("figcaption", {text: p.name}))));
  }

  function flatten(value, prefix, rows) {
    if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
      for (const [k, v] of Object.entries(value)) flatten(v, prefix ? prefix + "." + k : k, rows);
    } else {
      rows.push([prefix, typeof value === "string" ? value : JSON.stringify(value)]);
    }
    return rows;
  }

  function drawConfig(config) {
    const box = document.getElementById("config");
    if (!config) {
      box.replaceChildren(gn.el("p", {class: "muted", text: "No config.json in this run folder."}));
      return;
    }
    const rows = flatten(config, "", []).map(([k, v]) => gn.el("tr", {}, gn.el("td", {text: k}),
      gn.el("td", {}, v && v.includes("\n") ? gn.el("pre", {class: "text", text: v}) : v)));
    box.replaceChildren(gn.el("table", {class: "config"}, gn.el("tbody", {}, rows)));
  }

  function drawTour(tour) {
    const card = document.getElementById("tour-card");
    const chapters = tour && Array.isArray(tour.chapters) ? tour.chapters : [];
    card.hidden = chapters.length === 0;
    const box = document.getElementById("tour");
    box.replaceChildren(...chapters.map((ch) => {
      const rows = Object.entries(ch.results || {}).map(([k, v]) => gn.el("tr", {}, gn.el("td", {text: k}),
        gn.el("td", {class: "num", text: typeof v === "object" ? JSON.stringify(v) : gn.number(v)})));
      return gn.el("div", {}, gn.el("h3", {text: `${ch.number}. ${ch.title}`}),
        gn.el("p", {class: "muted", text: ch.status === "ran" ? `${gn.number(ch.seconds)} s` : String(ch.status)}),
        gn.el("table", {}, gn.el("tbody", {}, rows)));
    }));
  }

  const layerCharts = {};
  async function drawLayers(name) {
    const data = await gn.json(gn.api(name, "layers"));
    const card = document.getElementById("layers-card");
    card.hidden = !data.steps.length;
    if (!data.steps.length) return;
    const box = document.getElementById("layers");
    const panels = [
      ["activations", "mean"], ["activations", "std"], ["activations", "dead_fraction"],
      ["activations", "saturated_fraction"], ["params", "grad_norm"], ["params", "weight_norm"],
      ["params", "update_ratio"],
    ];
    for (const [part, stat] of panels) {
      const names_ = Object.keys(data[part]).filter((n) => (data[part][n][stat] || []).some((v) => v !== null));
      if (!names_.length) continue;
      const title = `${part === "params" ? "parameter" : "activation"} ${stat.replace(/_/g, " ")}`;
      if (!layerCharts[title]) layerCharts[title] = new gn.LineChart(box, title, {height: 200});
      const defs = names_.map((n, i) => ({label: n, color: gn.colors[i % gn.colors.length], width: 1.5}));
      const tables = names_.map((n) => [data.steps, data[part][n][stat]]);
      const log = stat === "grad_norm" || stat === "update_ratio";
      layerCharts[title].set(defs, tables, {log, xLabel: "step", keepZoom: true});
    }
    const hist = await gn.json(gn.api(name, "histograms"));
    const hcard = document.getElementById("histograms-card");
    hcard.hidden = Object.keys(hist).length === 0;
    const hbox = document.getElementById("histograms");
    hbox.replaceChildren();
    for (const [tag, items] of Object.entries(hist)) gn.heatmap(hbox, tag, items);
  }

  /* ----- controls and start ---------------------------------------------------------------------------------- */
  controls.smoothing.addEventListener("input", () => {
    controls.smoothingValue.textContent = Number(controls.smoothing.value).toFixed(2);
    scheduleDraw();
  });
  controls.log.addEventListener("change", scheduleDraw);
  controls.x.addEventListener("change", () => {
    for (const g of Object.keys(zoomed)) delete zoomed[g];
    scheduleDraw();
  });
  window.addEventListener("beforeunload", () => streams.forEach((s) => s.close()));
  if (compare) {
    for (const id of ["diagnosis-card", "layers-card", "histograms-card", "text-card", "pictures-card",
                      "tour-card", "config-card"]) {
      document.getElementById(id).hidden = true;
    }
  }

  (async function start() {
    const infos = await Promise.all(names.map((n) => gn.json(gn.api(n))));
    names.forEach((n, i) => { runs[n] = {info: infos[i], series: {}, total: {}, t0: 0}; });
    drawInfo();
    const loaded = await Promise.all(names.map(loadSeries));
    drawCurves();
    if (!Object.keys(runs[names[0]].series).length && !compare) {
      document.getElementById("curves").append(gn.el("p", {class: "muted",
        text: "No series logged yet; they appear here as the run writes them."}));
    }
    names.forEach((n, i) => follow(n, loaded[i].cursor, loaded[i].resets));
    if (!compare && infos[0].layers) await drawLayers(names[0]);
  })();
})();
