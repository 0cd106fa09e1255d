/* Line charts on uPlot (vendor/uplot): several series with their own x values, hover values in the legend,
   drag to zoom (reported to the page, which fetches full resolution), double-click to zoom out, log scale. */
"use strict";
gn.LineChart = class {
  constructor(container, title, {onZoom = null, onReset = null, height = 240} = {}) {
    this.box = gn.el("div", {class: "chart", "data-chart": title}, gn.el("h3", {text: title}));
    container.append(this.box);
    this.onZoom = onZoom;
    this.onReset = onReset;
    this.height = height;
    this.plot = null;
    this.shape = "";
    this.zoomed = false;
    this.resizeObserver = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({width: this.width(), height: this.height});
    });
    this.resizeObserver.observe(this.box);
  }

  width() {
    return Math.max(200, this.box.clientWidth - 20);
  }

  /* defs: [{label, color, dash, width, alpha}]; tables: [[xs, ys], ...] (each xs ascending) */
  set(defs, tables, {log = false, xLabel = "step", keepZoom = false} = {}) {
    const shape = JSON.stringify([defs.map((d) => [d.label, d.color, d.dash, d.width, d.alpha]), log, xLabel]);
    const usable = tables.map(([xs, ys]) => {
      const px = [], py = [];
      for (let i = 0; i < xs.length; i++) {
        if (xs[i] === null || xs[i] === undefined || Number.isNaN(xs[i])) continue;
        const y = ys[i];
        px.push(xs[i]);
        py.push(y === null || y === undefined || (log && y <= 0) ? null : y);
      }
      return [px, py];
    });
    const data = usable.length ? uPlot.join(usable) : [[]];
    const counts = defs.map((d, i) => (usable[i] ? usable[i][1].filter((v) => v !== null).length : 0));
    this.box.dataset.points = JSON.stringify(Object.fromEntries(defs.map((d, i) => [d.label, counts[i]])));
    /* A series with few points (one per epoch, or the first point of a run) is drawn with dots too: a line
       needs two points, so a lone value would otherwise not show at all. Read at draw time by points.show. */
    this.dotted = [false].concat(counts.map((n) => n > 0 && n <= gn.LineChart.DOTS_UP_TO));
    this.box.dataset.dots = JSON.stringify(defs.filter((d, i) => this.dotted[i + 1]).map((d) => d.label));
    if (this.plot && shape === this.shape) {
      this.plot.setData(data, !(keepZoom && this.zoomed));
      return;
    }
    if (this.plot) this.plot.destroy();
    this.shape = shape;
    this.zoomed = false;
    const chart = this;
    const hover = (u, v) => (v === null || v === undefined ? "--" : gn.number(v));  // the legend's values
    const series = [{label: xLabel, value: hover}].concat(defs.map((d) => ({
      label: d.label, stroke: d.alpha ? d.color + d.alpha : d.color, width: d.width || 1.5, dash: d.dash,
      spanGaps: true, points: {show: (u, i) => chart.dotted[i], size: 6}, value: hover,
    })));
    const ticks = (u, splits) => splits.map(gn.tick);
    this.plot = new uPlot({
      width: this.width(), height: this.height, series,
      scales: {x: {time: false}, y: {distr: log ? 3 : 1}},
      axes: [{label: xLabel, values: ticks}, {size: 60, values: ticks}],
      legend: {live: true},
      cursor: {drag: {x: true, y: false}},
      hooks: {
        /* fired by a drag across the chart (uPlot then zooms to it), not by data updates */
        setSelect: [(u) => {
          if (u.select.width <= 0) return;
          chart.zoomed = true;
          const lo = u.posToVal(u.select.left, "x"), hi = u.posToVal(u.select.left + u.select.width, "x");
          if (chart.onZoom) chart.onZoom(lo, hi);
        }],
      },
    }, data, this.box);
    this.box.lineChart = this;  // for the browser tests and the console: the chart behind a .chart element
    /* bubbling up after uPlot's own double-click handler has zoomed out */
    this.plot.root.addEventListener("dblclick", () => {
      chart.zoomed = false;
      if (chart.onReset) chart.onReset();
    });
  }
};

gn.LineChart.DOTS_UP_TO = 50;

/* TensorBoard's smoothing: an exponential moving average, debiased at the start; nulls stay gaps. */
gn.smooth = function (ys, weight) {
  if (!weight) return ys;
  const out = new Array(ys.length);
  let last = 0, n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null || !Number.isFinite(y)) { out[i] = null; continue; }
    last = last * weight + (1 - weight) * y;
    n += 1;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
};

/* A heat map of histograms over steps: one column per record, rows over the value range, shade = count. */
gn.heatmap = function (container, title, items) {
  let lo = Infinity, hi = -Infinity;
  for (const h of items) {
    if (!h.edges || !h.edges.length) continue;
    lo = Math.min(lo, h.edges[0]);
    hi = Math.max(hi, h.edges[h.edges.length - 1]);
  }
  const box = gn.el("div", {class: "heatmap", "data-histogram": title}, gn.el("h3", {text: title}));
  container.append(box);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    box.append(gn.el("p", {class: "muted", text: "no values"}));
    return;
  }
  if (hi === lo) { hi = lo + 1; }
  const rows = 48, cols = items.length;
  const grid = new Float64Array(rows * cols);
  items.forEach((h, c) => {
    (h.counts || []).forEach((count, i) => {
      if (!count || !h.edges) return;
      const mid = (h.edges[i] + h.edges[i + 1]) / 2;
      const r = Math.min(rows - 1, Math.max(0, Math.floor((hi - mid) / (hi - lo) * rows)));
      grid[r * cols + c] += count;
    });
  });
  const canvas = gn.el("canvas", {width: cols, height: rows, "aria-label": title + " histograms"});
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(cols, rows);
  for (let c = 0; c < cols; c++) {
    let top = 0;
    for (let r = 0; r < rows; r++) top = Math.max(top, grid[r * cols + c]);
    for (let r = 0; r < rows; r++) {
      const share = top ? Math.log1p(grid[r * cols + c]) / Math.log1p(top) : 0;
      const at = (r * cols + c) * 4;
      image.data[at] = 255 - share * 226;
      image.data[at + 1] = 255 - share * 190;
      image.data[at + 2] = 255 - share * 120;
      image.data[at + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
  box.append(canvas, gn.el("div", {class: "axis"},
    gn.el("span", {text: `step ${items[0].step}`}), gn.el("span", {text: `values ${gn.number(lo)} … ${gn.number(hi)}`}),
    gn.el("span", {text: `step ${items[items.length - 1].step}`})));
};
