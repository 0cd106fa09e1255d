// The playground page: controls → a session in the server (real glassnet), frames streamed back and drawn.
"use strict";

const controls = JSON.parse(document.getElementById("controls").textContent);
const $ = (id) => document.getElementById(id);

const page = {
  id: null,          // the server's session id
  source: null,      // the EventSource streaming frames
  hidden: controls.defaults.hidden.slice(),
  playing: false,
  state: null,       // the last full state (points, config)
  frame: null,       // the last frame
  history: [],       // [step, train loss, test loss]
  trace: null,       // the open trace of one point
  traceIndex: 0,
  generation: 0,     // bumped on each rebuild so a slow answer for an old session is ignored
};

// ----- configuration from the controls -------------------------------------------------------------------------
function number(id) {
  const v = $(id).value.trim();
  return v === "" ? NaN : Number(v);
}

function config() {
  return {
    dataset: $("dataset").value,
    noise: number("noise"),
    train_fraction: number("train_fraction"),
    features: [...document.querySelectorAll("#features input:checked")].map((i) => i.value),
    hidden: page.hidden.slice(),
    activation: $("activation").value,
    learning_rate: number("learning_rate"),
    regularization: $("regularization").value,
    regularization_rate: number("regularization_rate"),
    batch_size: number("batch_size"),
    optimizer: $("optimizer").value,
    seed: number("seed"),
  };
}

// ----- the session ------------------------------------------------------------------------------------------------
function endSession() {
  if (page.source) { page.source.close(); page.source = null; }
  if (page.id) {
    fetch(`/api/playground/${page.id}`, { method: "DELETE", keepalive: true });
    page.id = null;
  }
}

async function rebuild() {
  const generation = ++page.generation;
  endSession();
  closeTrace();
  // a newer rebuild (a fast second click) ends this one's session: its answers are then dropped without a message
  const stale = () => generation !== page.generation;
  let created, state;
  try {
    created = await gn.api("POST", "/api/playground", config(), stale);
    if (stale()) {
      fetch(`/api/playground/${created.id}`, { method: "DELETE", keepalive: true });
      return;
    }
    page.id = created.id;
    state = await gn.api("GET", `/api/playground/${page.id}/state`, undefined, stale);
  } catch (e) {
    if (!stale()) $("network").dataset.session = "";
    return;  // the message is shown; the old network stays drawn
  }
  if (stale()) return;
  page.state = state;
  page.history = state.history.slice();
  drawNetworkLayout();
  drawFrame(state);
  $("network").dataset.session = page.id;
  page.source = new EventSource(`/api/playground/${page.id}/frames`);
  page.source.onmessage = (event) => {
    if (generation === page.generation) drawFrame(JSON.parse(event.data));
  };
  page.source.onerror = () => {  // the server went away or ended the session: say so (Reset starts a new one)
    if (generation === page.generation && page.source && page.source.readyState === EventSource.CLOSED) {
      gn.showError("the connection to this session was lost (server restarted or session ended): press Reset");
    }
  };
  page.source.addEventListener("failure", (event) => {
    page.playing = false;
    $("play").textContent = "Play";
    gn.showError(JSON.parse(event.data).error);
  });
  if (page.playing) await sendPlay();
}

async function sendPlay() {
  if (!page.id) return;
  await gn.api("POST", `/api/playground/${page.id}/play`,
               { playing: page.playing, steps_per_frame: Number($("speed").value) });
}

// ----- the network diagram ----------------------------------------------------------------------------------------
const NEURON = 36, COLUMN_GAP = 92, ROW_GAP = 46;

function layerSizes() {
  return [page.state.config.features.length, ...page.state.config.hidden, 1];
}

function neuronPosition(layer, index) {
  return { x: 8 + layer * COLUMN_GAP, y: 8 + index * ROW_GAP };
}

