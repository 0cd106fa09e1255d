/* The runs list: filter, select several to compare, kept current by the /api/events stream. */
"use strict";
(function () {
  const body = document.querySelector("#runs tbody");
  const filter = document.getElementById("filter");
  const compare = document.getElementById("compare");
  const live = document.getElementById("live");
  const selected = new Set();
  let rows = [];

  function best(b) {
    return b && b.tag ? `${b.tag} ${gn.number(b.value)}` : "—";
  }

  function draw() {
    const word = filter.value.trim().toLowerCase();
    body.replaceChildren();
    for (const run of rows) {
      if (word && !run.name.toLowerCase().includes(word)) continue;
      const box = gn.el("input", {type: "checkbox", "aria-label": "select " + run.name});
      box.checked = selected.has(run.name);
      box.addEventListener("change", () => {
        if (box.checked) selected.add(run.name); else selected.delete(run.name);
        compare.disabled = selected.size < 2;
      });
      const link = gn.el("a", {href: "/run/" + encodeURIComponent(run.name), text: run.name});
      const epochs = run.epochs_planned ? `${gn.number(run.epochs)} / ${run.epochs_planned}` : gn.number(run.epochs);
      const status = gn.el("span", {}, gn.badge(run.status));
      if (run.errors && run.errors.length) {
        status.append(" ", gn.el("span", {class: "problem", title: run.errors.join("\n"),
          text: run.errors.length === 1 ? "1 problem" : `${run.errors.length} problems`}));
      }
      body.append(gn.el("tr", {"data-run": run.name},
        gn.el("td", {}, box), gn.el("td", {class: "name"}, link), gn.el("td", {text: run.kind}),
        gn.el("td", {}, status), gn.el("td", {class: "num", text: epochs}), gn.el("td", {text: best(run.best)}),
        gn.el("td", {text: gn.time(run.started)}), gn.el("td", {class: "num", text: gn.duration(run.duration)})));
    }
    document.getElementById("empty").hidden = rows.length > 0;
    compare.disabled = selected.size < 2;
  }

  filter.addEventListener("input", draw);
  compare.addEventListener("click", () => {
    const query = [...selected].map((n) => "run=" + encodeURIComponent(n)).join("&");
    window.location.href = "/compare?" + query;
  });

  gn.json("/api/runs").then((data) => { rows = data; draw(); document.body.dataset.ready = "1"; });
  const events = new EventSource("/api/events");
  events.addEventListener("runs", (e) => { rows = JSON.parse(e.data); draw(); });
  events.onopen = () => { live.className = "live on"; };
  events.onerror = () => { live.className = "live off"; };
  window.addEventListener("beforeunload", () => events.close());
})();
