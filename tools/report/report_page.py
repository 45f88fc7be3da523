"""The HTML page of mallocim_report.py: one self-contained file, the data embedded as JSON and
drawn by the inline script below (SVG). Nothing is fetched: no fonts, scripts or images.

The script sets <body data-rendered="ok"> once every figure has drawn without an exception, and
data-error="..." from window.onerror; each figure's element carries data-box="x,y,w,h" (page
coordinates). tests/report/test_browser.py reads both.
"""

import html

CSS = r"""
:root{--bg:#f4f5f8;--card:#fff;--ink:#1c2230;--muted:#6b7385;--line:#e3e6ec;--accent:#3d6fd9;
--rss:#5b8def;--live:#2fa36b;--est:#e8833a;--warn:#c2410c}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
"Noto Sans",sans-serif;color:var(--ink);background:var(--bg)}
main{width:1200px;max-width:100%;margin:0 auto;padding:22px 24px 40px}
header{display:flex;align-items:baseline;gap:14px;flex-wrap:wrap;margin-bottom:14px}
header h1{font-size:20px;margin:0;font-weight:650;letter-spacing:-.01em}
header .prog{color:var(--muted);font-size:13px;overflow-wrap:anywhere}
.finding{background:linear-gradient(100deg,#fff 0%,#f7f9ff 100%);border:1px solid var(--line);
border-left:5px solid var(--accent);border-radius:10px;padding:14px 18px;margin:0 0 14px}
.finding.k-leak,.finding.k-class_free{border-left-color:var(--warn)}
.finding .big{font-size:18px;line-height:1.4;font-weight:560}
.finding ul{margin:8px 0 0;padding-left:18px;color:#3b4356}
.finding li{margin:2px 0}
.tiles{display:grid;grid-template-columns:repeat(6,1fr);gap:10px;margin-bottom:14px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 14px}
.tile .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.tile .v{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums;white-space:nowrap}
.tile .s{color:var(--muted);font-size:12px}
.tile.warn .s{color:var(--warn);font-weight:600}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 18px 16px;
margin:0 0 14px}
.card h2{font-size:15px;margin:0;font-weight:650}
.card .hd{display:flex;align-items:center;gap:12px;margin-bottom:6px;flex-wrap:wrap}
.card .sub{color:var(--muted);font-size:12.5px;margin:0 0 8px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.grid2>.card{margin:0 0 14px;min-width:0}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;color:#3b4356;margin:2px 0 6px}
.legend span{display:inline-flex;align-items:center;gap:5px}
.legend i{display:inline-block;width:12px;height:10px;border-radius:2px}
.seg{margin-left:auto;display:inline-flex;border:1px solid var(--line);border-radius:7px;overflow:hidden}
.seg button{font:inherit;font-size:12px;border:0;background:#fff;padding:3px 10px;cursor:pointer;
color:var(--muted)}
.seg button.on{background:var(--accent);color:#fff}
.plot{position:relative;width:100%}
.plot svg{display:block}
.empty{color:var(--muted);font-style:italic;padding:28px 0;text-align:center;background:#fafbfc;
border-radius:8px}
svg text{font-size:11px;fill:#6b7385;font-family:inherit}
svg .axis line,svg .grid line{stroke:#e9ecf1}
svg .axis path{stroke:#c9ced8}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;text-align:left;border-bottom:1px solid #eef0f4;vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12px;cursor:pointer;user-select:none;white-space:nowrap}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th.sorted::after{content:" \25BE"}
tr.site{cursor:pointer}
tr.site:hover td{background:#f6f8fd}
td .fn{font-weight:560;overflow-wrap:anywhere}
td .loc{color:var(--muted);font-size:12px;overflow-wrap:anywhere}
td .bar{height:4px;border-radius:2px;background:var(--live);margin-top:3px;opacity:.75}
tr.stack td{background:#fafbfd;font-size:12px}
tr.stack ol{margin:2px 0;padding-left:22px}
tr.stack li{margin:1px 0}
tr.stack .m{color:var(--muted)}
.more{margin-top:8px;font:inherit;font-size:12.5px;border:1px solid var(--line);background:#fff;
border-radius:7px;padding:4px 12px;cursor:pointer;color:var(--accent)}
#flame{max-height:560px;overflow:auto;border-radius:6px}
#flame rect{stroke:#fff;stroke-width:.6;cursor:pointer}
#flame text{fill:#1c2230;font-size:11px;pointer-events:none}
.bk{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:4px 18px;margin-top:10px;
font-size:12.5px}
.bk div{display:flex;align-items:center;gap:7px}
.bk i{width:11px;height:11px;border-radius:2px;flex:none}
.bk b{font-weight:600;font-variant-numeric:tabular-nums;margin-left:auto;white-space:nowrap}
.bk em{color:var(--muted);font-style:normal;width:42px;text-align:right}
.notes{color:#3b4356;font-size:12.5px}
.notes li{margin:3px 0}
footer{color:var(--muted);font-size:12px;margin-top:10px}
#tip{position:fixed;z-index:10;pointer-events:none;background:rgba(28,34,48,.94);color:#fff;font-size:12px;
padding:7px 9px;border-radius:7px;max-width:460px;display:none;line-height:1.4;
box-shadow:0 4px 14px rgba(0,0,0,.18)}
#tip b{font-weight:600}
#tip .d{color:#c7cede}
"""