function drawNetworkLayout() {
  const net = $("network");
  net.querySelectorAll(".neuron, .neuron-label").forEach((n) => n.remove());
  const sizes = layerSizes();
  const rows = Math.max(...sizes);
  net.style.width = `${16 + (sizes.length - 1) * COLUMN_GAP + NEURON}px`;
  net.style.height = `${16 + (rows - 1) * ROW_GAP + NEURON + 14}px`;
  sizes.forEach((n, layer) => {
    for (let i = 0; i < n; i++) {
      const p = neuronPosition(layer, i);
      const c = gn.el("canvas", { class: "neuron", width: NEURON, height: NEURON, "data-layer": layer,
                                  "data-index": i });
      c.style.left = `${p.x}px`; c.style.top = `${p.y}px`;
      c.addEventListener("mouseenter", () => zoomNeuron(c, layer, i));
      c.addEventListener("mouseleave", () => { $("neuron-zoom").hidden = true; });
      net.append(c);
      if (layer === 0) {
        const label = gn.el("span", { class: "neuron-label", text: page.state.config.features[i] });
        label.style.left = `${p.x}px`; label.style.top = `${p.y + NEURON}px`;
        net.append(label);
      }
    }
  });
  drawLayerButtons();
  const svg = $("edges");
  svg.setAttribute("width", net.style.width);
  svg.setAttribute("height", net.style.height);
  svg.innerHTML = "";
  for (let l = 0; l + 1 < sizes.length; l++) {
    for (let j = 0; j < sizes[l + 1]; j++) {
      for (let i = 0; i < sizes[l]; i++) {
        const a = neuronPosition(l, i), b = neuronPosition(l + 1, j);
        const line = document.createElementNS("http://www.w3.org/2000/svg", "line");
        line.setAttribute("x1", a.x + NEURON); line.setAttribute("y1", a.y + NEURON / 2);
        line.setAttribute("x2", b.x); line.setAttribute("y2", b.y + NEURON / 2);
        line.setAttribute("class", "edge");
        line.dataset.layer = l; line.dataset.from = i; line.dataset.to = j;
        line.addEventListener("mouseenter", (e) => showEdge(e, l, i, j));
        line.addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
        svg.append(line);
      }
    }
  }
}

function drawLayerButtons() {
  const box = $("layer-buttons");
  box.innerHTML = "";
  box.style.width = $("network").style.width;
  page.hidden.forEach((n, l) => {
    const group = gn.el("span", { class: "layer-button" });
    group.style.left = `${8 + (l + 1) * COLUMN_GAP - 10}px`;
    const plus = gn.el("button", { class: "add-neuron", "data-layer": l, title: "Add a neuron", text: "+" });
    const minus = gn.el("button", { class: "remove-neuron", "data-layer": l, title: "Remove a neuron", text: "−" });
    plus.addEventListener("click", () => changeNeurons(l, +1));
    minus.addEventListener("click", () => changeNeurons(l, -1));
    group.append(plus, minus, gn.el("span", { class: "muted", text: ` ${n}` }));
    box.append(group);
  });
  $("layer-count").textContent = `${page.hidden.length} hidden layer${page.hidden.length === 1 ? "" : "s"}`;
}

function changeNeurons(layer, delta) {
  const n = page.hidden[layer] + delta;
  if (n < 1 || n > controls.max_neurons) return;
  page.hidden[layer] = n;
  rebuild();
}

function zoomNeuron(canvas, layer, index) {
  const zoom = $("neuron-zoom");
  const maps = page.frame && page.frame.maps;
  if (!maps) return;
  gn.drawMap(zoom, maps.neurons[layer][index], maps.neuron_size);
  const rect = canvas.getBoundingClientRect();
  zoom.style.left = `${rect.right + window.scrollX + 8}px`;
  zoom.style.top = `${rect.top + window.scrollY}px`;
  zoom.hidden = false;
}

function showEdge(event, layer, from, to) {
  const f = page.frame;
  const w = f.weights[layer][to][from];
  const g = f.gradients[layer] ? f.gradients[layer][to][from] : null;
  const tip = $("tooltip");
  tip.textContent = `weight ${gn.fmt(w)} · gradient dL/dw ${gn.fmt(g)} (last step)`;
  tip.style.left = `${event.pageX + 12}px`;
  tip.style.top = `${event.pageY + 12}px`;
  tip.hidden = false;
}

// ----- frames -----------------------------------------------------------------------------------------------------
function drawFrame(frame) {
  page.frame = frame;
  $("step-count").textContent = frame.step;
  $("train-loss").textContent = frame.train_loss === null ? "diverged" : frame.train_loss.toFixed(3);
  $("test-loss").textContent = frame.test_loss === null ? "diverged" : frame.test_loss.toFixed(3);
  const last = page.history[page.history.length - 1];
  if (!last || last[0] !== frame.step) page.history.push([frame.step, frame.train_loss, frame.test_loss]);
  if (page.history.length > 2000) page.history = page.history.filter((_, i) => i % 2 === 0);
  const maps = frame.maps;
  document.querySelectorAll("#network .neuron").forEach((c) => {
    gn.drawMap(c, maps.neurons[c.dataset.layer][c.dataset.index], maps.neuron_size);
  });
  document.querySelectorAll("#edges .edge").forEach((line) => {
    const w = frame.weights[line.dataset.layer][line.dataset.to][line.dataset.from];
    line.style.stroke = w < 0 ? "#f59322" : "#0877bd";
    line.style.strokeWidth = Math.min(8, 0.5 + 2 * Math.abs(w)).toFixed(2);
  });
  drawSurface();
  drawChart();
  drawHealth(frame.findings);
}

