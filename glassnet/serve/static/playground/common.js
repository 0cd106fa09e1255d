// Shared by the playground and the explorers: JSON requests, the error box, and drawing encoded maps.
"use strict";

const gn = {
  // fetch JSON; on a 4xx/5xx answer show its message in the page and throw. `stale()`, when given and true by the
  // time the answer comes, means a newer request has replaced this one: its outcome must not touch the error box
  async api(method, url, body, stale) {
    const options = { method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = { error: `${response.status} ${response.statusText}` }; }
    const quiet = stale !== undefined && stale();
    if (!response.ok) {
      const message = (data && data.error) || `${response.status} ${response.statusText}`;
      if (!quiet) gn.showError(message);
      const error = new Error(message);
      error.handled = true;
      throw error;
    }
    if (!quiet) gn.showError("");
    return data;
  },

  showError(message) {
    const box = document.getElementById("error");
    box.textContent = message;
    box.hidden = !message;
  },

  // base64 bytes (0..255, 127.5 = zero) → Uint8Array
  decode(b64) {
    const raw = atob(b64);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  },

  // TF Playground's colours: orange for −1, white for 0, blue for +1
  diverging(v) {
    const t = v / 255 * 2 - 1;
    const [r, g, b] = t < 0 ? [245, 147, 34] : [8, 119, 189];
    const a = Math.abs(t);
    return [255 + (r - 255) * a, 255 + (g - 255) * a, 255 + (b - 255) * a];
  },

  grey(v) { return [v, v, v]; },

  heat(v) { // black → red → yellow, for saliency and Grad-CAM
    const t = v / 255;
    return [Math.min(255, 510 * t), Math.max(0, 510 * t - 255), 0];
  },

  // draw a size×size (or w×h) encoded map onto a canvas, scaled to its size
  drawMap(canvas, b64, width, height, palette, alpha) {
    const bytes = typeof b64 === "string" ? gn.decode(b64) : b64;
    height = height || width;
    const small = document.createElement("canvas");
    small.width = width; small.height = height;
    const sctx = small.getContext("2d");
    const image = sctx.createImageData(width, height);
    const colour = palette || gn.diverging;
    for (let i = 0; i < width * height; i++) {
      const [r, g, b] = colour(bytes[i]);
      image.data[4 * i] = r; image.data[4 * i + 1] = g; image.data[4 * i + 2] = b;
      image.data[4 * i + 3] = alpha === undefined ? 255 : Math.round(alpha * bytes[i]);  // alpha: an overlay
    }
    sctx.putImageData(image, 0, 0);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = width >= 24;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  },

  fmt(x) {
    if (x === null || x === undefined) return "—";
    if (typeof x === "string") return x;
    if (Array.isArray(x)) return "[" + x.map(gn.fmt).join(", ") + "]";
    if (x === 0) return "0";
    const a = Math.abs(x);
    return a >= 1e4 || a < 1e-3 ? x.toExponential(3) : x.toPrecision(4);
  },

  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  },
};

// errors thrown by gn.api are already shown; anything else is a bug worth seeing in the console
window.addEventListener("unhandledrejection", (e) => { if (e.reason && e.reason.handled) e.preventDefault(); });