JS = r"""
"use strict";
(function () {
var body = document.body;
window.onerror = function (msg, src, line, col) {
  body.setAttribute('data-error', String(msg) + ' @' + line + ':' + col);
  return false;
};
var D = JSON.parse(document.getElementById('profile-data').textContent);
var SVGNS = 'http://www.w3.org/2000/svg';
var tip = document.getElementById('tip');

// ---- helpers -------------------------------------------------------------------------------
function el(tag, attrs, parent, text) {
  var e = document.createElementNS(SVGNS, tag);
  if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function h(tag, cls, parent, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function fmtBytes(b) {
  var a = Math.abs(b);
  if (a < 1024) return Math.round(b) + ' B';
  var u = ['KiB', 'MiB', 'GiB', 'TiB'], v = b / 1024, i = 0;
  while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (Math.abs(v) < 10 ? v.toFixed(1) : String(Math.round(v))) + ' ' + u[i];
}
function fmtMs(ms) {
  if (ms === null || ms === undefined) return '\u2013';
  if (ms === 'inf') return 'live at exit';
  if (ms < 1) return ms > 0 || ms === 0 ? '<1 ms' : Math.round(ms) + ' ms';
  if (ms < 1000) return Math.round(ms) + ' ms';
  var s = ms / 1000;
  if (s < 60) return (s < 10 ? s.toFixed(2) : s.toFixed(1)) + ' s';
  var m = Math.floor(s / 60);
  return m + ' min ' + Math.round(s - 60 * m) + ' s';
}
function fmtCount(n) {
  if (n < 1000) return String(Math.round(n));
  var d = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (var i = 0; i < d.length; i++) if (n >= d[i][0]) {
    var v = n / d[i][0];
    return (v < 10 ? v.toFixed(1) : String(Math.round(v))) + d[i][1];
  }
  return String(n);
}
function pct(a, b) { return b > 0 ? (100 * a / b).toFixed(a / b < 0.1 ? 1 : 0) + '%' : '\u2013'; }
// "Nice" ticks: 1, 2, 5 times a power of ten of the display unit (bytes: of KiB/MiB/GiB).
function niceStep(range, n) {
  var raw = range / Math.max(n, 1), p = Math.pow(10, Math.floor(Math.log10(raw))), r = raw / p;
  return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * p;
}
function byteTicks(max, n) {
  if (!(max > 0)) return [0];
  var unit = 1;
  while (max / unit >= 1024 && unit < Math.pow(1024, 4)) unit *= 1024;
  var step = niceStep(max / unit, n) * unit, t = [];
  for (var v = 0; v <= max * 1.0001; v += step) t.push(v);
  return t;
}
function showTip(ev, lines) {
  tip.textContent = '';
  lines.forEach(function (l, i) {
    var d = h('div', i ? 'd' : '', tip);
    if (i === 0) h('b', '', d, l); else d.textContent = l;
  });
  tip.style.display = 'block';
  var x = ev.clientX + 14, y = ev.clientY + 14, w = tip.offsetWidth, hh = tip.offsetHeight;
  if (x + w > window.innerWidth - 8) x = ev.clientX - w - 14;
  if (y + hh > window.innerHeight - 8) y = ev.clientY - hh - 14;
  tip.style.left = Math.max(4, x) + 'px';
  tip.style.top = Math.max(4, y) + 'px';
}
function hideTip() { tip.style.display = 'none'; }
function empty(root, msg) {
  root.textContent = '';
  root.setAttribute('data-empty', '1');
  h('div', 'empty', root, msg);
}
function clear(root) { root.textContent = ''; root.removeAttribute('data-empty'); }
function bisect(arr, x, key) {  // first index with key(arr[i]) >= x
  var lo = 0, hi = arr.length;
  while (lo < hi) { var m = (lo + hi) >> 1; if (key(arr[m]) < x) lo = m + 1; else hi = m; }
  return lo;
}
var PALETTE = ['#5b8def', '#f08a4b', '#2fa36b', '#a66bd6', '#e5b83b', '#3fb6c4', '#e06a8d', '#8a9b3a',
               '#9aa3b5', '#c9743a'];

// Axes for a time plot: x in ms, y in bytes; returns the scales.
function timeAxes(svg, W, H, m, tmax, ymax) {
  var x = function (t) { return m.l + (W - m.l - m.r) * t / tmax; };
  var y = function (v) { return H - m.b - (H - m.t - m.b) * v / ymax; };
  var g = el('g', {'class': 'grid'}, svg);
  byteTicks(ymax, 5).forEach(function (v) {
    el('line', {x1: m.l, x2: W - m.r, y1: y(v), y2: y(v)}, g);
    el('text', {x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end'}, svg, fmtBytes(v));
  });
  var step = niceStep(tmax, 8);
  for (var t = 0; t <= tmax * 1.0001; t += step) {
    el('line', {x1: x(t), x2: x(t), y1: H - m.b, y2: H - m.b + 4, stroke: '#c9ced8'}, svg);
    el('text', {x: x(t), y: H - m.b + 16, 'text-anchor': 'middle'}, svg, t === 0 ? '0' : fmtMs(t));
  }
  el('line', {x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, stroke: '#c9ced8'}, svg);
  return {x: x, y: y};
}
function legend(parent, items) {
  var lg = h('div', 'legend', parent);
  items.forEach(function (it) {
    var s = h('span', '', lg);
    var i = h('i', '', s);
    i.style.background = it[1];
    if (it[2]) i.style.cssText += ';background:none;border-top:2px dashed ' + it[1] + ';height:0';
    s.appendChild(document.createTextNode(it[0]));
  });
}

// ---- 1. live and RSS over time -------------------------------------------------------------
function plotTimeline() {
  var root = document.getElementById('timeline');
  var T = D.timeline, snaps = T.snap || [], est = T.est || [];
  clear(root);
  if (!snaps.length && !est.length) return empty(root, 'No snapshots and no samples in this profile.');
  var items = [];
  if (snaps.length) items.push(['RSS', PALETTE[0]], ['live (exact, snapshots)', PALETTE[2]]);
  if (est.length) items.push(['live (sampled estimate)', PALETTE[1], true]);
  legend(root, items);
  var W = root.clientWidth, H = 270, m = {l: 66, r: 18, t: 16, b: 26};
  var tmax = Math.max(D.duration_ms || 0, 1);
  snaps.forEach(function (s) { tmax = Math.max(tmax, s[0]); });
  est.forEach(function (p) { tmax = Math.max(tmax, p[0]); });
  var ymax = 1;
  snaps.forEach(function (s) { ymax = Math.max(ymax, s[1], s[2]); });
  est.forEach(function (p) { ymax = Math.max(ymax, p[1]); });
  ymax *= 1.08;
  var svg = el('svg', {width: W, height: H}, root);
  var a = timeAxes(svg, W, H, m, tmax, ymax);
  function area(idx, color) {
    var d = 'M' + a.x(snaps[0][0]) + ',' + a.y(0);
    snaps.forEach(function (s) { d += 'L' + a.x(s[0]).toFixed(1) + ',' + a.y(s[idx]).toFixed(1); });
    d += 'L' + a.x(snaps[snaps.length - 1][0]) + ',' + a.y(0) + 'Z';
    el('path', {d: d, fill: color, 'fill-opacity': 0.22, stroke: 'none'}, svg);
    var l = '';
    snaps.forEach(function (s, i) { l += (i ? 'L' : 'M') + a.x(s[0]).toFixed(1) + ',' + a.y(s[idx]).toFixed(1); });
    el('path', {d: l, fill: 'none', stroke: color, 'stroke-width': 2}, svg);
  }
  if (snaps.length) { area(1, PALETTE[0]); area(2, PALETTE[2]); }
  if (snaps.length <= 40) {  // few snapshots: show where the lines are measured, not interpolated
    snaps.forEach(function (s) {
      el('circle', {cx: a.x(s[0]), cy: a.y(s[1]), r: 2.6, fill: PALETTE[0]}, svg);
      el('circle', {cx: a.x(s[0]), cy: a.y(s[2]), r: 2.6, fill: PALETTE[2]}, svg);
    });
  }
  if (est.length) {  // a step function: each value holds until the next point
    var d = 'M' + a.x(0) + ',' + a.y(0), prevY = a.y(0);
    est.forEach(function (p) { var yy = a.y(p[1]).toFixed(1); d += 'L' + a.x(p[0]).toFixed(1) + ',' + prevY + 'L' + a.x(p[0]).toFixed(1) + ',' + yy; prevY = yy; });
    d += 'L' + a.x(tmax).toFixed(1) + ',' + prevY;
    el('path', {d: d, fill: 'none', stroke: PALETTE[1], 'stroke-width': 1.6, 'stroke-dasharray': '5 3'}, svg);
  }
  var placed = [];
  function marker(pk, color, text, below) {
    if (!pk) return;
    var px = a.x(pk.t), py = a.y(pk.bytes);
    el('circle', {cx: px, cy: py, r: 4.5, fill: '#fff', stroke: color, 'stroke-width': 2.2}, svg);
    var right = px < W * 0.7;
    // the label goes on the preferred side unless that would leave the plot area
    if (below && py + 16 > H - m.b - 4) below = false;
    if (!below && py - 8 < m.t + 10) below = true;
    var ly = py + (below ? 16 : -8);
    // and clear of a label already placed nearby
    placed.forEach(function (q) {
      if (Math.abs(q[0] - px) < 260 && Math.abs(q[1] - ly) < 14) ly = q[1] + (ly >= q[1] && ly + 14 < H - m.b ? 14 : -14);
    });
    placed.push([px, ly]);
    el('text', {x: px + (right ? 8 : -8), y: ly, 'text-anchor': right ? 'start' : 'end',
      style: 'fill:' + color + ';font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px'}, svg, text);
  }
  marker(T.peak_rss, '#2f5fc4', T.peak_rss ? 'peak RSS ' + fmtBytes(T.peak_rss.bytes) + ' at ' + fmtMs(T.peak_rss.t) : '', false);
  marker(T.peak_est, '#c2621f', T.peak_est ? 'peak sampled live ' + fmtBytes(T.peak_est.bytes) + ' at ' + fmtMs(T.peak_est.t) : '', true);
  // hover: the nearest snapshot and the estimate at that time
  var cross = el('line', {y1: m.t, y2: H - m.b, stroke: '#9aa3b5', 'stroke-dasharray': '3 3', visibility: 'hidden'}, svg);
  var ov = el('rect', {x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, fill: 'transparent'}, svg);
  ov.addEventListener('mousemove', function (ev) {
    var r = svg.getBoundingClientRect(), t = (ev.clientX - r.left - m.l) / (W - m.l - m.r) * tmax;
    var lines = [fmtMs(t)];
    if (snaps.length) {
      var i = Math.min(bisect(snaps, t, function (s) { return s[0]; }), snaps.length - 1);
      if (i > 0 && Math.abs(snaps[i - 1][0] - t) < Math.abs(snaps[i][0] - t)) i--;
      var s = snaps[i];
      lines[0] = 'snapshot at ' + fmtMs(s[0]);
      lines.push('RSS ' + fmtBytes(s[1]) + ' \u00b7 live ' + fmtBytes(s[2]) + ' \u00b7 free resident ' + fmtBytes(s[3]) + ' \u00b7 metadata ' + fmtBytes(s[4]));
      t = s[0];
    }
    if (est.length) {
      var j = bisect(est, t + 1e-9, function (p) { return p[0]; }) - 1;
      lines.push('sampled live estimate ' + fmtBytes(j >= 0 ? est[j][1] : 0));
    }
    cross.setAttribute('x1', a.x(t)); cross.setAttribute('x2', a.x(t));
    cross.setAttribute('visibility', 'visible');
    showTip(ev, lines);
  });
  ov.addEventListener('mouseleave', function () { hideTip(); cross.setAttribute('visibility', 'hidden'); });
}

// ---- 2/3. histograms -----------------------------------------------------------------------
function plotBars(rootId, bars, key, color, extra) {
  var root = document.getElementById(rootId);
  clear(root);
  var all = bars.slice();
  if (extra && extra.v > 0) all.push(extra);
  var total = 0;
  all.forEach(function (b) { total += b[key]; });
  if (!all.length || !(total > 0)) return empty(root, 'No sampled allocations.');
  var W = root.clientWidth, H = 240, m = {l: 58, r: 10, t: 12, b: 42};
  var ymax = 0;
  all.forEach(function (b) { ymax = Math.max(ymax, b[key]); });
  ymax *= 1.1;
  var svg = el('svg', {width: W, height: H}, root);
  var y = function (v) { return H - m.b - (H - m.t - m.b) * v / ymax; };
  var ticks = key === 'bytes' ? byteTicks(ymax, 4) : (function () {
    var s = niceStep(ymax, 4), t = []; for (var v = 0; v <= ymax; v += s) t.push(v); return t; })();
  var g = el('g', {'class': 'grid'}, svg);
  ticks.forEach(function (v) {
    el('line', {x1: m.l, x2: W - m.r, y1: y(v), y2: y(v)}, g);
    el('text', {x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end'}, svg, key === 'bytes' ? fmtBytes(v) : fmtCount(v));
  });
  var extraOn = !!(extra && extra.v > 0), n = all.length, gap = extraOn ? 1 : 0;
  var bw = (W - m.l - m.r) / (n + gap * 0.6), labelEvery = Math.ceil(n / Math.max(1, Math.floor((W - m.l - m.r) / 46)));
  all.forEach(function (b, i) {
    var isExtra = extra && b === extra;
    var x0 = m.l + bw * i + (isExtra ? bw * 0.6 : 0);
    var v = b[key], top = y(v);
    var r = el('rect', {x: x0 + 1.5, y: top, width: Math.max(bw - 3, 1), height: Math.max(H - m.b - top, v > 0 ? 1 : 0),
      rx: 2, fill: isExtra ? '#9aa3b5' : color}, svg);
    if (isExtra) r.setAttribute('fill-opacity', 0.85);
    // the never-freed bar's label is anchored at the right edge; labels it would cover are left out
    if (isExtra) el('text', {x: W - m.r, y: H - m.b + 14, 'text-anchor': 'end', style: 'font-weight:600'}, svg, b.label);
    else if (i % labelEvery === 0 && (!extraOn || x0 + bw / 2 + 22 < W - m.r - 6.2 * extra.label.length))
      el('text', {x: x0 + bw / 2, y: H - m.b + 14, 'text-anchor': 'middle'}, svg, b.label);
    r.addEventListener('mousemove', function (ev) {
      showTip(ev, [b.range || b.label, fmtCount(b.count) + ' allocations (est.) \u00b7 ' + fmtBytes(b.bytes) + ' (est.)',
        pct(b[key], total) + ' of all ' + (key === 'bytes' ? 'bytes' : 'allocations')]);
    });
    r.addEventListener('mouseleave', hideTip);
  });
  el('line', {x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, stroke: '#c9ced8'}, svg);
  el('text', {x: (W + m.l) / 2, y: H - 6, 'text-anchor': 'middle'}, svg, rootId === 'sizes' ? 'requested size (log\u2082 buckets)' : 'lifetime (log\u2082 buckets)');
}
function toggle(segId, draw) {
  var seg = document.getElementById(segId), btns = seg.querySelectorAll('button');
  Array.prototype.forEach.call(btns, function (b) {
    b.addEventListener('click', function () {
      Array.prototype.forEach.call(btns, function (o) { o.classList.toggle('on', o === b); });
      draw(b.getAttribute('data-k')); markBoxes();
    });
  });
  return function () { return seg.querySelector('button.on').getAttribute('data-k'); };
}
var sizeKey, lifeKey;
function plotSizes(k) { plotBars('sizes', D.sizes, k || sizeKey(), PALETTE[0]); }
function plotLifetimes(k) {
  var nf = D.never_freed, extra = {label: D.complete ? 'live at exit' : 'live at end of file',
    range: D.complete ? 'never freed: still live when the program exited' : 'not freed before the file ends',
    count: nf.count, bytes: nf.bytes};
  extra.v = nf.count;
  plotBars('lifetimes', D.lifetimes, k || lifeKey(), PALETTE[3], extra);
}

// ---- 5. top sites ---------------------------------------------------------------------------
var siteSort = 'live', siteAll = false;
function drawSites() {
  var root = document.getElementById('sites');
  clear(root);
  var S = D.sites.filter(function (s) { return s.alloc > 0 || s.live > 0; });
  if (!S.length) return empty(root, 'No sampled allocations.');
  var cols = [['label', 'Site (function, file:line)', false], ['live', 'Live at peak', true], ['alloc', 'Allocated', true],
    ['count', 'Count (est.)', true], ['median', 'Median lifetime', true]];
  var key = function (s) { return siteSort === 'median' ? (s.median === 'inf' ? Infinity : (s.median === null ? -1 : s.median)) : s[siteSort]; };
  S.sort(function (a, b) { return siteSort === 'label' ? (a.label < b.label ? -1 : 1) : key(b) - key(a); });
  var maxLive = 0;
  S.forEach(function (s) { maxLive = Math.max(maxLive, s.live); });
  var tb = h('table', '', root), thead = h('thead', '', tb), tr = h('tr', '', thead);
  cols.forEach(function (c) {
    var th = h('th', (c[2] ? 'num' : '') + (siteSort === c[0] ? ' sorted' : ''), tr, c[1]);
    th.addEventListener('click', function () { siteSort = c[0]; drawSites(); markBoxes(); });
  });
  var tbody = h('tbody', '', tb), shown = siteAll ? S : S.slice(0, 15);
  shown.forEach(function (s) {
    var r = h('tr', 'site', tbody), td = h('td', '', r);
    h('div', 'fn', td, s.label);
    if (s.loc) h('div', 'loc', td, s.loc);
    var tl = h('td', 'num', r, fmtBytes(s.live));
    var bar = h('div', 'bar', tl); bar.style.width = (maxLive ? 100 * s.live / maxLive : 0) + '%';
    h('td', 'num', r, fmtBytes(s.alloc));
    h('td', 'num', r, fmtCount(s.count));
    h('td', 'num', r, fmtMs(s.median));
    var open = null;
    r.addEventListener('click', function () {
      if (open) { open.remove(); open = null; return; }
      open = document.createElement('tr'); open.className = 'stack';
      var c = h('td', '', open); c.colSpan = 5;
      s.paths.forEach(function (p, k) {
        h('div', 'loc', c, (s.npaths > 1 ? 'call path ' + (k + 1) + ' of ' + s.npaths + ': ' : 'call path: ') +
          fmtBytes(p.live) + ' live at the peak, ' + fmtBytes(p.alloc) + ' allocated; innermost frame first');
        var ol = h('ol', '', c);
        p.stack.forEach(function (f) {
          var li = h('li', '', ol, f[0]);
          var extra = [f[1], f[2], f[4] ? 'inlined' : ''].filter(Boolean).join('  \u00b7  ');
          if (extra) h('span', 'm', li, '  ' + extra);
        });
      });
      if (s.npaths > s.paths.length) h('div', 'loc', c, (s.npaths - s.paths.length) + ' smaller call paths not listed (' + s.samples + ' samples in all).');
      r.parentNode.insertBefore(open, r.nextSibling);
    });
  });
  if (S.length > 15) {
    var b = h('button', 'more', root, siteAll ? 'show the top 15' : 'show all ' + S.length + ' sites');
    b.addEventListener('click', function () { siteAll = !siteAll; drawSites(); markBoxes(); });
  }
}

// ---- 6. flame graph (icicle: root on top), click to zoom -------------------------------------
var flameZoom = null;
function hashHue(s) { var x = 0; for (var i = 0; i < s.length; i++) x = (x * 31 + s.charCodeAt(i)) | 0; return Math.abs(x); }
function frameColor(n) {
  var hsh = hashHue(n.n);
  if (n.k === 'root') return '#c9ced8';
  if (n.k === 'sys') return 'hsl(' + (195 + hsh % 30) + ',55%,' + (68 + hsh % 10) + '%)';
  if (n.k === 'unknown') return 'hsl(220,8%,' + (74 + hsh % 8) + '%)';
  return 'hsl(' + (8 + hsh % 40) + ',' + (72 + hsh % 18) + '%,' + (60 + hsh % 10) + '%)';
}
function plotFlame() {
  var root = document.getElementById('flame');
  clear(root);
  var tree = D.flame;
  if (!tree || !(tree.v > 0)) return empty(root, 'Nothing live at the peak.');
  if (!flameZoom) flameZoom = tree;
  var path = [], found = false;
  (function find(n, acc) {  // the chain root..zoom, drawn full width above the zoomed node
    if (found) return;
    acc.push(n);
    if (n === flameZoom) { path = acc.slice(); found = true; }
    else (n.c || []).forEach(function (c) { find(c, acc); });
    acc.pop();
  })(tree, []);
  if (!found) { flameZoom = tree; path = [tree]; }
  var W = root.clientWidth - 2, RH = 18, rects = [], maxDepth = 0;
  function lay(n, x, w, depth) {
    rects.push([n, x, w, depth]);
    maxDepth = Math.max(maxDepth, depth);
    var cx = x;
    (n.c || []).forEach(function (c) {
      var cw = w * c.v / n.v;
      if (cw >= 0.6) lay(c, cx, cw, depth + 1);
      cx += cw;
    });
  }
  for (var i = 0; i < path.length - 1; i++) rects.push([path[i], 0, W, i, true]);
  lay(flameZoom, 0, W, path.length - 1);
  var svg = el('svg', {width: W, height: (maxDepth + 1) * RH + 2}, root);
  rects.forEach(function (r) {
    var n = r[0], g = el('g', {}, svg);
    var rect = el('rect', {x: r[1].toFixed(2), y: r[3] * RH, width: Math.max(r[2], 0.5).toFixed(2), height: RH - 1,
      fill: frameColor(n), rx: 2}, g);
    if (r[4]) rect.setAttribute('fill-opacity', 0.45);
    var chars = Math.floor((r[2] - 8) / 6.4);
    if (chars >= 3) {
      var lbl = n.n.length > chars ? n.n.slice(0, chars - 1) + '\u2026' : n.n;
      el('text', {x: r[1] + 4, y: r[3] * RH + 12.5}, g, lbl);
    }
    rect.addEventListener('mousemove', function (ev) {
      var lines = [n.n, fmtBytes(n.v) + ' live at the peak \u00b7 ' + pct(n.v, tree.v) + ' of all'];
      if (flameZoom !== tree) lines.push(pct(n.v, flameZoom.v) + ' of ' + flameZoom.n);
      if (n.f || n.m) lines.push([n.f, n.m].filter(Boolean).join('  \u00b7  '));
      lines.push(n === flameZoom && n !== tree ? 'click: zoom out' : 'click: zoom in');
      showTip(ev, lines);
    });
    rect.addEventListener('mouseleave', hideTip);
    rect.addEventListener('click', function () {
      hideTip();
      flameZoom = (n === flameZoom && path.length > 1) ? path[path.length - 2] : n;
      plotFlame(); markBoxes();
    });
  });
}

// ---- 7. fragmentation ----------------------------------------------------------------------
function plotFrag() {
  var root = document.getElementById('frag');
  clear(root);
  var F = D.frag, T = F.times || [], S = F.series || [];
  if (!T.length || !S.length) return empty(root, 'No free-but-resident memory in any snapshot.');
  legend(root, S.map(function (s, i) { return [s.name, PALETTE[i % PALETTE.length]]; }));
  var W = root.clientWidth, H = 240, m = {l: 66, r: 18, t: 12, b: 26};
  var tmax = Math.max(T[T.length - 1], D.duration_ms || 0, 1), ymax = 1, tot = T.map(function () { return 0; });
  S.forEach(function (s) { s.values.forEach(function (v, i) { tot[i] += v; }); });
  tot.forEach(function (v) { ymax = Math.max(ymax, v); });
  ymax *= 1.08;
  var svg = el('svg', {width: W, height: H}, root), a = timeAxes(svg, W, H, m, tmax, ymax);
  var base = T.map(function () { return 0; });
  S.forEach(function (s, k) {
    var top = base.map(function (b, i) { return b + s.values[i]; });
    var d = '';
    T.forEach(function (t, i) { d += (i ? 'L' : 'M') + a.x(t).toFixed(1) + ',' + a.y(top[i]).toFixed(1); });
    for (var i = T.length - 1; i >= 0; i--) d += 'L' + a.x(T[i]).toFixed(1) + ',' + a.y(base[i]).toFixed(1);
    if (T.length === 1) d = 'M' + (a.x(T[0]) - 3) + ',' + a.y(top[0]) + 'h6V' + a.y(base[0]) + 'h-6Z';
    el('path', {d: d + 'Z', fill: PALETTE[k % PALETTE.length], 'fill-opacity': 0.85, stroke: '#fff', 'stroke-width': 0.5}, svg);
    base = top;
  });
  var cross = el('line', {y1: m.t, y2: H - m.b, stroke: '#4b5567', 'stroke-dasharray': '3 3', visibility: 'hidden'}, svg);
  var ov = el('rect', {x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, fill: 'transparent'}, svg);
  ov.addEventListener('mousemove', function (ev) {
    var r = svg.getBoundingClientRect(), t = (ev.clientX - r.left - m.l) / (W - m.l - m.r) * tmax;
    var i = Math.min(bisect(T, t, function (x) { return x; }), T.length - 1);
    if (i > 0 && Math.abs(T[i - 1] - t) < Math.abs(T[i] - t)) i--;
    var lines = ['free but resident at ' + fmtMs(T[i]) + ': ' + fmtBytes(tot[i])];
    S.forEach(function (s) { if (s.values[i] > 0) lines.push(s.name + '  ' + fmtBytes(s.values[i])); });
    cross.setAttribute('x1', a.x(T[i])); cross.setAttribute('x2', a.x(T[i])); cross.setAttribute('visibility', 'visible');
    showTip(ev, lines);
  });
  ov.addEventListener('mouseleave', function () { hideTip(); cross.setAttribute('visibility', 'hidden'); });
}
var KIND_COLORS = {live: ['#2fa36b'], waste: ['#9bd3b0'], free: ['#f08a4b', '#f4a66f', '#e5b83b', '#f2cf74', '#e06a8d', '#eb9ab2', '#c9743a', '#dca27a'],
  meta: ['#a66bd6'], other: ['#9aa3b5']};
function plotBreakdown() {
  var root = document.getElementById('breakdown');
  clear(root);
  var B = D.frag.breakdown || [], total = 0;
  B.forEach(function (p) { total += p.bytes; });
  document.getElementById('bk-list').textContent = '';
  if (!B.length || !(total > 0)) return empty(root, 'No snapshots: no breakdown of RSS.');
  var W = root.clientWidth, H = 46, svg = el('svg', {width: W, height: H}, root), x = 0, used = {};
  var colors = B.map(function (p) { var c = KIND_COLORS[p.kind] || ['#888'], i = used[p.kind] || 0; used[p.kind] = i + 1; return c[i % c.length]; });
  B.forEach(function (p, i) {
    var w = W * p.bytes / total;
    var r = el('rect', {x: x.toFixed(2), y: 0, width: Math.max(w, 0.5).toFixed(2), height: H, fill: colors[i], stroke: '#fff', 'stroke-width': 1}, svg);
    if (w > 70) el('text', {x: x + 6, y: H / 2 + 4, style: 'fill:#fff;font-weight:600'}, svg, pct(p.bytes, total));
    r.addEventListener('mousemove', function (ev) { showTip(ev, [p.label, fmtBytes(p.bytes) + ' \u00b7 ' + pct(p.bytes, total) + ' of RSS']); });
    r.addEventListener('mouseleave', hideTip);
    x += w;
  });
  var bk = document.getElementById('bk-list');
  bk.textContent = '';
  B.forEach(function (p, i) {
    var d = h('div', '', bk), sw = h('i', '', d);
    sw.style.background = colors[i];
    h('span', '', d, p.label);
    h('b', '', d, fmtBytes(p.bytes));
    h('em', '', d, pct(p.bytes, total));
  });
}

// ---- the page: header, finding, tiles, notes -----------------------------------------------
function drawStatic() {
  var f = document.getElementById('finding');
  f.className = 'finding k-' + D.headline.kind;
  f.textContent = '';
  h('div', 'big', f, D.headline.text);
  if (D.also.length) {
    var ul = h('ul', '', f);
    D.also.forEach(function (a) { h('li', '', ul, a.text); });
  }
  var tiles = document.getElementById('tiles');
  tiles.textContent = '';
  D.tiles.forEach(function (t) {
    var d = h('div', 'tile' + (t.warn ? ' warn' : ''), tiles);
    h('div', 'l', d, t.label); h('div', 'v', d, t.value); h('div', 's', d, t.sub);
  });
  var pk = D.peak;
  document.getElementById('peak-note').textContent = D.peak.basis === 'none'
    ? 'No samples.'
    : 'The peak is the moment the sampled live estimate was highest: ' + fmtMs(pk.t) + ', ' + fmtBytes(pk.bytes) +
      ' in ' + pk.samples + ' live samples. Click a row for its call stack; click a heading to sort.';
  document.getElementById('flame-note').textContent = D.peak.basis === 'none' ? '' :
    'Bytes live at ' + fmtMs(pk.t) + ' (the peak of the sampled live estimate) by call stack, callers above callees. ' +
    'Width is bytes; warm colours are the program\u2019s code, blue shared system libraries, grey unnamed frames. Hover for numbers, click to zoom.';
  document.getElementById('bk-note').textContent = D.frag.at === null ? '' :
    'RSS at its peak (' + fmtMs(D.frag.at) + ', ' + fmtBytes(D.frag.rss) + ') split into what the program holds, what the allocator keeps free, its metadata and the rest of the process.';
}
function markBoxes() {
  var sx = window.scrollX || 0, sy = window.scrollY || 0;
  Array.prototype.forEach.call(document.querySelectorAll('[data-plot],[data-table]'), function (e) {
    var r = e.getBoundingClientRect();
    e.setAttribute('data-box', [r.left + sx, r.top + sy, r.width, r.height].map(Math.round).join(','));
  });
  var mb = document.querySelector('main').getBoundingClientRect();
  body.setAttribute('data-page-height', String(Math.ceil(mb.bottom + sy)));
}
function drawAll() {
  plotTimeline(); plotSizes(); plotLifetimes(); drawSites(); plotFlame(); plotFrag(); plotBreakdown();
  markBoxes();
}
try {
  drawStatic();
  sizeKey = toggle('sizes-seg', plotSizes);
  lifeKey = toggle('life-seg', plotLifetimes);
  drawAll();
  body.setAttribute('data-rendered', 'ok');
} catch (e) {
  body.setAttribute('data-error', String(e && e.stack || e));
  throw e;
}
var rt = null;
window.addEventListener('resize', function () { clearTimeout(rt); rt = setTimeout(drawAll, 120); });
})();
"""

