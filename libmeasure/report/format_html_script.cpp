// The html page's script, first part: the data as typed arrays (the first view's, then
// everything), the stack tree (as written, or with hidden frames left out) in depth-first
// order, and a node's totals for one metric from running sums over the samples, so that a
// metric switch sums the samples, not the nodes (millions of them); the page's state. The
// views follow (format_html_views.cpp, format_html_summary.cpp, format_html_range.cpp,
// format_html_controls.cpp); the parts are one function.
#include "report/html_page.h"

namespace measure::detail {

const std::string_view html_script_model = R"js('use strict';
(async function () {
  const D = JSON.parse(document.getElementById('measure-data').textContent);
  // The lists of numbers: one deflated block in base64, inflated by the browser.
  // Base64 decoded here into bytes: faster than atob and a copy loop (0.13-0.2 s against
  // 0.22-0.3 s for 13 MB), which beat a fetch of a data: URL. The whole block is written to
  // the inflater at once: its stream from a Blob took twice as long (0.65-0.74 s against
  // 0.31-0.4 s for 10 MB). Its output is copied into one array of the size the element gives:
  // a Response's arrayBuffer() of the stream took twice as long again.
  const BASE64 = new Uint8Array(128);
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => { BASE64[c.charCodeAt(0)] = i; });
  function fromBase64(text) {
    let n = text.length;
    while (n > 0 && text.charCodeAt(n - 1) === 61) { --n; }
    const out = new Uint8Array((n * 3) >> 2);
    const at = (k) => BASE64[text.charCodeAt(k)];
    let o = 0; let i = 0;
    for (; i + 4 <= n; i += 4) {
      const v = (at(i) << 18) | (at(i + 1) << 12) | (at(i + 2) << 6) | at(i + 3);
      out[o++] = v >> 16; out[o++] = (v >> 8) & 255; out[o++] = v & 255;
    }
    if (n - i >= 2) {
      const v = (at(i) << 18) | (at(i + 1) << 12) | (n - i === 3 ? at(i + 2) << 6 : 0);
      out[o++] = v >> 16;
      if (n - i === 3) { out[o++] = (v >> 8) & 255; }
    }
    return out;
  }
  async function inflate(id) {
    const element = document.getElementById(id);
    const inflater = new DecompressionStream('deflate');
    const writer = inflater.writable.getWriter();
    writer.write(fromBase64(element.firstChild.data));
    writer.close();
    const reader = inflater.readable.getReader();
    let out = new Uint8Array(+element.dataset.bytes || 0);
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) { return out.subarray(0, size); }
      if (size + value.length > out.length) {
        const wider = new Uint8Array(2 * (size + value.length));
        wider.set(out.subarray(0, size));
        out = wider;
      }
      out.set(value, size);
      size += value.length;
    }
  }
  // FIRST: the first paint's lists (the first view, the timeline), before this script in the
  // page; BLOCK: the others, after it, read once the browser has read them.
  let FIRST;
  let BLOCK = null;
  try {
    FIRST = await inflate('measure-first');
  } catch (error) {
    document.getElementById('details').textContent =
      `This browser cannot read the page's data (${error}); any current Chrome, Firefox or Safari can.`;
    throw error;
  }
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
  // A list of numbers, [offset, bytes] into the block: LEB128 varints.
  function varints(ref, block = BLOCK) {
    const bytes = block.subarray(ref[0], ref[0] + ref[1]);
    const out = new Float64Array(bytes.length);
    let n = 0; let value = 0; let scale = 1;
    for (let i = 0; i < bytes.length; ++i) {
      const b = bytes[i];
      value += (b & 127) * scale;
      if (b < 128) { out[n++] = value; value = 0; scale = 1; } else { scale *= 128; }
    }
    return out.subarray(0, n);
  }
  // The samples: the first view's (D.first: one metric) until the page has read the rest.
  let sampleCount = 0;
  // Per metric, each sample's value: the whole run's, or a time range's (html_script_range).
  let columns = [];
  let sampleRow = null;
  // A diff: each sample is the old capture's (0) or the new one's (1); widths follow the new.
  const DIFF = Array.isArray(D.samples.s);
  let sampleSide = null;

  // A tree of frame labels in depth-first order: node 0 is the root ("all"), a node's subtree
  // is the nodes after it that are deeper, and siblings come in label order (labels are sorted
  // by name: flame graphs draw them that way). It keeps labels and depths; the subtree ends
  // and parents are made on first use (the parents only once a view needs them): at 9.7
  // million nodes each array costs about 0.1 s in fresh memory alone.
  function makeTree(label, depth, sampleNode, maxDepth) {
    const n = label.length;
    let parent = null; let end = null; let samples = null;
    return {
      n, label, depth, sampleNode, maxDepth,
      // The samples in the order of their nodes: a subtree's samples are consecutive.
      get samples() {
        if (!samples) {
          samples = new Int32Array(sampleNode.length);
          let inOrder = true;
          for (let s = 0; s < samples.length; ++s) {
            samples[s] = s;
            if (s > 0 && sampleNode[s] < sampleNode[s - 1]) { inOrder = false; }
          }
          if (!inOrder) { samples.sort((a, b) => sampleNode[a] - sampleNode[b]); }
        }
        return samples;
      },
      get parent() {
        if (!parent) {
          parent = new Int32Array(n);
          parent[0] = -1;
          const chain = new Int32Array(maxDepth + 1);
          for (let i = 1; i < n; ++i) { const d = depth[i]; parent[i] = chain[d - 1]; chain[d] = i; }
        }
        return parent;
      },
      // end[v]: one past the last node of v's subtree; v's children are v + 1, end[v + 1] ...
      get end() {
        if (!end) {
          end = new Int32Array(n);
          const open = new Int32Array(maxDepth + 1);  // open[d]: the last node seen at depth d
          let top = -1;
          for (let i = 0; i < n; ++i) {
            const d = depth[i];
            for (; top >= d; --top) { end[open[top]] = i; }
            open[d] = i; top = d;
          }
          for (; top >= 0; --top) { end[open[top]] = n; }
        }
        return end;
      },
    };
  }

  // The tree as written (`stacks`: D or D.first, its lists in `block`): depth-first, each
  // node as the levels it climbs from the one before.
  function baseTree(block, stacks) {
    const n = stacks.node_count;
    // Read as they are used, without a list of them all: the largest list of the page.
    const bytes = block.subarray(stacks.nodes[0], stacks.nodes[0] + stacks.nodes[1]);
    // Labels fit 16 bits unless there are 65,535 of them; the root's label is never read.
    const label = new (LABELS.length < 65535 ? Uint16Array : Int32Array)(n); let depth = new Uint16Array(n);
    // The varints decoded in the loop itself, with its position in a local: a closure that
    // advanced it took twice as long at 9.7 million nodes. Both numbers are under 2^31.
    let at = 0; let last = 0; let maxDepth = 0;
    for (let i = 1; i < n; ++i) {
      let b = bytes[at++];
      let first = b & 127;  // label * 2 + whether a climb follows
      for (let shift = 7; b >= 128; shift += 7) { b = bytes[at++]; first |= (b & 127) << shift; }
      let climb = 0;
      if ((first & 1) === 1) {
        b = bytes[at++]; climb = b & 127;
        for (let shift = 7; b >= 128; shift += 7) { b = bytes[at++]; climb |= (b & 127) << shift; }
      }
      const d = last + 1 - climb;
      // Depths fit 16 bits unless an imported stack is deeper (a depth grows one at a time).
      if (d > maxDepth) { maxDepth = d; if (d === 65536) { depth = Int32Array.from(depth); } }
      depth[i] = d; label[i] = first >>> 1;
      last = d;
    }
    const sampleNode = new Int32Array(sampleCount);
    const steps = varints(stacks.samples.n, block);
    let node = 0;
    for (let s = 0; s < sampleCount; ++s) { node += steps[s]; sampleNode[s] = node; }
    // Written depth-first from paths in lexicographic order: siblings come in label order.
    return makeTree(label, depth, sampleNode, maxDepth);
  }

  // A tree made in another order (parents before children), renumbered depth-first with
  // siblings in label order.
  function depthFirst(parent, label, sampleNode, labelType, depthType) {
    const n = parent.length;
    const start = new Int32Array(n + 1);
    for (let i = 1; i < n; ++i) { ++start[parent[i] + 1]; }
    for (let i = 1; i <= n; ++i) { start[i] += start[i - 1]; }
    const children = new Int32Array(Math.max(n - 1, 0));
    const fill = start.slice(0, n);
    for (let i = 1; i < n; ++i) { children[fill[parent[i]]++] = i; }
    const renumbered = new Int32Array(n);
    const newLabel = new labelType(n); const newDepth = new depthType(n);
    const stack = [0];
    let next = 0; let maxDepth = 0;
    while (stack.length) {
      const v = stack.pop();
      const at = next++;
      renumbered[v] = at;
      newLabel[at] = label[v];
      const d = v === 0 ? 0 : newDepth[renumbered[parent[v]]] + 1;
      newDepth[at] = d;
      if (d > maxDepth) { maxDepth = d; }
      const kids = children.subarray(start[v], start[v + 1]);
      kids.sort((a, b) => label[b] - label[a]);  // popped in label order
      for (const c of kids) { stack.push(c); }
    }
    return makeTree(newLabel, newDepth, sampleNode.map((v) => renumbered[v]), maxDepth);
  }

  // A new tree from every sample's path in `base`, leaving out hidden labels.
  // Its index of (parent, label) -> node is an open-addressing table in typed arrays: a Map
  // keyed by numbers took 2.3 s for the 8.8 million steps of 200,000 stacks.
  function derivedTree(base, hidden) {
    const parent = [-1]; const label = [-1];
    const baseParent = base.parent;
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
      for (let v = base.sampleNode[s]; v > 0; v = baseParent[v]) {
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
          parent.push(at); label.push(l);
          keyParent[h] = at; keyLabel[h] = l; node[h] = next;
          at = next;
          if (parent.length * 2 > capacity) { grow(); }
        } else {
          at = node[h];
        }
      }
      sampleNode[s] = at;
    }
    return depthFirst(Int32Array.from(parent), Int32Array.from(label), sampleNode, base.label.constructor, base.depth.constructor);
  }

  // ---- state ----------------------------------------------------------------------------
  const state = {
    view: 'flame', metric: Math.max(0, METRICS.findIndex((x) => x.name === D.sort)),
    zoom: 0, search: null, hidden: null, focus: -1, range: null, sortColumn: -1, sortAscending: false, expanded: new Set(),
  };
  // Too deep for a window drawn upright: the roots would lie below the fold (as in the svg).
  if (D.max_depth > 44) { state.view = 'icicle'; }
  let base = null;        // the top-down tree
  let tree = null;        // the same without hidden frames
  let bottomUp = null;    // the bottom-up tree's nodes, grown as they are opened
  let bottomValues = null;  // per bottom-up node: its total, as asked for
  let drawn = [];         // the flame graph's frames as drawn: {node, x, y, w, value, old, fill, ancestor}

  // A node's total of the metric (itself and everything under it; a diff's new capture, or
  // its old one) without an array of every node's: the running sums of the samples in the
  // order of their nodes, where a subtree's samples are consecutive. Exact: the sums are
  // integers under 2^53.
  let sums = null;  // {tree, now, old}: sums[k] of the first k samples of tree.samples
  // The tree, the metric or the time range changed.
  function recompute() {
    sums = null;
    bottomValues = new Map();
  }
  function runningSums() {
    if (!sums || sums.tree !== tree) {
      const samples = tree.samples; const column = columns[state.metric];
      const now = new Float64Array(sampleCount + 1); const old = new Float64Array(DIFF ? sampleCount + 1 : 1);
      for (let k = 0; k < sampleCount; ++k) {
        const s = samples[k];
        const before = DIFF && sampleSide[s] === 0;
        now[k + 1] = now[k] + (before ? 0 : column[s]);
        if (DIFF) { old[k + 1] = old[k] + (before ? column[s] : 0); }
      }
      sums = { tree, now, old };
    }
    return sums;
  }
  // Where node v's samples begin in tree.samples (those of later nodes follow).
  function samplesFrom(t, v) {
    const samples = t.samples; const sampleNode = t.sampleNode;
    let lo = 0; let hi = sampleCount;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sampleNode[samples[mid]] < v) { lo = mid + 1; } else { hi = mid; }
    }
    return lo;
  }
  // Node v's samples: [from, to) in t.samples.
  function sampleRange(t, v) { return [samplesFrom(t, v), samplesFrom(t, t.end[v])]; }
  // Node v's total: `which` 'now' (the metric, a diff's new capture) or 'old' (a diff's old one).
  function total(v, which = 'now') {
    const [from, to] = sampleRange(tree, v);
    const sum = runningSums()[which];
    return sum[to] - sum[from];
  }
  // The first view: the frames the flame graph draws for the first metric, and as many
  // levels as the whole tree (so that it draws them where the whole tree will).
  function readFirstView() {
    const first = D.first;
    sampleCount = first.samples.count;
    columns = METRICS.map((_, m) => (m === state.metric ? varints(first.samples.m, FIRST) : new Float64Array(sampleCount)));
    sampleSide = DIFF ? varints(first.samples.s, FIRST) : null;
    base = baseTree(FIRST, first);
    base.maxDepth = D.max_depth;
    tree = base;
  }
  // Everything: once the browser has read the rest of the page.
  async function readAll() {
    if (document.readyState === 'loading') {
      await new Promise((resolve) => document.addEventListener('DOMContentLoaded', resolve));
    }
    BLOCK = await inflate('measure-lists');
    sampleCount = D.samples.count;
    columns = D.samples.m.map((ref) => varints(ref));
    sampleRow = varints(D.samples.r);
    sampleSide = DIFF ? varints(D.samples.s) : null;
    base = baseTree(BLOCK, D);
    tree = state.hidden ? derivedTree(base, state.hidden) : base;
    recompute();
  }
  const firstView = D.first && D.first.metric === METRICS[state.metric].name;
  if (firstView) { readFirstView(); } else { await readAll(); }

)js";

}  // namespace measure::detail
