// The html page's script, first part: the data as typed arrays, the stack tree (as written,
// or with hidden frames left out) and its totals for one metric in one pass over its nodes,
// so a metric switch stays fast at a million nodes; the page's state. The views follow
// (format_html_views.cpp, format_html_summary.cpp, format_html_range.cpp,
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
  // 0.31-0.4 s for 10 MB).
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
    const inflater = new DecompressionStream('deflate');
    const writer = inflater.writable.getWriter();
    writer.write(fromBase64(document.getElementById(id).textContent));
    writer.close();
    return new Uint8Array(await new Response(inflater.readable).arrayBuffer());
  }
  let BLOCK;
  try {
    BLOCK = await inflate('measure-lists');
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
  const sampleCount = D.samples.count;
  // Per metric, each sample's value: the whole run's, or a time range's (html_script_range).
  let columns = D.samples.m.map((ref) => varints(ref));
  const sampleRow = varints(D.samples.r);
  // A diff: each sample is the old capture's (0) or the new one's (1); widths follow the new.
  const DIFF = Array.isArray(D.samples.s);
  const sampleSide = DIFF ? varints(D.samples.s) : null;

  // A tree of frame labels: parent before child in index order, node 0 the root ("all").
  // `sorted`: each node's children already come in label order (the tree as written).
  function makeTree(parent, label, depth, sampleNode, sorted) {
    const n = parent.length;
    const count = new Int32Array(n + 1);
    for (let i = 1; i < n; ++i) { ++count[parent[i] + 1]; }
    for (let i = 1; i <= n; ++i) { count[i] += count[i - 1]; }
    const start = count.slice(0, n + 1);
    const children = new Int32Array(Math.max(n - 1, 0));
    const fill = start.slice(0, n);
    for (let i = 1; i < n; ++i) { children[fill[parent[i]]++] = i; }
    // Children in label order (labels are sorted by name): flame graphs draw them that way.
    for (let i = 0; i < n && !sorted; ++i) {
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
    // Read as they are used, without a list of them all: the largest list of the page.
    const bytes = BLOCK.subarray(D.nodes[0], D.nodes[0] + D.nodes[1]);
    const parent = new Int32Array(n); const label = new Int32Array(n); const depth = new Int32Array(n);
    parent[0] = -1; label[0] = -1;
    // chain[d]: the last node at depth d, whose children the next nodes may be.
    let chain = new Int32Array(256);
    // The varints decoded in the loop itself, with its position in a local: a closure that
    // advanced it took twice as long at 9.7 million nodes. Both numbers are under 2^31.
    let at = 0; let last = 0;
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
      if (d >= chain.length) { const wider = new Int32Array(2 * d); wider.set(chain); chain = wider; }
      parent[i] = chain[d - 1]; depth[i] = d; label[i] = first >>> 1;
      chain[d] = i;
      last = d;
    }
    const sampleNode = new Int32Array(sampleCount);
    const steps = varints(D.samples.n);
    let node = 0;
    for (let s = 0; s < sampleCount; ++s) { node += steps[s]; sampleNode[s] = node; }
    // Written depth-first from paths in lexicographic order: siblings come in label order.
    return makeTree(parent, label, depth, sampleNode, true);
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
  // `into`: an array of the tree's size to reuse (a new one of 78 MB per switch, at 9.7 million
  // nodes, cost more than the sums).
  function totals(tree, m, side = -1, into = null) {
    const v = into && into.length === tree.n ? into.fill(0) : new Float64Array(tree.n);
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
    zoom: 0, search: null, hidden: null, focus: -1, range: null, sortColumn: -1, sortAscending: false, expanded: new Set(),
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
    values = totals(tree, state.metric, DIFF ? 1 : -1, values);
    oldValues = DIFF ? totals(tree, state.metric, 0, oldValues) : null;
    bottomValues = new Map();
  }

)js";

}  // namespace measure::detail
