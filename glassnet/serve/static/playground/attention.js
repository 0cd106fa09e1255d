// The attention explorer: train the tour's reverser on demand, then read its attention for any 8 digits.
"use strict";

const $ = (id) => document.getElementById(id);
let result = null;

async function train() {
  $("train").disabled = true;
  $("train-status").textContent = "Training…";
  try {
    const s = await gn.api("POST", "/api/explorer/attention/train", { steps: Number($("steps").value) });
    $("train-status").textContent =
      `Trained: ${s.steps} Adam steps in ${s.seconds} s, loss ${gn.fmt(s.loss)}, ${(100 * s.digit_accuracy).toFixed(1)}% of digits right.`;
    $("train-status").dataset.trained = "1";
    await run();
  } finally {
    $("train").disabled = false;
  }
}

async function run() {
  const text = $("digits").value.trim();
  if (!/^[0-9]{8}$/.test(text)) { gn.showError("input digits: type exactly 8 digits 0-9"); return; }
  result = await gn.api("POST", "/api/explorer/attention/run", { digits: [...text].map(Number) });
  $("output").textContent = result.output.join(" ");
  $("output").dataset.output = result.output.join("");
  drawTokens();
  drawHeatmaps();
}

function drawTokens() {
  const inputs = $("input-tokens"), outputs = $("output-tokens");
  inputs.innerHTML = ""; outputs.innerHTML = "";
  result.input.forEach((d, j) => inputs.append(gn.el("span", { class: "token", "data-pos": j, text: d })));
  result.output.forEach((d, i) => {
    const t = gn.el("span", { class: "token", "data-pos": i, text: d,
                              title: `confidence ${(100 * result.confidence[i]).toFixed(1)}%` });
    t.addEventListener("mouseenter", () => highlight(i));
    t.addEventListener("mouseleave", () => highlight(-1));
    outputs.append(t);
  });
}

function highlight(i) {
  const weights = i < 0 ? null : result.layers[0].heads[0][i];  // first layer, first head
  document.querySelectorAll("#input-tokens .token").forEach((t, j) => {
    t.style.background = weights ? `rgba(8, 119, 189, ${weights[j].toFixed(3)})` : "";
    t.style.color = weights && weights[j] > 0.5 ? "#fff" : "";
  });
}

function drawHeatmaps() {
  const box = $("heatmaps");
  box.innerHTML = "";
  result.layers.forEach((layer) => {
    layer.heads.forEach((head, h) => {
      const n = head.length, cell = 26;
      const canvas = gn.el("canvas", { width: n * cell, height: n * cell, class: "heatmap",
                                       title: "rows: output position, columns: input position" });
      const ctx = canvas.getContext("2d");
      head.forEach((row, i) => row.forEach((w, j) => {
        ctx.fillStyle = `rgba(8, 119, 189, ${w})`;
        ctx.fillRect(j * cell, i * cell, cell - 1, cell - 1);
      }));
      box.append(gn.el("h3", { text: `${layer.name}, head ${h}` }), canvas);
    });
  });
}

$("train").addEventListener("click", train);
$("run").addEventListener("click", run);
$("random").addEventListener("click", () => {
  $("digits").value = Array.from({ length: 8 }, () => Math.floor(Math.random() * 10)).join("");
  run();
});