BODY = """<header><h1>malloc-im memory report</h1><span class="prog">__PROG__</span></header>
<section id="finding" class="finding"></section>
<section id="tiles" class="tiles"></section>
<section class="card"><div class="hd"><h2>Live bytes and RSS over time</h2></div>
<p class="sub">RSS, live and free from the snapshots (exact); the dashed line is the live estimate from the
samples (sum of the weights of samples allocated and not yet freed).</p>
<div id="timeline" class="plot" data-plot="timeline"></div></section>
<div class="grid2">
<section class="card"><div class="hd"><h2>Requested sizes</h2><span class="seg" id="sizes-seg">
<button data-k="count" class="on">allocations</button><button data-k="bytes">bytes</button></span></div>
<p class="sub">Estimated from the samples, all allocations of the run.</p>
<div id="sizes" class="plot" data-plot="sizes"></div></section>
<section class="card"><div class="hd"><h2>Lifetimes</h2><span class="seg" id="life-seg">
<button data-k="count" class="on">allocations</button><button data-k="bytes">bytes</button></span></div>
<p class="sub">Time from allocation to free; the grey bar holds what was never freed.</p>
<div id="lifetimes" class="plot" data-plot="lifetimes"></div></section>
</div>
<section class="card"><div class="hd"><h2>Top allocation sites</h2></div>
<p class="sub" id="peak-note"></p>
<div id="sites" data-table="sites"></div></section>
<section class="card"><div class="hd"><h2>Live bytes by call stack at the peak</h2></div>
<p class="sub" id="flame-note"></p>
<div id="flame" class="plot" data-plot="flame"></div></section>
<section class="card"><div class="hd"><h2>Free but resident memory by size class</h2></div>
<p class="sub">From the per-class snapshot lines: resident bytes of a class's pages minus the bytes of its
live blocks, stacked; memory the allocator holds for reuse that the program does not use.</p>
<div id="frag" class="plot" data-plot="frag"></div>
<h2 style="margin-top:14px">Where RSS goes at its peak</h2><p class="sub" id="bk-note"></p>
<div id="breakdown" class="plot" data-plot="breakdown"></div><div id="bk-list" class="bk"></div></section>
<section class="card"><div class="hd"><h2>About this profile</h2></div>
<ul class="notes">__NOTES__</ul></section>
<footer>Generated by tools/report/mallocim_report.py from __FILE__. Every figure is computed from that file;
estimates come from byte-sampled allocations (docs/report.md).</footer>
<div id="tip"></div>"""


