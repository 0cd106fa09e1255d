// The CNN explorer: draw or pick an image, see every layer of the real glassnet model, saliency and Grad-CAM.
"use strict";

const $ = (id) => document.getElementById(id);
const explorer = { info: null, result: null, drawing: false };

async function loadModel() {
  const name = $("model").value;
  $("status").textContent = name === "lenet"
    ? "Loading LeNet-5 (trained at first launch on the bundled MNIST subset, in seconds)…" : "Loading TinyVGG…";
  explorer.info = await gn.api("GET", `/api/explorer/cnn/${name}`);
  $("status").textContent = explorer.info.note;
  $("status").dataset.ready = "1";
  $("draw-box").hidden = name !== "lenet";
  const box = $("samples");
  box.innerHTML = "";
  explorer.info.samples.forEach((s) => {
    const button = gn.el("button", { title: s.name, class: "sample" });
    const c = gn.el("canvas", { width: 40, height: 40 });
    button.append(c);
    if (s.pixels) {
      gn.drawMap(c, Uint8Array.from(s.pixels), 28, 28, gn.grey);
      button.addEventListener("click", () => analyze(s.pixels, false));
    } else {
      const img = new Image();
      img.onload = () => { c.getContext("2d").drawImage(img, 0, 0, 40, 40); button.onclick = () => analyze(rgbPixels(img), false); };
      img.src = s.url;
    }
    box.append(button);
  });
  clearDrawing();
}

// an image as TinyVGG's input: centre-cropped square, 64x64, channels-first 0..255
function rgbPixels(img) {
  const c = gn.el("canvas", { width: 64, height: 64 }), ctx = c.getContext("2d");
  const side = Math.min(img.naturalWidth, img.naturalHeight);
  ctx.drawImage(img, (img.naturalWidth - side) / 2, (img.naturalHeight - side) / 2, side, side, 0, 0, 64, 64);
  const data = ctx.getImageData(0, 0, 64, 64).data, out = new Array(3 * 64 * 64);
  for (let i = 0; i < 64 * 64; i++) for (let ch = 0; ch < 3; ch++) out[ch * 4096 + i] = data[4 * i + ch];
  return out;
}

// ----- drawing ------------------------------------------------------------------------------------------------
function clearDrawing() {
  const ctx = $("draw").getContext("2d");
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, 280, 280);
}

function drawPoint(event, start) {
  const canvas = $("draw"), rect = canvas.getBoundingClientRect(), ctx = canvas.getContext("2d");
  const x = (event.clientX - rect.left) * canvas.width / rect.width;
  const y = (event.clientY - rect.top) * canvas.height / rect.height;
  ctx.strokeStyle = "#fff"; ctx.lineWidth = 20; ctx.lineCap = "round"; ctx.lineJoin = "round";
  if (start) { ctx.beginPath(); ctx.moveTo(x, y); }
  ctx.lineTo(x, y);
  ctx.stroke();
}

function drawnPixels() {
  const small = gn.el("canvas", { width: 28, height: 28 }), ctx = small.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage($("draw"), 0, 0, 28, 28);
  const data = ctx.getImageData(0, 0, 28, 28).data;
  return Array.from({ length: 784 }, (_, i) => data[4 * i]);
}

$("draw").addEventListener("pointerdown", (e) => {
  explorer.drawing = true; $("draw").setPointerCapture(e.pointerId); drawPoint(e, true);
});
$("draw").addEventListener("pointermove", (e) => { if (explorer.drawing) drawPoint(e, false); });
$("draw").addEventListener("pointerup", () => {
  if (!explorer.drawing) return;
  explorer.drawing = false;
  analyze(drawnPixels(), true);
});
$("clear").addEventListener("click", clearDrawing);
$("model").addEventListener("change", loadModel);

