// labrys serve's index: filter the table of runs and pick two to compare. The filters
// are kept in the URL's query, so a filtered view can be bookmarked or shared.
"use strict";
(function () {
  const table = document.getElementById("runs");
  if (!table) return;
  const inputs = Array.from(table.querySelectorAll("[data-filter]"));
  const rows = Array.from(table.querySelectorAll("tbody tr.run"));

  function apply() {
    const wanted = inputs.map(function (i) {
      return [i.dataset.filter, i.value.trim().toLowerCase()];
    }).filter(function (pair) { return pair[1] !== ""; });
    let shown = 0;
    rows.forEach(function (row) {
      const visible = wanted.every(function (pair) {
        const cell = row.querySelector('[data-column="' + pair[0] + '"]');
        const text = cell ? cell.textContent.trim().toLowerCase() : "";
        return pair[0] === "verdict" ? text === pair[1] : text.includes(pair[1]);
      });
      row.hidden = !visible;
      if (visible) shown += 1;
    });
    document.getElementById("shown").textContent = shown + " of " + rows.length + " runs";
    const query = new URLSearchParams();
    wanted.forEach(function (pair) { query.set(pair[0], pair[1]); });
    const search = query.toString();
    history.replaceState(null, "", search ? "?" + search : location.pathname);
  }

  const initial = new URLSearchParams(location.search);
  inputs.forEach(function (input) {
    if (initial.has(input.dataset.filter)) input.value = initial.get(input.dataset.filter);
    input.addEventListener("input", apply);
    input.addEventListener("change", apply);
  });
  apply();

  const compare = document.getElementById("compare");
  function picked() {
    return Array.from(table.querySelectorAll("input.pick:checked")).map(function (box) {
      return box.value;
    });
  }
  table.addEventListener("change", function (event) {
    if (event.target.classList.contains("pick")) compare.disabled = picked().length !== 2;
  });
  compare.addEventListener("click", function () {
    const runs = picked();
    if (runs.length === 2) {
      location.href = "/compare?a=" + encodeURIComponent(runs[0]) + "&b=" +
        encodeURIComponent(runs[1]);
    }
  });
})();