def render(data_json, rep):
    """The page for one report; data_json is already safe to embed in a <script> element."""
    meta = rep["meta"]
    prog = "%s \u00b7 pid %s" % (rep["program"] or "program unknown", rep["pid"] or "?")
    notes = list(rep["notes"])
    facts = ["File %s: %s." % (rep["file"], "complete" if rep["complete"] else
                                "incomplete (no end line)")]
    if rep["rate"]:
        facts.append("Sampling: one sample per %d bytes allocated on average; %d samples from "
                     "%d allocation sites reached by %d distinct call stacks." % (
                         rep["rate"], rep["sample_count"], rep["site_count"],
                         rep["stack_count"]))
    for k in ("version", "page_size", "interval_ms", "start_unix_ms"):
        if k in meta:
            facts.append("%s: %s" % (k, meta[k]))
    items = "".join("<li>%s</li>" % html.escape(n) for n in facts + notes)
    body = (BODY.replace("__PROG__", html.escape(prog))
            .replace("__NOTES__", items)
            .replace("__FILE__", html.escape(rep["file"])))
    title = "malloc-im report: %s" % (rep["program"] or rep["file"])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>%s</title>\n<style>%s</style></head>\n<body><main>\n%s\n</main>\n"
            "<script type=\"application/json\" id=\"profile-data\">%s</script>\n"
            "<script>%s</script>\n</body></html>\n" % (html.escape(title), CSS, body, data_json,
                                                       JS))