function toCanvas(canvas, x1, x2) {
  const plane = page.state.plane;
  return [(x1 + plane) / (2 * plane) * canvas.width, (plane - x2) / (2 * plane) * canvas.height];
}

function drawSurface() {
  const canvas = $("surface");
  gn.drawMap(canvas, page.frame.maps.output, page.frame.maps.output_size);
  const ctx = canvas.getContext("2d");
  const dot = (p, filled) => {
    const [x, y] = toCanvas(canvas, p[0], p[1]);
    ctx.beginPath();
    ctx.arc(x, y, 3, 0, 2 * Math.PI);
    ctx.fillStyle = p[2] > 0.5 ? "#0877bd" : "#f59322";
    ctx.strokeStyle = filled ? "#fff" : "#000";
    if (filled) ctx.fill();
    ctx.stroke();
  };
  page.state.train_points.forEach((p) => dot(p, true));
  if ($("show-test").checked) page.state.test_points.forEach((p) => dot(p, false));
  if (page.trace) {
    const [x, y] = toCanvas(canvas, page.trace.x[0], page.trace.x[1]);
    ctx.beginPath();
    ctx.arc(x, y, 7, 0, 2 * Math.PI);
    ctx.strokeStyle = "#d00";
    ctx.lineWidth = 2;
    ctx.stroke();
    ctx.lineWidth = 1;
  }
}

