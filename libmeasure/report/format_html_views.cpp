// The html page's script, second part: the flame graph and icicle on a canvas (only frames
// at least half a pixel wide), hover details, the top-down tree, the bottom-up tree grown
// where it is opened, and callers and callees of a function.
#include "report/html_page.h"

namespace measure::detail {

const std::string_view html_script_views =
    R"js(  // ---- the flame graph ------------------------------------------------------------------
  const canvas = $('flame');
  const context = canvas.getContext('2d');
  function hash(s) { let h = 2166136261; for (let i = 0; i < s.length; ++i) { h = Math.imul(h ^ s.charCodeAt(i), 16777619); } return h >>> 0; }
  // A diff's frames: red where the metric grew, blue where it shrank, the deeper the more it
  // changed against the larger side; pale where it did not change.
  function changeColour(before, after) {
    const r = before === after ? 0 : (after - before) / Math.max(before, after);
    const shade = Math.round(210 - 150 * Math.min(Math.abs(r) * 2, 1));
    return r > 0 ? `rgb(255,${shade},${shade})` : r < 0 ? `rgb(${shade},${shade},255)` : 'rgb(235,235,225)';
  }
  // Node v of label l: the metric's value `now`, a diff's `old`.
  function colour(l, v, now, old) {
    if (DIFF) { return v !== 0 && state.search && state.search.test(LABELS[l]) ? 'rgb(230,0,230)' : changeColour(old, now); }
    if (v === 0) { return 'rgb(200,200,200)'; }  // the root
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
    const box = (v, x, w, now, old, ancestor) => {
      const top = y(tree.depth[v]);
      const fill = colour(tree.label[v], v, now, old);
      context.fillStyle = fill;
      context.globalAlpha = ancestor ? 0.55 : 1;
      context.fillRect(x, top + 1, Math.max(w - 0.5, 0.5), ROW_HEIGHT - 2);
      context.globalAlpha = 1;
      if (w > 28) {
        const name = shortName(tree, v);
        const fit = Math.floor((w - 6) / 7.3);
        context.fillStyle = '#000';
        context.fillText(name.length <= fit ? name : `${name.slice(0, Math.max(fit - 2, 1))}..`, x + 3, top + ROW_HEIGHT / 2);
      }
      drawn.push({ node: v, x, y: top, w, value: now, old, fill, ancestor });
    };
    // The zoomed frame's callers span the width, dimmed; it and its callees scale to it.
    const z = state.zoom;
    if (z !== 0) {
      const parent = tree.parent;
      for (let v = parent[z]; v >= 0; v = parent[v]) { box(v, 0, width, total(v), DIFF ? total(v, 'old') : 0, true); }
    }
    // A frame's children one after another: each child's samples begin where the one
    // before it ended, so one search per child finds its sums.
    const { now, old } = runningSums();
    const end = tree.end;
    const whole = total(z);
    const walk = (v, x, w, from, to) => {
      box(v, x, w, now[to] - now[from], DIFF ? old[to] - old[from] : 0, false);
      let at = x;
      let k = samplesFrom(tree, v + 1);
      for (let c = v + 1; c < end[v]; c = end[c]) {
        const next = samplesFrom(tree, end[c]);
        const cw = whole > 0 ? (now[next] - now[k]) / whole * width : 0;
        if (cw >= 0.5) { walk(c, at, cw, k, next); }
        at += cw;
        k = next;
      }
    };
    walk(z, 0, width, ...sampleRange(tree, z));
    $('reset').disabled = state.zoom === 0;
  }

