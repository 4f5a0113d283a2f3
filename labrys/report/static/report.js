// The labrys report's own script: links the text to the plots. Bokeh draws the plots;
// this finds the page's Bokeh models by name ("ops": the operations every plot shares,
// "time-range": the shared time axis), selects operations and prints them.
"use strict";
window.labrysReport = (function () {
  let rowOfOp = null;

  function doc() {
    return window.Bokeh && Bokeh.documents && Bokeh.documents.length ? Bokeh.documents[0] : null;
  }
  function model(name) {
    const d = doc();
    return d ? d.get_model_by_name(name) : null;
  }
  function rowsOf(ops) {
    const source = model("ops");
    if (!source) return [];
    if (rowOfOp === null) {
      rowOfOp = new Map();
      source.data.idx.forEach(function (op, row) { rowOfOp.set(Number(op), row); });
    }
    return ops.map(function (op) { return rowOfOp.get(op); })
              .filter(function (row) { return row !== undefined; });
  }

  // Select the operations ``ops`` (history indices) everywhere and zoom the time axis to them.
  function highlight(ops, label) {
    const source = model("ops");
    document.body.dataset.highlighted = label;
    document.querySelectorAll("article.anomaly.active").forEach(function (a) {
      a.classList.remove("active");
    });
    const article = document.getElementById(label);
    if (article) article.classList.add("active");
    if (!source) return;
    const rows = rowsOf(ops);
    source.selected.indices = rows;
    let lo = Infinity, hi = -Infinity;
    rows.forEach(function (r) {
      lo = Math.min(lo, source.data.start[r]);
      hi = Math.max(hi, source.data.end[r]);
    });
    const range = model("time-range");
    if (range && isFinite(lo)) {
      const pad = Math.max((hi - lo) * 0.15, 0.02);
      range.setv({start: lo - pad, end: hi + pad});
    }
    const timeline = document.getElementById("timeline-section");
    if (timeline) timeline.scrollIntoView({block: "start"});
  }

  function cell(row, text, tag) {
    const td = document.createElement(tag || "td");
    td.textContent = text;
    row.appendChild(td);
  }

  // Print the selected operations (from a click on a bar, or a button) below the timeline.
  function showSelection(source) {
    const panel = document.getElementById("op-details");
    if (!panel) return;
    const rows = source.selected.indices.slice().sort(function (a, b) {
      return source.data.idx[a] - source.data.idx[b];
    });
    panel.textContent = "";
    if (rows.length === 0) {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = "Nothing selected.";
      panel.appendChild(p);
      return;
    }
    const title = document.createElement("p");
    title.textContent = rows.length === 1 ? "The selected operation:"
      : rows.length + " operations selected" + (rows.length > 50 ? " (the first 50):" : ":");
    panel.appendChild(title);
    const table = document.createElement("table");
    table.className = "ops selected-ops";
    const head = document.createElement("tr");
    ["op", "process", "f", "invoked with", "outcome", "result or error", "from", "to",
     "latency (ms)", "node"].forEach(function (h) { cell(head, h, "th"); });
    table.appendChild(head);
    const d = source.data;
    const names = source.tags[0];  // text columns hold codes into these lists
    function text(column, r) { return names[column][d[column][r]]; }
    rows.slice(0, 50).forEach(function (r) {
      const tr = document.createElement("tr");
      tr.dataset.op = d.idx[r];
      const latency = Number.isFinite(d.latency[r]) ? d.latency[r].toFixed(3) : "";
      [d.idx[r], text("process", r), text("f", r), text("invoked", r), text("type", r),
       text("result", r), d.start[r].toFixed(3), d.end[r].toFixed(3), latency, text("node", r)]
        .forEach(function (v) { cell(tr, String(v)); });
      table.appendChild(tr);
    });
    panel.appendChild(table);
  }

  document.addEventListener("click", function (event) {
    const target = event.target.closest("[data-ops]");
    if (target) {
      highlight(JSON.parse(target.dataset.ops), target.dataset.label || "");
      return;
    }
    if (event.target.id === "clear-selection") {
      const source = model("ops");
      if (source) source.selected.indices = [];
      document.body.dataset.highlighted = "";
    }
  });

  // Mark the page ready once Bokeh has drawn everything: tests and timings wait on it.
  function waitUntilDrawn() {
    const d = doc();
    const expected = document.querySelectorAll(".bk-root, [data-root-id]").length;
    if (expected === 0 || (d && d.is_idle)) {
      document.documentElement.dataset.ready = "true";
      window.labrysReadyMs = performance.now();
      return;
    }
    setTimeout(waitUntilDrawn, 20);
  }
  window.addEventListener("load", waitUntilDrawn);

  return {highlight: highlight, showSelection: showSelection};
})();
