// Samsa console: live charts drawn with uPlot from the console's JSON
// endpoints (see console/doc.go). No other script runs on the pages.
(function () {
  "use strict";
  var fmtBytes = function (v) {
    if (v == null) return "";
    var u = ["B/s", "KiB/s", "MiB/s", "GiB/s"], i = 0;
    while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(1) : Math.round(v)) + " " + u[i];
  };
  var charts = {
    throughput: {
      url: function () { return "/console/api/throughput"; },
      series: [{}, { label: "Produce", stroke: "#2f6fdf", width: 2, value: function (u, v) { return fmtBytes(v); } },
                   { label: "Fetch", stroke: "#16a34a", width: 2, value: function (u, v) { return fmtBytes(v); } }],
      axes: [{}, { values: function (u, vs) { return vs.map(fmtBytes); }, size: 80 }],
      data: function (pts) { return [pts.map(function (p) { return p.t; }), pts.map(function (p) { return p.in; }), pts.map(function (p) { return p.out; })]; },
      every: 2000
    },
    lag: {
      url: function (el) { return "/console/api/groups/" + encodeURIComponent(el.dataset.group) + "/lag"; },
      series: [{}, { label: "Lag (records)", stroke: "#c2410c", width: 2 }],
      axes: [{}, { size: 70 }],
      data: function (pts) { return [pts.map(function (p) { return p.t; }), pts.map(function (p) { return p.lag; })]; },
      every: 5000
    }
  };
  function mount(el) {
    var kind = charts[el.dataset.chart];
    if (!kind || typeof uPlot === "undefined") return;
    var plot = null;
    function draw(pts) {
      var data = kind.data(pts || []);
      el.dataset.points = String(data[0].length);
      if (!plot) {
        plot = new uPlot({ width: Math.max(320, el.clientWidth), height: 220, series: kind.series, axes: kind.axes, scales: { x: { time: true } } }, data, el);
        window.addEventListener("resize", function () { plot.setSize({ width: Math.max(320, el.clientWidth), height: 220 }); });
      } else {
        plot.setData(data);
      }
    }
    function poll() {
      fetch(kind.url(el), { cache: "no-store" }).then(function (r) { return r.json(); })
        .then(draw).catch(function () {}).finally(function () { setTimeout(poll, kind.every); });
    }
    poll();
  }
  document.querySelectorAll("[data-chart]").forEach(mount);
})();
