/* glassnet serve: small helpers shared by the pages. Every string from a run folder is put into the page with
   textContent (never innerHTML), so a run name like <img onerror=...> shows as text. */
"use strict";
const gn = {
  /* an element with attributes and children (strings become text nodes) */
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  },
  async json(url) {
    const response = await fetch(url, {credentials: "same-origin"});
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  },
  api(name, part) {
    return "/api/runs/" + encodeURIComponent(name) + (part ? "/" + part : "");
  },
  number(v) {
    if (v === null || v === undefined) return "—";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v)) return v.toLocaleString("en");
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(4);
  },
  /* An axis tick: exact to 6 significant digits (so 0.0005 and 0.0015 stay apart, and a learning rate of 3e-4 is
     not "0" as with three decimals), in exponent form only for very small or very large magnitudes. */
  tick(v) {
    if (v === null || v === undefined) return "";
    const a = Math.abs(v), short = Number(v.toPrecision(6));
    if (a !== 0 && (a < 1e-4 || a >= 1e9)) return short.toExponential();
    return short.toLocaleString("en", {maximumFractionDigits: 20});
  },
  time(seconds) {
    if (!seconds) return "—";
    const d = new Date(seconds * 1000);
    return d.toISOString().slice(0, 16).replace("T", " ");
  },
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    if (seconds < 3600) return (seconds / 60).toFixed(1) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  },
  badge(status) {
    return gn.el("span", {class: "badge " + String(status).replace(/\s+/g, "-"), text: status});
  },
  colors: ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22"],
};
