/* phaser-analytics dashboard: draws the charts with uPlot from the page's JSON, and pages,
   sorts and filters the executions table. Everything it shows comes from
   the JSON element #phaser-data; the numbers are computed by phaser-analytics, not here. */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("phaser-data").textContent);
  var ex = data.executions;
  var S = ex.strings;
  var COL = {};
  ex.columns.forEach(function (name, i) { COL[name] = i; });
  var STATUS = ["Success", "Partial", "Failed"];
  var PHASE_STATUS = ["Completed", "Skipped", "Failed"];
  var PAGE_SIZE = 50;

  // -- formatting (as the command line shows values) -------------------------------------
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function duration(s) {
    if (s === null || s === undefined) return "-";
    s = Math.round(s);
    if (s >= 3600) return Math.floor(s / 3600) + "h " + pad(Math.floor((s % 3600) / 60)) + "m";
    if (s >= 60) return Math.floor(s / 60) + "m " + pad(s % 60) + "s";
    return s + "s";
  }
  function count(n) {
    if (n === null || n === undefined) return "-";
    var a = Math.abs(n);
    if (a >= 1e6) return (n / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
    if (a >= 1e4) return (n / 1e3).toFixed(a >= 1e5 ? 0 : 1).replace(/\.0$/, "") + "K";
    return String(n);
  }
  function cost(usd) {
    if (usd === null || usd === undefined) return "-";
    return "$" + (usd !== 0 && Math.abs(usd) < 0.01 ? usd.toFixed(4) : usd.toFixed(2));
  }
  function delta(n) {
    if (n === null || n === undefined) return "-";
    return n > 0 ? "+" + n : String(n);
  }
  function rate(r) {
    if (r === null || r === undefined) return "-";
    return Math.round(r * 100) + "%";
  }
  function when(epoch) {
    if (epoch === null || epoch === undefined) return "-";
    var d = new Date(epoch * 1000);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
      " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }
  var BY_UNIT = { count: count, rate: rate, seconds: duration, delta: delta, tokens: count, usd: cost };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // -- charts -------------------------------------------------------------------------
  var dashboard = { charts: [], data: data };
  window.phaserDashboard = dashboard;

  function scaleRange(unit) {
    if (unit === "rate") return function () { return [0, 1]; };
    return function (u, min, max) {
      var low = Math.min(0, min === null ? 0 : min);
      var high = Math.max(0, max === null ? 0 : max);
      if (high === low) high = low + 1;
      return [low, high + (high - low) * 0.08];
    };
  }

  // Whole steps for axes that count things: no "0.5 runs".
  var WHOLE = [];
  for (var power = 1; power <= 1e12; power *= 10) WHOLE.push(power, 2 * power, 5 * power);
  var COUNTED = { count: true, tokens: true, delta: true };

  function buildChart(spec, figure) {
    var plot = figure.querySelector(".plot");
    var n = spec.x.length;
    var xs = spec.x.map(function (_, i) { return i; });
    var units = [];
    spec.series.forEach(function (s) { if (units.indexOf(s.unit) < 0) units.push(s.unit); });
    var text = cssVar("--muted"), grid = cssVar("--grid");
    var colors = spec.series.map(function (_, i) { return cssVar("--series-" + (i % 8)); });
    var scales = { x: { time: false, range: [-0.5, n - 0.5] } };
    units.forEach(function (unit) { scales[unit] = { range: scaleRange(unit) }; });
    var axes = [{
      stroke: text,
      grid: { show: false },
      ticks: { stroke: grid },
      incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      space: 60,
      values: function (u, splits) {
        // As many characters as the space between two labels holds (about 7 px each).
        var step = splits.length > 1 ? Math.abs(u.valToPos(splits[1], "x") - u.valToPos(splits[0], "x")) : u.bbox.width;
        var room = Math.max(4, Math.floor(step / 7.5) - 1);
        return splits.map(function (v) {
          if (!Number.isInteger(v) || v < 0 || v >= n) return "";
          var label = spec.x[v];
          return label.length > room ? label.slice(0, room - 1) + "…" : label;
        });
      }
    }];
    units.forEach(function (unit, i) {
      axes.push({
        scale: unit,
        side: i === 0 ? 3 : 1,
        stroke: text,
        grid: { show: i === 0, stroke: grid, width: 1 },
        ticks: { stroke: grid },
        size: unit === "seconds" || unit === "usd" ? 84 : 64,
        incrs: COUNTED[unit] ? WHOLE : undefined,
        values: function (u, splits) { return splits.map(BY_UNIT[unit] || String); }
      });
    });
    var barSeen = false;
    var series = [{}].concat(spec.series.map(function (s, i) {
      var bars = s.style === "bars" && !barSeen;
      if (bars) barSeen = true;
      var color = colors[i];
      return {
        label: s.label,
        scale: s.unit,
        stroke: color,
        width: bars ? 0 : 2,
        fill: bars ? color : undefined,
        spanGaps: false,
        paths: bars ? uPlot.paths.bars({ size: [0.6, 48], align: 0 }) : undefined,
        points: bars ? { show: false } : { show: true, size: 7, fill: color, stroke: color }
      };
    }));
    var values = [xs].concat(spec.series.map(function (s) { return s.values; }));
    var width = Math.max(plot.clientWidth || figure.clientWidth - 24, 280);
    var chart = new uPlot({
      width: width,
      height: 240,
      legend: { show: false },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      scales: scales,
      axes: axes,
      series: series
    }, values, plot);
    figure.querySelectorAll(".swatch").forEach(function (swatch) {
      swatch.style.background = colors[Number(swatch.getAttribute("data-series"))];
    });
    return { id: spec.id, plot: chart, colors: colors, spec: spec };
  }

  function drawCharts() {
    dashboard.charts.forEach(function (c) { c.plot.destroy(); });
    dashboard.charts = [];
    data.charts.forEach(function (spec) {
      var figure = document.getElementById("chart-" + spec.id);
      if (figure) dashboard.charts.push(buildChart(spec, figure));
    });
  }

  // -- executions table ------------------------------------------------------------------
  var rows = ex.rows.map(function (row, i) { return { row: row, index: i }; });
  var projects = {};
  ex.rows.forEach(function (row) { projects[row[COL.project]] = true; });
  var manyProjects = Object.keys(projects).length > 1;
  var COLUMNS = [
    { key: "started", title: "Started (UTC)", show: function (r) { return when(r[COL.started]); } },
    { key: "document", title: "Document", text: true },
    { key: "project", title: "Project", text: true, hidden: !manyProjects },
    { key: "status", title: "Status", show: function (r) { return STATUS[r[COL.status]]; } },
    { key: "duration", title: "Duration", num: true, show: function (r) { return duration(r[COL.duration]); } },
    { key: "test_delta", title: "Δ Tests", num: true, show: function (r) { return delta(r[COL.test_delta]); } },
    { key: "tokens", title: "Tokens", num: true, show: function (r) { return count(r[COL.tokens]); } },
    { key: "cost", title: "Cost", num: true, show: function (r) { return cost(r[COL.cost]); } },
    { key: "phases_completed", title: "Phases", num: true, show: function (r) {
      var done = r[COL.phases_completed], planned = r[COL.phases_planned];
      return done === null && planned === null ? "-" : (done === null ? "-" : done) + "/" + (planned === null ? "-" : planned);
    } }
  ].filter(function (c) { return !c.hidden; });

  var state = { sort: "started", dir: -1, filter: "", status: "all", page: 0, open: {} };
  var table = document.getElementById("exec-table");
  var thead = table.querySelector("thead tr");
  var tbody = table.querySelector("tbody");
  var range = document.getElementById("exec-range");
  var prev = document.getElementById("exec-prev");
  var next = document.getElementById("exec-next");

  function sortValue(row, key) {
    var v = row[COL[key]];
    if (v === null || v === undefined) return null;
    if (key === "document" || key === "project" || key === "branch") return (S[v] || "").toLowerCase();
    return v;
  }

  function haystack(entry) {
    if (entry.text === undefined) {
      var r = entry.row, d = ex.details[entry.index];
      var parts = [r[COL.id], S[r[COL.document]], S[r[COL.project]], S[r[COL.branch]]];
      d[1].forEach(function (i) { parts.push(S[i]); });
      entry.text = parts.filter(function (p) { return p; }).join("\n").toLowerCase();
    }
    return entry.text;
  }

  function selected() {
    var needle = state.filter.trim().toLowerCase();
    var chosen = rows.filter(function (entry) {
      if (state.status !== "all" && String(entry.row[COL.status]) !== state.status) return false;
      return !needle || haystack(entry).indexOf(needle) >= 0;
    });
    var key = state.sort, dir = state.dir;
    chosen.sort(function (a, b) {
      var x = sortValue(a.row, key), y = sortValue(b.row, key);
      if (x === y) return a.index - b.index;
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    return chosen;
  }

  function renderHead() {
    thead.textContent = "";
    COLUMNS.forEach(function (c) {
      var th = el("th", { scope: "col" });
      if (c.num) th.className = "num";
      if (state.sort === c.key) th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      var button = el("button", { type: "button", "data-sort": c.key }, c.title);
      button.addEventListener("click", function () {
        if (state.sort === c.key) state.dir = -state.dir;
        else { state.sort = c.key; state.dir = c.text ? 1 : -1; }
        state.page = 0;
        renderHead();
        renderBody();
      });
      th.appendChild(button);
      thead.appendChild(th);
    });
  }

  function detailTable(caption, heads, body) {
    var t = el("table");
    t.appendChild(el("caption", null, caption));
    var tr = el("tr");
    heads.forEach(function (h) { tr.appendChild(el("th", { scope: "col" }, h)); });
    t.appendChild(el("thead")).appendChild(tr);
    var tb = el("tbody");
    body.forEach(function (cells) {
      var row = el("tr");
      cells.forEach(function (c) { row.appendChild(el("td", null, c)); });
      tb.appendChild(row);
    });
    t.appendChild(tb);
    return t;
  }

  function detail(entry) {
    var r = entry.row, d = ex.details[entry.index];
    var box = el("div", { class: "execution-detail" });
    box.appendChild(el("p", null, "Execution " + r[COL.id] +
      (r[COL.branch] !== null ? " on branch " + S[r[COL.branch]] : "") + "."));
    if (d[0].length) {
      box.appendChild(detailTable("Phases", ["Phase", "Title", "Status", "Δ Tests", "Duration", "Error"],
        d[0].map(function (p) {
          return [String(p[0]), S[p[1]] || "", PHASE_STATUS[p[2]], delta(p[4]), duration(p[5]),
            p[3] === null ? "" : S[p[3]]];
        })));
    } else {
      box.appendChild(el("p", null, "The report lists no phases."));
    }
    box.appendChild(el("h4", null, "Failure reasons"));
    if (d[1].length) {
      var list = el("ul");
      d[1].forEach(function (i) { list.appendChild(el("li", null, S[i])); });
      box.appendChild(list);
    } else {
      box.appendChild(el("p", null, "None given."));
    }
    if (d[2].length) {
      box.appendChild(detailTable("Tokens and cost by model",
        ["Model", "Input", "Output", "Cache writes", "Cache reads", "Cost"],
        d[2].map(function (m) {
          return [S[m[0]], count(m[1]), count(m[2]), count(m[3]), count(m[4]), cost(m[5])];
        })));
    } else {
      box.appendChild(el("p", null, "Tokens and cost: not known."));
    }
    return box;
  }

  function toggle(entry, tr, button) {
    var id = entry.row[COL.id];
    var open = !state.open[id];
    state.open[id] = open;
    button.setAttribute("aria-expanded", String(open));
    var next = tr.nextElementSibling;
    if (next && next.classList.contains("detail")) next.remove();
    if (open) {
      var row = el("tr", { class: "detail", id: "detail-" + entry.index });
      var td = el("td", { colspan: String(COLUMNS.length) });
      td.appendChild(detail(entry));
      row.appendChild(td);
      tr.after(row);
    }
  }

  function renderBody() {
    var chosen = selected();
    var pages = Math.max(1, Math.ceil(chosen.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    var first = state.page * PAGE_SIZE;
    var shown = chosen.slice(first, first + PAGE_SIZE);
    tbody.textContent = "";
    shown.forEach(function (entry) {
      var r = entry.row;
      var tr = el("tr", { class: "execution", "data-id": r[COL.id] });
      var button;
      COLUMNS.forEach(function (c) {
        var td = el("td", c.num ? { class: "num" } : null);
        if (c.key === "document") {
          button = el("button", { type: "button", class: "open", "aria-expanded": "false",
            "aria-controls": "detail-" + entry.index }, S[r[COL.document]] || "(no document)");
          td.appendChild(button);
        } else if (c.text) {
          td.textContent = S[r[COL[c.key]]] || "-";
        } else {
          td.textContent = c.show(r);
          if (c.key === "status") td.className = "status-" + r[COL.status];
        }
        tr.appendChild(td);
      });
      tr.addEventListener("click", function (event) {
        if (event.target.closest("tr.detail")) return;
        toggle(entry, tr, button);
      });
      tbody.appendChild(tr);
      if (state.open[r[COL.id]]) {
        state.open[r[COL.id]] = false;
        toggle(entry, tr, button);
      }
    });
    range.textContent = chosen.length
      ? "Executions " + (first + 1) + "–" + (first + shown.length) + " of " + chosen.length
      : "No executions match the filter.";
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }

  function startTable() {
    document.querySelectorAll(".controls, #exec-table, .pager").forEach(function (node) {
      node.hidden = false;
    });
    var filter = document.getElementById("exec-filter");
    var status = document.getElementById("exec-status");
    filter.addEventListener("input", function () { state.filter = filter.value; state.page = 0; renderBody(); });
    status.addEventListener("change", function () { state.status = status.value; state.page = 0; renderBody(); });
    prev.addEventListener("click", function () { state.page -= 1; renderBody(); });
    next.addEventListener("click", function () { state.page += 1; renderBody(); });
    renderHead();
    renderBody();
  }

  startTable();
  drawCharts();
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", drawCharts);
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawCharts, 150);
  });
  dashboard.ready = true;
  document.documentElement.setAttribute("data-ready", "true");
})();
