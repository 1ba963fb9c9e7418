// The html page's script, last part: the table (a report's rows, or a diff's), the buttons
// and fields, the timeline strip, render(), which shows the chosen view, and the start: the
// first view drawn, then everything once the page has read the rest.
// `window.measurePage` exposes what is drawn and shown, for tests.
#include "report/html_page.h"

namespace measure::detail {

const std::string_view html_script_controls =
    R"js(  // ---- the table ------------------------------------------------------------------------
  const rowCount = DIFF ? D.diff_rows.k.length : D.rows.length;
  // Each row's metrics, summed from the samples' (a cumulative report's rows overlap: their
  // sums are the report's, for the whole run).
  const makeRowColumns = () => (DIFF ? null : METRICS.map((_, m) => {
    if (D.row_metrics) { return Float64Array.from(D.row_metrics[m]); }
    const c = new Float64Array(rowCount);
    for (let s = 0; s < sampleCount; ++s) { if (sampleRow[s] < rowCount) { c[sampleRow[s]] += columns[m][s]; } }
    return c;
  }));
  let rowColumns = null;  // once the page has read every sample
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
    // Depth-first: a matched frame's subtree is passed over.
    let sum = 0;
    const depth = tree.depth;
    let cut = Infinity;
    for (let v = 1; v < tree.n; ++v) {
      if (depth[v] > cut) { continue; }
      cut = Infinity;
      if (state.search.test(LABELS[tree.label[v]])) { sum += total(v); cut = depth[v]; }
    }
    return `Matched: ${pct(sum, total(0))}`;
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
    $('summary-view').hidden = state.view !== 'summary';
    $('matched').textContent = matchedShare();
    $('details').textContent = '\u00a0';
    $('self-heading').textContent = state.view === 'top' ? 'Self' : '';
    if (state.view === 'flame' || state.view === 'icicle') { drawFlame(); }
    if (state.view === 'top') { treeRows(tree); }
    if (state.view === 'bottom') { bottomRows(); }
    if (state.view === 'callers') { callersView(); }
    if (state.view === 'table') { tableView(); }
    if (state.view === 'summary') { summaryView(); }
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
    t: varints(D.timeline.t, FIRST), live: varints(D.timeline.live, FIRST), rss: varints(D.timeline.rss, FIRST),
  } : null;
  function duration(ns) {
    if (ns < 1e6) { return `${(ns / 1e6).toFixed(2)} ms`; }
    if (ns < 1e9) { return `${Math.round(ns / 1e6)} ms`; }
    if (ns < 120e9) { return `${(ns / 1e9).toFixed(ns < 10e9 ? 2 : 1)} s`; }
    return `${Math.floor(ns / 60e9)} min ${Math.round((ns % 60e9) / 1e9)} s`;
  }
  let timelinePoints = [];
  let timelineEnd = 1;
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
    // A point stands at the time of its highest live bytes, so the peak may fall after the last.
    if (P.peak_bytes > 0 && !points.some((p) => p.peak)) {
      points.push({ t: peakAt, live: P.peak_bytes, rss: -1, peak: true });
    }
    const end = Math.max(points[points.length - 1].t, INTERVALS ? INTERVALS.end[INTERVALS.end.length - 1] : 0, 1);
    timelineEnd = end;
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
    if (INTERVALS) { drawIntervals(g, x, yRss, height); }
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
    // Right-aligned to the canvas's edge, so a long size is never cut off.
    g.textAlign = 'right';
    g.fillText(`${humanBytes(topRss)} RSS`, width - 2, yRss(topRss) + 4);
    if (INTERVALS) {
      // The toolkit's own memory, a part of the resident memory, on its scale; a line below
      // the resident memory's label when the two are close (the toolkit is most of it).
      const last = INTERVALS.toolkit.length - 1;
      const at = Math.max(yRss(INTERVALS.toolkit[last]), yRss(topRss) + 13);
      g.fillText('toolkit', width - 2, Math.min(at, height - 20) + 4);
    }
    g.textAlign = 'left';
    g.fillText('0', x(0) - 3, height - 6);
    g.fillText(duration(end), x(end) - 50, height - 6);
    timelinePoints = points;
    $('timeline-legend').textContent = `Blue: the program's live bytes (left scale); grey: its resident memory ` +
      `(RSS, right scale), the toolkit's own ${humanBytes(P.toolkit_bytes)} included` +
      (INTERVALS ? ' (dashed: the toolkit\'s own memory over time). The exact peak is marked. ' +
        'Drag across the chart to see one stretch of time; click it to see the whole run again.' : '. The exact peak is marked.');
  }
  if (timeline) {
    $('timeline').addEventListener('mousemove', (e) => {
      const r = $('timeline').getBoundingClientRect();
      const t = (e.clientX - r.left - 50) / (r.width - 130) * timelineEnd;
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
  // The frames drawn, in the data's units.
  const shownFrames = () => drawn.map((f) => ({ name: nodeName(tree, f.node), x: f.x, y: f.y, w: f.w, value: f.value,
    old: DIFF ? f.old : null, fill: f.fill, ancestor: f.ancestor }));
  recompute();
  render();
  let firstFrames = null;
  if (firstView) {
    // The first view is drawn; the controls wait for the rest of the page.
    firstFrames = shownFrames();
    document.body.classList.add('reading');
    $('details').textContent = 'Reading the rest of the page\u2026';
    window.measureFirstPaint = await new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())));
    await readAll();
    document.body.classList.remove('reading');
  }
  wholeRun.columns = columns;
  rowColumns = makeRowColumns();
  if (firstView) { render(); }
  window.addEventListener('resize', () => { if (state.view === 'flame' || state.view === 'icicle') { drawFlame(); } });

  // For tests and scripts: the page's state and what it shows, in the data's units.
  window.measurePage = {
    metric: () => METRICS[state.metric].name,
    total: () => total(0),
    oldTotal: () => (DIFF ? total(0, 'old') : null),
    frames: shownFrames,
    // The first view's frames (null: the page had none), drawn before it read the rest.
    firstFrames: () => firstFrames,
    hits: () => drawn.filter((f) => f.node !== 0 && state.search && state.search.test(LABELS[tree.label[f.node]])).map((f) => nodeName(tree, f.node)),
    metricsOf: (name) => {
      const f = drawn.find((d) => nodeName(tree, d.node) === name);
      return f ? nodeMetrics(tree, f.node)[0] : null;
    },
    timeline: () => ({ points: timelinePoints, legend: $('timeline-legend').textContent, end: timelineEnd }),
    // The time range shown (null: the whole run), and where time `t` is drawn on the screen.
    range: () => (state.range ? { from_ns: state.range.from, to_ns: state.range.to, first: state.range.first,
      last: state.range.last, live_at_ns: state.range.at, text: $('range-text').textContent } : null),
    timelineX: (t) => { const r = $('timeline').getBoundingClientRect(); return r.left + 50 + (r.width - 130) * t / timelineEnd; },
    timelineY: () => { const r = $('timeline').getBoundingClientRect(); return r.top + r.height / 2; },
    canvasBox: () => { const r = canvas.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; },
  };
})().catch((error) => {
  window.measurePageError = String(error);  // for tests, which wait for the page
  throw error;
});
)js";

}  // namespace measure::detail