// ----- the model's answer -----------------------------------------------------------------------------------------
async function analyze(pixels, center) {
  const r = await gn.api("POST", `/api/explorer/cnn/${explorer.info.model}/analyze`, { pixels, center });
  explorer.result = r;
  const classes = explorer.info.classes;
  $("prediction").textContent = classes[r.prediction];
  $("prediction").dataset.class = r.prediction;
  const bars = $("probabilities");
  bars.innerHTML = "";
  r.probabilities.forEach((p, k) => {
    const bar = gn.el("div", { class: k === r.prediction ? "bar top" : "bar" });
    bar.style.width = `${Math.max(1, 100 * p)}%`;
    bars.append(gn.el("span", { text: classes[k] }), gn.el("div", {}, bar), gn.el("span", { text: `${(100 * p).toFixed(1)}%` }));
  });
  // the input, then saliency and Grad-CAM laid over it (opaque where the map is strong)
  for (const [id, overlay] of [["input-view", null], ["saliency", r.saliency], ["gradcam", r.grad_cam]]) {
    const canvas = $(id);
    if (r.layers[0].shape[0] === 3) drawRgb(canvas, r);
    else gn.drawMap(canvas, r.input, r.size, r.size, gn.grey);
    if (overlay) gn.drawMap(canvas, overlay, r.size, r.size, gn.heat, 0.85);
  }
  drawLayers(r);
}

function drawRgb(canvas, r) {
  const [c0, c1, c2] = r.layers[0].maps.map(gn.decode), n = r.size;
  const small = gn.el("canvas", { width: n, height: n }), ctx = small.getContext("2d"), img = ctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    img.data[4 * i] = (c0[i] - 127.5) * 2; img.data[4 * i + 1] = (c1[i] - 127.5) * 2;
    img.data[4 * i + 2] = (c2[i] - 127.5) * 2; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  canvas.getContext("2d").drawImage(small, 0, 0, canvas.width, canvas.height);
}

function drawLayers(r) {
  const box = $("layers");
  box.innerHTML = "";
  for (const layer of r.layers) {
    const row = gn.el("div", { class: "layer-row", "data-layer": layer.name },
                      gn.el("span", { class: "name", text: `${layer.name} ${layer.kind} ${layer.shape.join("×")}` }));
    if (layer.maps) {
      const [, h, w] = layer.shape, shown = Math.max(40, Math.min(64, 4 * h));  // CSS pixels on screen
      layer.maps.forEach((m, c) => {
        const canvas = gn.el("canvas", { class: "fmap", width: w, height: h,
                                         title: `${layer.name} channel ${c}`, "data-channel": c });
        canvas.style.width = `${shown}px`;
        canvas.style.height = `${Math.round(shown * h / w)}px`;
        gn.drawMap(canvas, m, w, h);
        canvas.addEventListener("click", () => showFilter(layer.name, c));
        row.append(canvas);
      });
    } else {  // a vector: one strip of cells
      const n = layer.values.length, canvas = gn.el("canvas", { class: "fmap", width: Math.min(600, 5 * n), height: 14 });
      const bytes = Uint8Array.from(layer.values, (v) => Math.round((Math.max(-1, Math.min(1, v)) + 1) * 127.5));
      gn.drawMap(canvas, bytes, n, 1);
      row.append(canvas);
    }
    box.append(row);
  }
}

function showFilter(layerName, channel) {
  const box = $("filter"), filters = explorer.info.filters[layerName];
  box.innerHTML = "";
  if (!filters) {
    box.append(gn.el("p", { class: "muted", text: `${layerName} is not a convolution: it has no filter (click a Conv2d row).` }));
    box.hidden = false;
    return;
  }
  const [, inChannels, kh, kw] = filters.shape;
  box.append(gn.el("h3", { text: `Filter ${channel} of ${layerName}: ${inChannels} input channel(s) × ${kh}×${kw}, ` +
                                 `colours scaled to ±${gn.fmt(filters.scale)}` }));
  const row = gn.el("div", { class: "layer-row" });
  filters.maps[channel].forEach((m, i) => {
    const c = gn.el("canvas", { class: "fmap", width: kw * 10, height: kh * 10, title: `input channel ${i}` });
    gn.drawMap(c, m, kw, kh);
    row.append(c);
  });
  box.append(row);
  box.hidden = false;
}

loadModel();