  function frameAt(event) {
    const r = canvas.getBoundingClientRect();
    const x = event.clientX - r.left; const y = event.clientY - r.top;
    return drawn.find((f) => x >= f.x && x < f.x + f.w && y >= f.y && y < f.y + ROW_HEIGHT);
  }
  function signed(d, m) { return d === 0 ? '0' : `${d > 0 ? '+' : '\u2212'}${show(Math.abs(d), m)}`; }
  // A drawn frame f: its metric, of the whole shown.
  function describe(f) {
    const m = state.metric; const name = nodeName(tree, f.node);
    if (DIFF) {
      const d = f.value - f.old;
      return `${name}: ${show(f.old, m)} \u2192 ${show(f.value, m)} ${HEADINGS[METRICS[m].name]} ` +
        `(${signed(d, m)}${f.old > 0 ? `, ${d >= 0 ? '+' : ''}${(100 * d / f.old).toFixed(1)}%` : ''})`;
    }
    return `${name}: ${show(f.value, m)} ${HEADINGS[METRICS[m].name]}, ${pct(f.value, drawn.find((g) => g.node === 0).value)}`;
  }
  // All eight metrics of the stacks through a node: its subtree's samples, consecutive in
  // t.samples.
  function nodeMetrics(t, v) {
    const sums = [METRICS.map(() => 0), METRICS.map(() => 0)];  // [new or all, old]
    const samples = t.samples;
    const [from, to] = sampleRange(t, v);
    for (let k = from; k < to; ++k) {
      const s = samples[k]; const side = DIFF && sampleSide[s] === 0 ? 1 : 0;
      for (let m = 0; m < METRICS.length; ++m) { sums[side][m] += columns[m][s]; }
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
    tip.innerHTML = `<b>${escapeHtml(nodeName(tree, f.node))}</b><br>${escapeHtml(describe(f).slice(nodeName(tree, f.node).length + 2))}<table>${rows}</table>`;
    tip.style.display = 'block';
    const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    const y = e.clientY + 16 + tip.offsetHeight > window.innerHeight ? e.clientY - tip.offsetHeight - 8 : e.clientY + 16;
    tip.style.left = `${Math.max(x, 4)}px`; tip.style.top = `${Math.max(y, 4)}px`;
  }
  canvas.addEventListener('mousemove', (e) => {
    const f = frameAt(e);
    $('details').textContent = f ? describe(f) : '\u00a0';
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
  function treeRows(t) {
    const body = $('tree-body');
    const html = [];
    const known = new Map();
    const vals = (v) => { let x = known.get(v); if (x === undefined) { x = total(v); known.set(v, x); } return x; };
    const whole = vals(0);
    const end = t.end;
    const sorted = (v) => {
      const kids = [];
      for (let c = v + 1; c < end[v]; c = end[c]) { kids.push(c); }
      return kids.sort((a, b) => vals(b) - vals(a));
    };
    const add = (v) => {
      const kids = sorted(v);
      let self = vals(v);
      for (const c of kids) { self -= vals(c); }
      const open = state.expanded.has(`${state.view}:${v}`);
      const hit = state.search && state.search.test(LABELS[t.label[v]]);
      html.push(`<tr data-node="${v}" data-v="${vals(v)}"${hit ? ' class="hit"' : ''}><td class="k" style="padding-left:${t.depth[v] * 14}px">` +
        `<span class="tw">${kids.length ? (open ? '\u25be' : '\u25b8') : ''}</span>${escapeHtml(LABELS[t.label[v]])}</td>` +
        `<td>${show(vals(v), state.metric)}</td><td>${pct(vals(v), whole)}</td><td>${show(self, state.metric)}</td></tr>`);
      if (open) { for (const c of kids) { if (vals(c) > 0) { add(c); } } }
    };
    for (const c of sorted(0)) { if (vals(c) > 0 || whole === 0) { add(c); } }
    body.innerHTML = html.join('');
  }
  // The bottom-up tree is grown only where it is opened: a node is a label and the samples
  // whose stacks end (innermost first) with its path, each with the frame of the top-down tree
  // it has reached. Built whole, it would have a node for nearly every frame of every stack.
  function bottomGroup(samples, at, depth, fromLeaf) {
    const groups = new Map();
    const parent = base.parent;
    for (let i = 0; i < samples.length; ++i) {
      let v = fromLeaf ? base.sampleNode[samples[i]] : parent[at[i]];
      while (v > 0 && state.hidden && state.hidden[base.label[v]]) { v = parent[v]; }
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
    let sum = 0;
    const parent = tree.parent; const end = tree.end;
    for (let v = 1; v < tree.n; ++v) {
      if (tree.label[v] !== l) { continue; }
      let nested = false;
      for (let a = parent[v]; a > 0 && !nested; a = parent[a]) { nested = tree.label[a] === l; }
      if (nested) { continue; }
      const value = total(v);
      sum += value;
      const p = parent[v];
      callers.set(p, (callers.get(p) || 0) + value);
      for (let c = v + 1; c < end[v]; c = end[c]) {
        callees.set(tree.label[c], (callees.get(tree.label[c]) || 0) + total(c));
      }
    }
    const byLabel = new Map();
    for (const [p, v] of callers) {
      const name = p === 0 ? '(the root: a thread or the program start)' : LABELS[tree.label[p]];
      byLabel.set(name, (byLabel.get(name) || 0) + v);
    }
    return { total: sum, callers: byLabel, callees: new Map([...callees].map(([k, v]) => [LABELS[k], v])) };
  }
  // The function of the frame with the largest value of its own (the first of equal ones).
  function heaviestLabel() {
    if (tree.n < 2) { return -1; }
    let best = 1; let bestValue = 0;
    const { now } = runningSums(); const samples = tree.samples;
    for (let k = 0; k < sampleCount;) {
      const v = tree.sampleNode[samples[k]];
      let last = k + 1;
      while (last < sampleCount && tree.sampleNode[samples[last]] === v) { ++last; }
      if (v !== 0 && now[last] - now[k] > bestValue) { best = v; bestValue = now[last] - now[k]; }
      k = last;
    }
    return tree.label[best];
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
    $('focus').textContent = `${LABELS[l]}: ${show(r.total, state.metric)} ${HEADINGS[METRICS[state.metric].name]} (${pct(r.total, total(0))})`;
    $('focus').dataset.v = r.total;
    fill('callers', r.callers, r.total);
    fill('callees', r.callees, r.total);
  }

)js";

}  // namespace measure::detail
