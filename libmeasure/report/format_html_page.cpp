// The html format's page: its style, markup and script, around the report's data
// (format_html.cpp). Everything is inline and nothing is fetched, so the file opens from disk
// anywhere. The script keeps the stack tree as typed arrays and sums it for the chosen metric
// in one pass over its nodes, so a metric switch stays fast at a million nodes; the flame
// graph is drawn on a canvas, only frames at least half a pixel wide. `window.measurePage`
// exposes what is drawn and shown, for tests.
#include <fmt/format.h>

#include "report/formats.h"
#include "report/html_page.h"

namespace measure::detail {
namespace {

const std::string_view page_head = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { margin: 0; font: 13px/1.4 system-ui, sans-serif; color: #1d1d1f; background: #fafafa; }
header { padding: 10px 14px 4px; }
h1 { font-size: 16px; margin: 0 0 2px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
h2 { font-size: 14px; margin: 8px 0; }
#run, #totals { color: #555; }
#verdict { font-weight: 600; }
#verdict.failed { color: #b00020; }
.diff-only { display: none; }
body.diff .diff-only { display: inline; }
body.diff .report-only { display: none; }
nav { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; padding: 6px 14px;
      border-bottom: 1px solid #ddd; position: sticky; top: 0; background: #fafafa; z-index: 1; }
.group { display: inline-flex; }
.group button { border-radius: 0; margin-left: -1px; }
.group button:first-child { border-radius: 4px 0 0 4px; }
.group button:last-child { border-radius: 0 4px 4px 0; }
button { font: inherit; padding: 3px 9px; border: 1px solid #bbb; background: #fff; border-radius: 4px; cursor: pointer; }
button.on { background: #2b5fab; color: #fff; border-color: #2b5fab; }
button:disabled { color: #aaa; cursor: default; }
input { font: inherit; padding: 3px 6px; border: 1px solid #bbb; border-radius: 4px; width: 15em; }
#tip { position: fixed; display: none; pointer-events: none; background: #fff; border: 1px solid #999;
       border-radius: 4px; padding: 6px 9px; font-size: 12px; box-shadow: 0 2px 6px rgba(0,0,0,.2); z-index: 2;
       max-width: 560px; }
#tip b { font-family: ui-monospace, monospace; word-break: break-all; }
#tip td { padding: 0 6px; }
#details { padding: 4px 14px; min-height: 1.4em; color: #333; font-family: ui-monospace, monospace; font-size: 12px;
           white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
main { padding: 0 14px 14px; }
canvas { display: block; width: 100%; cursor: pointer; }
table { border-collapse: collapse; font-size: 12px; }
th, td { padding: 2px 8px; text-align: right; white-space: nowrap; }
th { position: sticky; top: 38px; background: #eee; cursor: pointer; user-select: none; }
td.k, th.k { text-align: left; font-family: ui-monospace, monospace; max-width: 60vw; overflow: hidden;
             text-overflow: ellipsis; }
tbody tr:nth-child(even) { background: #f0f0f0; }
tbody tr:hover { background: #e3ecf8; }
tr.hit td.k { background: #f4c6f4; }
tr.regressed td { color: #b00020; font-weight: 600; }
.tw { cursor: pointer; display: inline-block; width: 1.2em; color: #666; }
.two { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
#timeline { height: 110px; cursor: crosshair; margin: 4px 0 2px; }
#timeline-legend { font-size: 12px; margin-bottom: 6px; }
#notes { padding: 0 14px 14px; color: #666; font-size: 12px; }
.muted { color: #888; }
</style>
)html";

const std::string_view page_body = R"html(</head>
<body>
<header><h1 id="title"></h1><div id="run"></div><div id="totals"></div><div id="verdict"></div>
<div class="diff-only muted">Widths: the new capture. <span style="color:#d02020">Red</span>: grew,
<span style="color:#2020d0">blue</span>: shrank, the deeper the more; pale: unchanged. Hover a frame for old, new and change.</div></header>
<nav>
  <div class="group" id="views">
    <button data-view="flame" class="on">Flame graph</button><button data-view="icicle">Icicle</button><button
    data-view="top" class="report-only">Top-down</button><button data-view="bottom" class="report-only">Bottom-up</button><button
    data-view="callers" class="report-only">Callers &amp; callees</button><button data-view="table">Table</button>
  </div>
  <div class="group" id="metrics"></div>
  <span><input id="search" placeholder="Search frames (regex)" spellcheck="false"> <span id="matched"></span></span>
  <span><input id="hide" placeholder="Hide frames, e.g. ^std::" spellcheck="false"> <button id="reset">Reset zoom</button></span>
</nav>
<div id="details">&nbsp;</div>
<div id="tip"></div>
<main>
  <section id="timeline-view" hidden><canvas id="timeline" height="110"></canvas>
    <div id="timeline-legend" class="muted"></div></section>
  <section id="flame-view"><canvas id="flame"></canvas></section>
  <section id="tree-view" hidden><table><thead><tr><th class="k">Function</th><th>Total</th><th>%</th><th id="self-heading">Self</th></tr></thead>
    <tbody id="tree-body"></tbody></table></section>
  <section id="callers-view" hidden><h2 id="focus"></h2><div class="two">
    <div><h2>Called from</h2><table><thead><tr><th class="k">Caller</th><th>Total</th><th>%</th></tr></thead><tbody id="callers"></tbody></table></div>
    <div><h2>Calls</h2><table><thead><tr><th class="k">Callee</th><th>Total</th><th>%</th></tr></thead><tbody id="callees"></tbody></table></div>
  </div></section>
  <section id="table-view" hidden><table><thead><tr id="rows-head"></tr></thead><tbody id="rows-body"></tbody></table>
    <p id="rows-more" class="muted"></p></section>
</main>
<footer id="notes"></footer>
<script>
'use strict';
(function () {
  const D = JSON.parse(document.getElementById('measure-data').textContent);
  const $ = (id) => document.getElementById(id);
  const HEADINGS = {
    alloc_count: 'allocations', alloc_bytes: 'bytes allocated', free_count: 'frees', freed_bytes: 'bytes freed',
    live_count: 'live blocks', live_bytes: 'live bytes', peak_bytes: 'bytes at peak', temporary_count: 'temporary',
  };
  const METRICS = D.metrics;
  const LABELS = D.labels;
  const ROW_HEIGHT = 18;

  // ---- numbers --------------------------------------------------------------------------
  function grouped(n) { return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  function humanBytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let u = 0;
    while (n >= 1024 && u < units.length - 1) { n /= 1024; ++u; }
    return u === 0 ? `${n} B` : `${n.toFixed(1)} ${units[u]}`;
  }
  function show(v, m) { return METRICS[m].bytes ? humanBytes(v) : grouped(v); }
  function pct(part, whole) { return whole > 0 ? `${(100 * part / whole).toFixed(1)}%` : '0%'; }
  function escapeHtml(s) {
    return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  }

  // ---- the data -------------------------------------------------------------------------
  // Lists of numbers come as base64 strings of LEB128 varints.
  function varints(text) {
    const bytes = atob(text);
    const out = new Float64Array(bytes.length);
    let n = 0; let value = 0; let scale = 1;
    for (let i = 0; i < bytes.length; ++i) {
      const b = bytes.charCodeAt(i);
      value += (b & 127) * scale;
      if (b < 128) { out[n++] = value; value = 0; scale = 1; } else { scale *= 128; }
    }
    return out.subarray(0, n);
  }
  const sampleCount = D.samples.count;
  const columns = D.samples.m.map(varints);
  const sampleRow = varints(D.samples.r);
  // A diff: each sample is the old capture's (0) or the new one's (1); widths follow the new.
  const DIFF = typeof D.samples.s === 'string';
  const sampleSide = DIFF ? varints(D.samples.s) : null;

  // A tree of frame labels: parent before child in index order, node 0 the root ("all").
  function makeTree(parent, label, depth, sampleNode) {
    const n = parent.length;
    const count = new Uint32Array(n + 1);
    for (let i = 1; i < n; ++i) { ++count[parent[i] + 1]; }
    for (let i = 1; i <= n; ++i) { count[i] += count[i - 1]; }
    const start = count.slice(0, n + 1);
    const children = new Int32Array(Math.max(n - 1, 0));
    const fill = start.slice(0, n);
    for (let i = 1; i < n; ++i) { children[fill[parent[i]]++] = i; }
    // Children in label order (labels are sorted by name): flame graphs draw them that way.
    for (let i = 0; i < n; ++i) {
      if (start[i + 1] - start[i] > 1) {
        const sub = children.subarray(start[i], start[i + 1]);
        sub.sort((a, b) => label[a] - label[b]);
      }
    }
    let maxDepth = 0;
    for (let i = 0; i < n; ++i) { if (depth[i] > maxDepth) { maxDepth = depth[i]; } }
    return { n, parent, label, depth, start, children, sampleNode, maxDepth };
  }

  // The tree as written: depth-first, each node as the levels it climbs from the one before.
  function baseTree() {
    const n = D.node_count;
    const coded = varints(D.nodes);
    const parent = new Int32Array(n); const label = new Int32Array(n); const depth = new Int32Array(n);
    parent[0] = -1; label[0] = -1;
    const chain = [0];
    for (let i = 1, k = 0; i < n; ++i) {
      const first = coded[k++];
      const climb = first % 2 === 1 ? coded[k++] : 0;
      const d = depth[i - 1] + 1 - climb;
      chain.length = d;
      parent[i] = chain[d - 1]; depth[i] = d; label[i] = (first - first % 2) / 2;
      chain.push(i);
    }
    const sampleNode = new Int32Array(sampleCount);
    const steps = varints(D.samples.n);
    let node = 0;
    for (let s = 0; s < sampleCount; ++s) { node += steps[s]; sampleNode[s] = node; }
    return makeTree(parent, label, depth, sampleNode);
  }

  // A new tree from every sample's path in `base`, leaving out hidden labels.
  // Its index of (parent, label) -> node is an open-addressing table in typed arrays: a Map
  // keyed by numbers took 2.3 s for the 8.8 million steps of 200,000 stacks.
  function derivedTree(base, hidden) {
    const parent = [-1]; const label = [-1]; const depth = [0];
    let capacity = 1 << 16;
    let keyParent = new Int32Array(capacity).fill(-1); let keyLabel = new Int32Array(capacity); let node = new Int32Array(capacity);
    const slot = (p, l, mask) => (Math.imul(p, 0x9e3779b1) ^ Math.imul(l + 1, 0x85ebca77)) & mask;
    const grow = () => {
      const oldParent = keyParent; const oldLabel = keyLabel; const oldNode = node;
      capacity *= 2;
      keyParent = new Int32Array(capacity).fill(-1); keyLabel = new Int32Array(capacity); node = new Int32Array(capacity);
      for (let i = 0; i < oldParent.length; ++i) {
        if (oldParent[i] < 0) { continue; }
        let h = slot(oldParent[i], oldLabel[i], capacity - 1);
        while (keyParent[h] >= 0) { h = (h + 1) & (capacity - 1); }
        keyParent[h] = oldParent[i]; keyLabel[h] = oldLabel[i]; node[h] = oldNode[i];
      }
    };
    const sampleNode = new Int32Array(sampleCount);
    const path = [];
    for (let s = 0; s < sampleCount; ++s) {
      path.length = 0;
      for (let v = base.sampleNode[s]; v > 0; v = base.parent[v]) {
        if (!hidden || !hidden[base.label[v]]) { path.push(base.label[v]); }
      }
      path.reverse();
      let at = 0;
      for (const l of path) {
        const mask = capacity - 1;
        let h = slot(at, l, mask);
        while (keyParent[h] >= 0 && (keyParent[h] !== at || keyLabel[h] !== l)) { h = (h + 1) & mask; }
        if (keyParent[h] < 0) {
          const next = parent.length;
          parent.push(at); label.push(l); depth.push(depth[at] + 1);
          keyParent[h] = at; keyLabel[h] = l; node[h] = next;
          at = next;
          if (parent.length * 2 > capacity) { grow(); }
        } else {
          at = node[h];
        }
      }
      sampleNode[s] = at;
    }
    return makeTree(Int32Array.from(parent), Int32Array.from(label), Int32Array.from(depth), sampleNode);
  }

  // Every node's total of metric `m` (itself and everything under it), of one side of a diff
  // (`side`) or of every sample.
  function totals(tree, m, side = -1) {
    const v = new Float64Array(tree.n);
    const column = columns[m];
    for (let s = 0; s < sampleCount; ++s) {
      if (side < 0 || sampleSide[s] === side) { v[tree.sampleNode[s]] += column[s]; }
    }
    for (let i = tree.n - 1; i > 0; --i) { v[tree.parent[i]] += v[i]; }
    return v;
  }

  // ---- state ----------------------------------------------------------------------------
  const state = {
    view: 'flame', metric: Math.max(0, METRICS.findIndex((x) => x.name === D.sort)),
    zoom: 0, search: null, hidden: null, focus: -1, sortColumn: -1, sortAscending: false, expanded: new Set(),
  };
  const base = baseTree();
  // Too deep for a window drawn upright: the roots would lie below the fold (as in the svg).
  if (base.maxDepth > 44) { state.view = 'icicle'; }
  let tree = base;        // the top-down tree, without hidden frames
  let bottomUp = null;    // the bottom-up tree's nodes, grown as they are opened
  let values = null;      // totals(tree, state.metric): of the new capture in a diff
  let oldValues = null;   // a diff: of the old capture
  let bottomValues = null;  // per bottom-up node: its total, as asked for
  let drawn = [];         // the flame graph's frames as drawn: {node, x, y, w}

  function recompute() {
    values = totals(tree, state.metric, DIFF ? 1 : -1);
    oldValues = DIFF ? totals(tree, state.metric, 0) : null;
    bottomValues = new Map();
  }

  // ---- the flame graph ------------------------------------------------------------------
  const canvas = $('flame');
  const context = canvas.getContext('2d');
  function hash(s) { let h = 2166136261; for (let i = 0; i < s.length; ++i) { h = Math.imul(h ^ s.charCodeAt(i), 16777619); } return h >>> 0; }
  // A diff's frames: red where the metric grew, blue where it shrank, the deeper the more it
  // changed against the larger side; pale where it did not change.
  function changeColour(v) {
    const before = oldValues[v]; const after = values[v];
    const r = before === after ? 0 : (after - before) / Math.max(before, after);
    const shade = Math.round(210 - 150 * Math.min(Math.abs(r) * 2, 1));
    return r > 0 ? `rgb(255,${shade},${shade})` : r < 0 ? `rgb(${shade},${shade},255)` : 'rgb(235,235,225)';
  }
  function colour(l, v) {
    if (DIFF) { return l >= 0 && state.search && state.search.test(LABELS[l]) ? 'rgb(230,0,230)' : changeColour(v); }
    if (l < 0) { return 'rgb(200,200,200)'; }  // the root
    if (state.search && state.search.test(LABELS[l])) { return 'rgb(230,0,230)'; }
    const h = hash(LABELS[l]); const a = h % 55; const b = (h >>> 8) % 80;
    switch (D.kinds[l]) {
      case 0: return `rgb(${200 + a},${90 + b},${40 + (a >> 1)})`;
      case 1: return `rgb(${70 + a},${140 + (b >> 1)},${190 + a})`;
      default: return `rgb(${160 + (a >> 1)},${160 + (a >> 1)},${160 + (a >> 1)})`;
    }
  }
  function nodeName(t, v) { return v === 0 ? 'all' : LABELS[t.label[v]]; }
  function shortName(t, v) { return v === 0 ? 'all' : D.short[t.label[v]] || LABELS[t.label[v]]; }

  function drawFlame() {
    const width = canvas.parentElement.clientWidth;
    const upright = state.view === 'flame';
    const levels = tree.maxDepth + 1;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(levels * ROW_HEIGHT * ratio);
    canvas.style.height = `${levels * ROW_HEIGHT}px`;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, levels * ROW_HEIGHT);
    context.font = '12px ui-monospace, monospace';
    context.textBaseline = 'middle';
    drawn = [];
    const y = (d) => (upright ? (levels - 1 - d) : d) * ROW_HEIGHT;
    const box = (v, x, w, ancestor) => {
      const top = y(tree.depth[v]);
      context.fillStyle = colour(tree.label[v], v);
      context.globalAlpha = ancestor ? 0.55 : 1;
      context.fillRect(x, top + 1, Math.max(w - 0.5, 0.5), ROW_HEIGHT - 2);
      context.globalAlpha = 1;
      if (w > 28) {
        const name = shortName(tree, v);
        const fit = Math.floor((w - 6) / 7.3);
        context.fillStyle = '#000';
        context.fillText(name.length <= fit ? name : `${name.slice(0, Math.max(fit - 2, 1))}..`, x + 3, top + ROW_HEIGHT / 2);
      }
      drawn.push({ node: v, x, y: top, w, ancestor });
    };
    // The zoomed frame's callers span the width, dimmed; it and its callees scale to it.
    for (let v = tree.parent[state.zoom]; v >= 0; v = tree.parent[v]) { box(v, 0, width, true); }
    const whole = values[state.zoom];
    const walk = (v, x, w) => {
      box(v, x, w, false);
      let at = x;
      for (let k = tree.start[v]; k < tree.start[v + 1]; ++k) {
        const c = tree.children[k];
        const cw = whole > 0 ? values[c] / whole * width : 0;
        if (cw >= 0.5) { walk(c, at, cw); }
        at += cw;
      }
    };
    walk(state.zoom, 0, width);
    $('reset').disabled = state.zoom === 0;
  }

  function frameAt(event) {
    const r = canvas.getBoundingClientRect();
    const x = event.clientX - r.left; const y = event.clientY - r.top;
    return drawn.find((f) => x >= f.x && x < f.x + f.w && y >= f.y && y < f.y + ROW_HEIGHT);
  }
  function signed(d, m) { return d === 0 ? '0' : `${d > 0 ? '+' : '\u2212'}${show(Math.abs(d), m)}`; }
  function describe(t, vals, v) {
    if (DIFF) {
      const m = state.metric; const d = vals[v] - oldValues[v];
      return `${nodeName(t, v)}: ${show(oldValues[v], m)} \u2192 ${show(vals[v], m)} ${HEADINGS[METRICS[m].name]} ` +
        `(${signed(d, m)}${oldValues[v] > 0 ? `, ${d >= 0 ? '+' : ''}${(100 * d / oldValues[v]).toFixed(1)}%` : ''})`;
    }
    const parts = [`${nodeName(t, v)}: ${show(vals[v], state.metric)} ${HEADINGS[METRICS[state.metric].name]}`,
      pct(vals[v], vals[0])];
    return parts.join(', ');
  }
  // All eight metrics of the stacks through a node: its subtree's samples, found through an
  // index of samples by node made on the first hover.
  let samplesOf = null;
  function nodeMetrics(t, v) {
    if (!samplesOf || samplesOf.tree !== t) {
      const start = new Int32Array(t.n + 1);
      for (let s = 0; s < sampleCount; ++s) { ++start[t.sampleNode[s] + 1]; }
      for (let i = 0; i < t.n; ++i) { start[i + 1] += start[i]; }
      const fill = start.slice(0, t.n); const list = new Int32Array(sampleCount);
      for (let s = 0; s < sampleCount; ++s) { list[fill[t.sampleNode[s]]++] = s; }
      samplesOf = { tree: t, start, list };
    }
    const sums = [METRICS.map(() => 0), METRICS.map(() => 0)];  // [new or all, old]
    const stack = [v];
    while (stack.length) {
      const u = stack.pop();
      for (let k = samplesOf.start[u]; k < samplesOf.start[u + 1]; ++k) {
        const s = samplesOf.list[k]; const side = DIFF && sampleSide[s] === 0 ? 1 : 0;
        for (let m = 0; m < METRICS.length; ++m) { sums[side][m] += columns[m][s]; }
      }
      for (let k = t.start[u]; k < t.start[u + 1]; ++k) { stack.push(t.children[k]); }
    }
    return sums;
  }
  function showTip(e, f) {
    const tip = $('tip');
    if (!f) { tip.style.display = 'none'; return; }
    const [now, old] = nodeMetrics(tree, f.node);
    const cell = (v, m) => (METRICS[m].unknown ? '\u2014' : show(v, m));
    const rows = METRICS.map((x, m) => `<tr><td>${HEADINGS[x.name]}</td>` +
      (DIFF ? `<td>${cell(old[m], m)}</td><td>\u2192 ${cell(now[m], m)}</td>` : `<td>${cell(now[m], m)}</td>`) + '</tr>').join('');
    tip.innerHTML = `<b>${escapeHtml(nodeName(tree, f.node))}</b><br>${escapeHtml(describe(tree, values, f.node).slice(nodeName(tree, f.node).length + 2))}<table>${rows}</table>`;
    tip.style.display = 'block';
    const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    const y = e.clientY + 16 + tip.offsetHeight > window.innerHeight ? e.clientY - tip.offsetHeight - 8 : e.clientY + 16;
    tip.style.left = `${Math.max(x, 4)}px`; tip.style.top = `${Math.max(y, 4)}px`;
  }
  canvas.addEventListener('mousemove', (e) => {
    const f = frameAt(e);
    $('details').textContent = f ? describe(tree, values, f.node) : '\u00a0';
    showTip(e, f);
  });
  canvas.addEventListener('mouseleave', () => { $('tip').style.display = 'none'; });
  // Escape leaves the zoom (or the search field); '/' goes to the search field.
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      if (document.activeElement && document.activeElement.tagName === 'INPUT') { document.activeElement.blur(); return; }
      if (state.zoom !== 0) { state.zoom = 0; render(); }
    } else if (e.key === '/' && document.activeElement.tagName !== 'INPUT') {
      e.preventDefault();
      $('search').focus();
    }
  });
  canvas.addEventListener('click', (e) => {
    const f = frameAt(e);
    if (f) {
      state.zoom = f.node;
      if (f.node !== 0) { state.focus = tree.label[f.node]; }
      render();
    }
  });
  $('reset').addEventListener('click', () => { state.zoom = 0; render(); });

  // ---- the trees ------------------------------------------------------------------------
  function treeRows(t, vals) {
    const body = $('tree-body');
    const html = [];
    const whole = vals[0];
    const sorted = (v) => Array.from(t.children.subarray(t.start[v], t.start[v + 1])).sort((a, b) => vals[b] - vals[a]);
    const add = (v) => {
      const kids = sorted(v);
      let self = vals[v];
      for (const c of kids) { self -= vals[c]; }
      const open = state.expanded.has(`${state.view}:${v}`);
      const hit = state.search && state.search.test(LABELS[t.label[v]]);
      html.push(`<tr data-node="${v}" data-v="${vals[v]}"${hit ? ' class="hit"' : ''}><td class="k" style="padding-left:${t.depth[v] * 14}px">` +
        `<span class="tw">${kids.length ? (open ? '\u25be' : '\u25b8') : ''}</span>${escapeHtml(LABELS[t.label[v]])}</td>` +
        `<td>${show(vals[v], state.metric)}</td><td>${pct(vals[v], whole)}</td><td>${state.view === 'top' ? show(self, state.metric) : ''}</td></tr>`);
      if (open) { for (const c of kids) { if (vals[c] > 0) { add(c); } } }
    };
    for (const c of sorted(0)) { if (vals[c] > 0 || whole === 0) { add(c); } }
    body.innerHTML = html.join('');
  }
  // The bottom-up tree is grown only where it is opened: a node is a label and the samples
  // whose stacks end (innermost first) with its path, each with the frame of the top-down tree
  // it has reached. Built whole, it would have a node for nearly every frame of every stack.
  function bottomGroup(samples, at, depth, fromLeaf) {
    const groups = new Map();
    for (let i = 0; i < samples.length; ++i) {
      let v = fromLeaf ? base.sampleNode[samples[i]] : base.parent[at[i]];
      while (v > 0 && state.hidden && state.hidden[base.label[v]]) { v = base.parent[v]; }
      if (v <= 0) { continue; }
      let g = groups.get(base.label[v]);
      if (!g) { g = { samples: [], at: [] }; groups.set(base.label[v], g); }
      g.samples.push(samples[i]); g.at.push(v);
    }
    const ids = [];
    for (const [label, g] of groups) {
      ids.push(bottomUp.length);
      bottomUp.push({ label, samples: Int32Array.from(g.samples), at: Int32Array.from(g.at), depth, kids: null });
    }
    return ids;
  }
  function bottomValue(id) {
    let v = bottomValues.get(id);
    if (v === undefined) {
      v = 0;
      const column = columns[state.metric];
      for (const s of bottomUp[id].samples) { v += column[s]; }
      bottomValues.set(id, v);
    }
    return v;
  }
  function bottomKids(id) {
    const n = bottomUp[id];
    if (!n.kids) { n.kids = bottomGroup(n.samples, n.at, n.depth + 1, false); }
    return n.kids;
  }
  function bottomRows() {
    if (!bottomUp) {
      bottomUp = [{ label: -1, samples: Int32Array.from({ length: sampleCount }, (_, i) => i), at: null, depth: -1, kids: null }];
      bottomUp[0].kids = bottomGroup(bottomUp[0].samples, null, 0, true);
    }
    const whole = bottomValue(0);
    const html = [];
    // Largest first; equal ones in label order.
    const sorted = (ids) => ids.slice().sort((a, b) => bottomValue(b) - bottomValue(a) || bottomUp[a].label - bottomUp[b].label);
    const add = (id) => {
      const n = bottomUp[id];
      const open = state.expanded.has(`bottom:${id}`);
      const kids = open ? sorted(bottomKids(id)) : null;
      const hit = state.search && state.search.test(LABELS[n.label]);
      html.push(`<tr data-node="${id}" data-v="${bottomValue(id)}"${hit ? ' class="hit"' : ''}><td class="k" style="padding-left:${(n.depth + 1) * 14}px">` +
        `<span class="tw">${open ? '\u25be' : '\u25b8'}</span>${escapeHtml(LABELS[n.label])}</td>` +
        `<td>${show(bottomValue(id), state.metric)}</td><td>${pct(bottomValue(id), whole)}</td><td></td></tr>`);
      if (open) { for (const k of kids) { if (bottomValue(k) > 0) { add(k); } } }
    };
    for (const id of sorted(bottomUp[0].kids)) { if (bottomValue(id) > 0 || whole === 0) { add(id); } }
    $('tree-body').innerHTML = html.join('');
  }
  $('tree-body').addEventListener('click', (e) => {
    const tr = e.target.closest('tr');
    if (!tr) { return; }
    const v = +tr.dataset.node;
    const key = `${state.view}:${v}`;
    if (state.expanded.has(key)) { state.expanded.delete(key); } else { state.expanded.add(key); }
    state.focus = state.view === 'top' ? tree.label[v] : bottomUp[v].label;
    render();
  });

  // Callers and callees of one function, a recursion counted once (at its outermost call).
  function callersAndCallees(l) {
    const callers = new Map(); const callees = new Map();
    let total = 0;
    for (let v = 1; v < tree.n; ++v) {
      if (tree.label[v] !== l) { continue; }
      let nested = false;
      for (let a = tree.parent[v]; a > 0 && !nested; a = tree.parent[a]) { nested = tree.label[a] === l; }
      if (nested) { continue; }
      total += values[v];
      const p = tree.parent[v];
      callers.set(p, (callers.get(p) || 0) + values[v]);
      for (let k = tree.start[v]; k < tree.start[v + 1]; ++k) {
        const c = tree.children[k];
        callees.set(tree.label[c], (callees.get(tree.label[c]) || 0) + values[c]);
      }
    }
    const byLabel = new Map();
    for (const [p, v] of callers) {
      const name = p === 0 ? '(the root: a thread or the program start)' : LABELS[tree.label[p]];
      byLabel.set(name, (byLabel.get(name) || 0) + v);
    }
    return { total, callers: byLabel, callees: new Map([...callees].map(([k, v]) => [LABELS[k], v])) };
  }
  function heaviestLabel() {
    let best = -1; let bestValue = -1;
    for (let v = 1; v < tree.n; ++v) {
      let self = values[v];
      for (let k = tree.start[v]; k < tree.start[v + 1]; ++k) { self -= values[tree.children[k]]; }
      if (self > bestValue) { best = tree.label[v]; bestValue = self; }
    }
    return best;
  }
  function callersView() {
    if (state.focus < 0) { state.focus = heaviestLabel(); }
    const l = state.focus;
    const fill = (id, map, whole) => {
      $(id).innerHTML = [...map].sort((a, b) => b[1] - a[1]).map(([name, v]) =>
        `<tr data-v="${v}"><td class="k">${escapeHtml(name)}</td><td>${show(v, state.metric)}</td><td>${pct(v, whole)}</td></tr>`).join('');
    };
    if (l < 0) { $('focus').textContent = 'No function to show'; return; }
    const r = callersAndCallees(l);
    $('focus').textContent = `${LABELS[l]}: ${show(r.total, state.metric)} ${HEADINGS[METRICS[state.metric].name]} (${pct(r.total, values[0])})`;
    $('focus').dataset.v = r.total;
    fill('callers', r.callers, r.total);
    fill('callees', r.callees, r.total);
  }

  // ---- the table ------------------------------------------------------------------------
  const rowCount = DIFF ? D.diff_rows.k.length : D.rows.length;
  const rowColumns = DIFF ? null : METRICS.map((_, m) => {
    if (D.row_metrics) { return Float64Array.from(D.row_metrics[m]); }
    const c = new Float64Array(rowCount);
    for (let s = 0; s < sampleCount; ++s) { if (sampleRow[s] < rowCount) { c[sampleRow[s]] += columns[m][s]; } }
    return c;
  });
  const TABLE_LIMIT = 1000;
  // A diff's rows as the diff matched them: status, key, and the chosen metric before, after
  // and its change; sorted by the size of the change (a header click sorts by its column).
  function diffTableView() {
    const R = D.diff_rows; const m = state.metric;
    const old = R.o[m]; const now = R.n[m];
    const column = state.sortColumn < 0 ? 2 : state.sortColumn;
    const key = [(i) => old[i], (i) => now[i], (i) => Math.abs(now[i] - old[i]),
      (i) => (old[i] > 0 ? Math.abs(now[i] - old[i]) / old[i] : Infinity)][column];
    const heads = ['old', 'new', 'change', '%'];
    $('rows-head').innerHTML = `<th class="k">status</th><th class="k">${escapeHtml(D.by)}</th>` + heads.map((h, i) =>
      `<th data-m="${i}">${h}${i === column ? (state.sortAscending ? ' \u25b4' : ' \u25be') : ''}</th>`).join('');
    const order = [];
    for (let i = 0; i < rowCount; ++i) { if (!state.search || state.search.test(R.k[i])) { order.push(i); } }
    order.sort((a, b) => (state.sortAscending ? key(a) - key(b) : key(b) - key(a)) || a - b);
    const shown = order.slice(0, TABLE_LIMIT);
    const unknown = METRICS[m].unknown;
    $('rows-body').innerHTML = shown.map((i) => `<tr data-i="${i}" data-old="${old[i]}" data-new="${now[i]}"${R.g[i] ? ' class="regressed"' : ''}>` +
      `<td class="k">${R.s[i]}</td><td class="k" title="${escapeHtml(R.k[i])}">${escapeHtml(R.k[i])}</td>` +
      `<td>${unknown ? '\u2014' : show(old[i], m)}</td><td>${unknown ? '\u2014' : show(now[i], m)}</td>` +
      `<td>${unknown ? '\u2014' : signed(now[i] - old[i], m)}</td>` +
      `<td>${unknown || old[i] === 0 || now[i] === old[i] ? '' : `${now[i] > old[i] ? '+' : '\u2212'}${(100 * Math.abs(now[i] - old[i]) / old[i]).toFixed(1)}%`}</td></tr>`).join('');
    $('rows-more').textContent = order.length > shown.length ? `Showing ${shown.length} of ${order.length} ${D.rows_noun}; search to narrow.` : `${order.length} ${D.rows_noun}`;
  }
  function tableView() {
    if (DIFF) { diffTableView(); return; }
    const m = state.sortColumn < 0 ? state.metric : state.sortColumn;
    $('rows-head').innerHTML = `<th class="k">${escapeHtml(D.by)}</th>` + METRICS.map((x, i) =>
      `<th data-m="${i}">${HEADINGS[x.name]}${i === m ? (state.sortAscending ? ' \u25b4' : ' \u25be') : ''}</th>`).join('');
    let order = [];
    for (let i = 0; i < rowCount; ++i) { if (!state.search || state.search.test(D.rows[i])) { order.push(i); } }
    const c = rowColumns[m];
    // Ties keep the report's order (its own tie-breaks).
    order.sort((a, b) => (state.sortAscending ? c[a] - c[b] : c[b] - c[a]) || a - b);
    const shown = order.slice(0, TABLE_LIMIT);
    $('rows-body').innerHTML = shown.map((i) => `<tr data-i="${i}"><td class="k" title="${escapeHtml(D.rows[i])}">${escapeHtml(D.rows[i])}</td>` +
      METRICS.map((x, k) => `<td data-v="${rowColumns[k][i]}">${x.unknown ? '\u2014' : show(rowColumns[k][i], k)}</td>`).join('') + '</tr>').join('');
    $('rows-more').textContent = order.length > shown.length ? `Showing ${shown.length} of ${order.length} ${D.rows_noun}; search to narrow.` : `${order.length} ${D.rows_noun}`;
  }
  $('rows-head').addEventListener('click', (e) => {
    const th = e.target.closest('th');
    if (!th || th.dataset.m === undefined) { return; }
    const m = +th.dataset.m;
    state.sortAscending = state.sortColumn === m ? !state.sortAscending : false;
    state.sortColumn = m;
    render();
  });

  // ---- controls -------------------------------------------------------------------------
  $('metrics').innerHTML = METRICS.map((x, i) =>
    `<button data-m="${i}" title="${x.name}"${x.unknown ? ' disabled' : ''}>${HEADINGS[x.name]}</button>`).join('');
  $('metrics').addEventListener('click', (e) => {
    const b = e.target.closest('button');
    if (!b || b.disabled) { return; }
    state.metric = +b.dataset.m;
    state.sortColumn = -1;
    recompute();
    render();
  });
  $('views').addEventListener('click', (e) => {
    const b = e.target.closest('button');
    if (!b) { return; }
    state.view = b.dataset.view;
    render();
  });
  function pattern(text) {
    if (!text) { return null; }
    try { return new RegExp(text, 'i'); } catch (_) { return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i'); }
  }
  let searchTimer = 0;
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.search = pattern($('search').value); render(); }, 120);
  });
  let hideTimer = 0;
  $('hide').addEventListener('input', () => {
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => {
      const p = pattern($('hide').value);
      state.hidden = p ? LABELS.map((l) => p.test(l)) : null;
      tree = state.hidden ? derivedTree(base, state.hidden) : base;
      bottomUp = null;
      state.zoom = 0; state.expanded.clear();
      recompute();
      render();
    }, 300);
  });

  // What the search matches: the frames it names, each stack counted once.
  function matchedShare() {
    if (!state.search) { return ''; }
    let sum = 0;
    const walk = (v) => {
      if (v !== 0 && state.search.test(LABELS[tree.label[v]])) { sum += values[v]; return; }
      for (let k = tree.start[v]; k < tree.start[v + 1]; ++k) { walk(tree.children[k]); }
    };
    walk(0);
    return `Matched: ${pct(sum, values[0])}`;
  }

  function render() {
    for (const b of $('views').children) { b.classList.toggle('on', b.dataset.view === state.view); }
    for (const b of $('metrics').children) { b.classList.toggle('on', +b.dataset.m === state.metric); }
    $('flame-view').hidden = state.view !== 'flame' && state.view !== 'icicle';
    $('timeline-view').hidden = !timeline;
    if (timeline) { drawTimeline(); }
    $('tree-view').hidden = state.view !== 'top' && state.view !== 'bottom';
    $('callers-view').hidden = state.view !== 'callers';
    $('table-view').hidden = state.view !== 'table';
    $('matched').textContent = matchedShare();
    $('details').textContent = '\u00a0';
    $('self-heading').textContent = state.view === 'top' ? 'Self' : '';
    if (state.view === 'flame' || state.view === 'icicle') { drawFlame(); }
    if (state.view === 'top') { treeRows(tree, values); }
    if (state.view === 'bottom') { bottomRows(); }
    if (state.view === 'callers') { callersView(); }
    if (state.view === 'table') { tableView(); }
  }

  if (DIFF) {
    document.body.classList.add('diff');
    $('verdict').textContent = `Verdict: ${D.verdict}.`;
    $('verdict').classList.toggle('failed', D.regressed);
  }
  // ---- the timeline ---------------------------------------------------------------------
  // Live bytes (filled) and resident memory (a line) over the run, the exact peak as a step
  // of its own with its mark, from time 0 and no bytes.
  const timeline = D.timeline ? {
    t: varints(D.timeline.t), live: varints(D.timeline.live), rss: varints(D.timeline.rss),
  } : null;
  function duration(ns) {
    if (ns < 1e6) { return `${(ns / 1e6).toFixed(2)} ms`; }
    if (ns < 1e9) { return `${Math.round(ns / 1e6)} ms`; }
    if (ns < 120e9) { return `${(ns / 1e9).toFixed(ns < 10e9 ? 2 : 1)} s`; }
    return `${Math.floor(ns / 60e9)} min ${Math.round((ns % 60e9) / 1e9)} s`;
  }
  let timelinePoints = [];
  function drawTimeline() {
    if (!timeline) { return; }
    const c = $('timeline');
    const width = c.parentElement.clientWidth; const height = 110; const ratio = window.devicePixelRatio || 1;
    c.width = Math.round(width * ratio); c.height = Math.round(height * ratio); c.style.width = `${width}px`;
    const g = c.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const P = D.timeline;
    const peakAt = (P.peak_after_ns + P.peak_before_ns) / 2;
    // The points: 0 at 0, the samples, and the peak between the samples it fell between.
    const points = [{ t: 0, live: 0, rss: 0 }];
    for (let i = 0; i < timeline.t.length; ++i) {
      if (P.peak_bytes > 0 && timeline.t[i] >= peakAt && points[points.length - 1].t < peakAt) {
        points.push({ t: peakAt, live: P.peak_bytes, rss: -1, peak: true });
      }
      points.push({ t: timeline.t[i], live: timeline.live[i], rss: timeline.rss[i] });
    }
    const end = Math.max(points[points.length - 1].t, 1);
    // Each on its own scale: resident memory is often many times the live bytes.
    let top = 1; let topRss = 1;
    for (const p of points) { top = Math.max(top, p.live); topRss = Math.max(topRss, p.rss); }
    const x = (t) => 50 + (width - 130) * t / end;
    const y = (v) => height - 16 - (height - 26) * v / top;
    const yRss = (v) => height - 16 - (height - 26) * v / topRss;
    g.fillStyle = 'rgba(43,95,171,0.35)'; g.strokeStyle = '#2b5fab';
    g.beginPath(); g.moveTo(x(0), y(0));
    for (const p of points) { g.lineTo(x(p.t), y(p.live)); }
    g.lineTo(x(end), y(0)); g.closePath(); g.fill();
    g.beginPath(); points.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p.live)) : g.moveTo(x(p.t), y(p.live)))); g.stroke();
    g.strokeStyle = '#888'; g.beginPath();
    let started = false;
    for (const p of points) {
      if (p.rss < 0) { continue; }
      if (started) { g.lineTo(x(p.t), yRss(p.rss)); } else { g.moveTo(x(p.t), yRss(p.rss)); started = true; }
    }
    g.stroke();
    const peak = points.find((p) => p.peak);
    g.fillStyle = '#b00020'; g.font = '11px system-ui, sans-serif'; g.textBaseline = 'middle';
    if (peak) {
      g.beginPath(); g.arc(x(peak.t), y(peak.live), 3.5, 0, 2 * Math.PI); g.fill();
      g.fillText(`peak ${humanBytes(P.peak_bytes)}`, Math.min(x(peak.t) + 6, width - 90), y(peak.live) + 1);
    }
    g.fillStyle = '#2b5fab';
    g.fillText(humanBytes(top), 2, y(top) + 4);
    g.fillText('0', 40, y(0));
    g.fillStyle = '#666';
    g.fillText(`${humanBytes(topRss)} RSS`, x(end) + 6, yRss(topRss) + 4);
    g.fillText('0', x(0) - 3, height - 6);
    g.fillText(duration(end), x(end) - 50, height - 6);
    timelinePoints = points;
    $('timeline-legend').textContent = `Blue: the program's live bytes (left scale); grey: its resident memory ` +
      `(RSS, right scale), the toolkit's own ${humanBytes(P.toolkit_bytes)} included. The exact peak is marked.`;
  }
  if (timeline) {
    $('timeline').addEventListener('mousemove', (e) => {
      const r = $('timeline').getBoundingClientRect();
      const end = Math.max(timelinePoints[timelinePoints.length - 1].t, 1);
      const t = (e.clientX - r.left - 50) / (r.width - 130) * end;
      let best = timelinePoints[0];
      for (const p of timelinePoints) { if (Math.abs(p.t - t) < Math.abs(best.t - t)) { best = p; } }
      $('details').textContent = `${duration(best.t)}: ${humanBytes(best.live)} live` +
        (best.rss >= 0 ? `, ${humanBytes(best.rss)} resident` : ' (the peak)');
    });
  }

  $('title').textContent = D.title;
  $('title').title = D.title;
  $('run').textContent = D.run;
  $('totals').textContent = D.totals;
  $('notes').innerHTML = D.notes.map((n) => `<div>${escapeHtml(n)}.</div>`).join('');
  recompute();
  render();
  window.addEventListener('resize', () => { if (state.view === 'flame' || state.view === 'icicle') { drawFlame(); } });

  // For tests and scripts: the page's state and what it shows, in the data's units.
  window.measurePage = {
    metric: () => METRICS[state.metric].name,
    total: () => values[0],
    oldTotal: () => (oldValues ? oldValues[0] : null),
    frames: () => drawn.map((f) => ({ name: nodeName(tree, f.node), x: f.x, y: f.y, w: f.w, value: values[f.node], old: oldValues ? oldValues[f.node] : null, fill: colour(tree.label[f.node], f.node), ancestor: f.ancestor })),
    hits: () => drawn.filter((f) => f.node !== 0 && state.search && state.search.test(LABELS[tree.label[f.node]])).map((f) => nodeName(tree, f.node)),
    metricsOf: (name) => {
      const f = drawn.find((d) => nodeName(tree, d.node) === name);
      return f ? nodeMetrics(tree, f.node)[0] : null;
    },
    timeline: () => ({ points: timelinePoints, legend: $('timeline-legend').textContent }),
    canvasBox: () => { const r = canvas.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; },
  };
})();
</script>
</body>
</html>
)html";

}  // namespace

std::string html_document(std::string_view title, const std::string& data) {
  std::string out;
  out.reserve(data.size() + page_head.size() + page_body.size() + 256);
  out += page_head;
  out += fmt::format("<title>{}</title>\n", xml_text(title));
  out += "<script id=\"measure-data\" type=\"application/json\">";
  // "</" inside the data would end the script element early.
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '<' && i + 1 < data.size() && data[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out.push_back(data[i]);
    }
  }
  out += "</script>\n";
  out += page_body;
  return out;
}

}  // namespace measure::detail