function drawChart() {
  const canvas = $("loss-chart"), ctx = canvas.getContext("2d");
  const h = page.history;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (h.length < 2) return;
  const maxStep = h[h.length - 1][0] || 1;
  const top = Math.max(...h.flatMap((r) => [r[1], r[2]]).filter((v) => v !== null && isFinite(v)), 1e-9);
  [[2, "#999"], [1, "#222"]].forEach(([k, colour]) => {
    ctx.beginPath();
    ctx.strokeStyle = colour;
    h.forEach((r, i) => {
      const x = r[0] / maxStep * (canvas.width - 2) + 1;
      const y = canvas.height - 2 - (r[k] === null ? top : r[k]) / top * (canvas.height - 4);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
}

function drawHealth(findings) {
  const box = $("health");
  box.innerHTML = "";
  if (!findings || findings.length === 0) {
    box.append(gn.el("span", { class: "muted", text: "Health: no findings yet (diagnose runs every 20 steps)." }));
    return;
  }
  for (const f of findings) {
    box.append(gn.el("div", { class: `finding ${f.severity}`, "data-kind": f.kind, title: f.remedy },
                     gn.el("b", { text: f.kind.replace(/_/g, " ") }), ` ${f.message}`));
  }
}

// ----- the trace panel ------------------------------------------------------------------------------------------
async function traceNearest(event) {
  if (!page.state || !page.id) return;
  const canvas = $("surface"), rect = canvas.getBoundingClientRect();
  const cx = (event.clientX - rect.left) * canvas.width / rect.width;
  const cy = (event.clientY - rect.top) * canvas.height / rect.height;
  let best = -1, bestDistance = Infinity;
  page.state.train_points.forEach((p, i) => {
    const [x, y] = toCanvas(canvas, p[0], p[1]);
    const d = (x - cx) ** 2 + (y - cy) ** 2;
    if (d < bestDistance) { best = i; bestDistance = d; }
  });
  if (best < 0 || bestDistance > 15 ** 2) return;
  page.trace = await gn.api("POST", `/api/playground/${page.id}/trace`, { point: best });
  page.traceIndex = 0;
  showTrace();
  drawSurface();
}

function showTrace() {
  const t = page.trace;
  $("trace-panel").hidden = false;
  $("trace-panel").dataset.point = t.point;
  $("trace-title").textContent =
    `— training point ${t.point} at (${gn.fmt(t.x[0])}, ${gn.fmt(t.x[1])}), label ${t.label}, loss ${gn.fmt(t.loss)}`;
  $("trace-total").textContent = t.steps.length;
  const list = $("trace-steps");
  list.innerHTML = "";
  t.steps.forEach((s, i) => {
    const item = gn.el("li", { "data-step": s.number }, gn.el("code", { text: s.op }), ` ${s.forward}`);
    item.addEventListener("click", () => { page.traceIndex = i; showTraceStep(); });
    list.append(item);
  });
  const grads = $("trace-grads");
  grads.innerHTML = "";
  grads.append(gn.el("tr", {}, gn.el("th", { text: "parameter" }), gn.el("th", { text: "dL/dparameter" })));
  for (const [name, g] of Object.entries(t.gradients)) {
    const row = gn.el("tr", { "data-name": name, "data-values": JSON.stringify(g) },
                      gn.el("td", {}, gn.el("code", { text: name })), gn.el("td", { text: gn.fmt(g) }));
    grads.append(row);
  }
  showTraceStep();
}

function showTraceStep() {
  const t = page.trace, s = t.steps[page.traceIndex];
  $("trace-step").textContent = page.traceIndex + 1;
  document.querySelectorAll("#trace-steps li").forEach((li, i) => li.classList.toggle("current", i === page.traceIndex));
  const box = $("trace-current");
  box.innerHTML = "";
  box.append(gn.el("h3", {}, `Step ${s.number}: `, gn.el("code", { text: s.op }), `   ${s.forward}`));
  box.append(gn.el("p", {}, gn.el("b", { text: "local derivative: " }), s.derivative));
  box.append(gn.el("p", {}, gn.el("b", { text: "upstream gradient dL/dy = " }), gn.fmt(s.upstream)));
  const table = gn.el("table", { class: "grads" },
    gn.el("tr", {}, ...["input", "value", "local derivative × upstream = dL/dinput", "goes to"].map(
      (h) => gn.el("th", { text: h }))));
  for (const inp of s.inputs) {
    table.append(gn.el("tr", {}, gn.el("td", { text: inp.label }), gn.el("td", { text: gn.fmt(inp.value) }),
                       gn.el("td", { text: inp.gradient === null ? "no gradient needed" : gn.fmt(inp.gradient) }),
                       gn.el("td", { text: inp.destination || "—" })));
  }
  box.append(table);
  highlightLayer(s.layer);
}

function highlightLayer(layer) {
  // the step belongs to linear layer `layer` (its weights: edges layer → layer+1) or the activation after it
  document.querySelectorAll("#edges .edge").forEach((e) => e.classList.toggle("hot", Number(e.dataset.layer) === layer));
  document.querySelectorAll("#network .neuron").forEach(
    (n) => n.classList.toggle("hot", page.trace !== null && Number(n.dataset.layer) === layer + 1));
}

function closeTrace() {
  page.trace = null;
  $("trace-panel").hidden = true;
  document.querySelectorAll(".hot").forEach((n) => n.classList.remove("hot"));
}

// ----- wiring -------------------------------------------------------------------------------------------------
$("play").addEventListener("click", async () => {
  page.playing = !page.playing;
  $("play").textContent = page.playing ? "Pause" : "Play";
  await sendPlay();
});
$("step").addEventListener("click", async () => {
  if (!page.id) return;
  if (page.playing) $("play").click();
  const r = await gn.api("POST", `/api/playground/${page.id}/step`, { steps: 1 });
  $("step-count").textContent = r.step;
});
$("reset").addEventListener("click", () => rebuild());
$("speed").addEventListener("change", () => sendPlay());
$("add-layer").addEventListener("click", () => {
  if (page.hidden.length >= controls.max_hidden_layers) {
    gn.showError(`at most ${controls.max_hidden_layers} hidden layers`);
    return;
  }
  page.hidden.push(2);
  rebuild();
});
$("remove-layer").addEventListener("click", () => {
  if (page.hidden.length === 0) return;
  page.hidden.pop();
  rebuild();
});
for (const id of ["dataset", "noise", "train_fraction", "batch_size", "seed", "activation", "learning_rate",
                  "regularization", "regularization_rate", "optimizer"]) {
  $(id).addEventListener("change", () => rebuild());
}
for (const id of ["noise", "train_fraction"]) {
  $(id).addEventListener("input", () => { $(`${id}-value`).textContent = $(id).value; });
}
$("features").addEventListener("change", () => rebuild());
$("show-test").addEventListener("change", () => { if (page.frame) drawSurface(); });
$("surface").addEventListener("click", traceNearest);
$("trace-prev").addEventListener("click", () => { if (page.traceIndex > 0) { page.traceIndex--; showTraceStep(); } });
$("trace-next").addEventListener("click", () => {
  if (page.trace && page.traceIndex + 1 < page.trace.steps.length) { page.traceIndex++; showTraceStep(); }
});
$("trace-close").addEventListener("click", () => { closeTrace(); if (page.frame) drawSurface(); });
// for tests and the curious: where training point i is drawn on the output map (CSS pixels from its corner)
window.playgroundPointOnSurface = (i) => {
  const canvas = $("surface"), p = page.state.train_points[i];
  const [x, y] = toCanvas(canvas, p[0], p[1]);
  return { x: x * canvas.clientWidth / canvas.width, y: y * canvas.clientHeight / canvas.height };
};
// the tab goes away: end the session now (the closing stream would end it too)
window.addEventListener("pagehide", endSession);

rebuild();
