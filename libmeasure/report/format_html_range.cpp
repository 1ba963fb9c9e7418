// The html page's script, the time range: dragging across the timeline picks whole intervals
// of the capture (D.intervals), and every view then shows what was allocated and freed in
// them, with as live what was live when the range's highest interval ended. The rules are
// those of `measure report --from/--to` (report/time_range.cpp), so the numbers agree.
#include "report/html_page.h"

namespace measure::detail {

const std::string_view html_script_range =
    R"js(  // ---- a stretch of time -----------------------------------------------------------------
  // The changes themselves are read at the first range, not before the first paint.
  const INTERVALS = D.intervals ? {
    end: varints(D.intervals.end, FIRST), toolkit: varints(D.intervals.toolkit, FIRST),
    live: varints(D.intervals.live, FIRST), count: varints(D.intervals.count, FIRST), sample: null, m: null,
  } : null;
  // The whole run's columns: set again once the page has read every sample.
  const wholeRun = { columns, unknown: METRICS.map((x) => x.unknown) };
  const metricIndex = (name) => METRICS.findIndex((x) => x.name === name);
  // Kept for the whole run only.
  const NOT_PER_INTERVAL = ['peak_bytes', 'temporary_count'];
  const intervalStart = (i) => (i === 0 ? 0 : INTERVALS.end[i - 1]);

  // The whole intervals that overlap [from, to], and the one after which the most bytes were
  // live; null when the range starts where the recording ends.
  function rangeOf(from, to) {
    if (from > to) { [from, to] = [to, from]; }
    const end = INTERVALS.end; const n = end.length;
    if (from > end[n - 1] || (from === end[n - 1] && to > from)) { return null; }
    let first = 0;
    while (end[first] < from) { ++first; }
    if (end[first] === from && to > from && first + 1 < n) { ++first; }
    let last = first;
    while (last + 1 < n && intervalStart(last + 1) < to) { ++last; }
    let highest = first;
    for (let i = first + 1; i <= last; ++i) { if (INTERVALS.live[i] > INTERVALS.live[highest]) { highest = i; } }
    return { first, last, highest, from: intervalStart(first), to: end[last], at: end[highest] };
  }

  // The changes, from the page's second block (inflated at the first range): each
  // interval's samples as differences from the one before.
  async function readChanges() {
    if (INTERVALS.sample) { return; }
    const later = await inflate('measure-later');
    const steps = varints(D.intervals.sample, later);
    let k = 0;
    for (let i = 0; i < INTERVALS.count.length; ++i) {
      let s = 0;
      for (const stop = k + INTERVALS.count[i]; k < stop; ++k) { s += steps[k]; steps[k] = s; }
    }
    INTERVALS.m = D.intervals.m.map((ref) => varints(ref, later));
    INTERVALS.sample = steps;
  }

  // Every sample's metrics in `range`: the four counts summed over its intervals, live blocks
  // and bytes as of the end of its highest one; peaks and temporaries unknown.
  function rangeColumns(range) {
    const fresh = METRICS.map(() => new Float64Array(sampleCount));
    const upTo = [0, 1, 2, 3].map(() => new Float64Array(sampleCount));
    const fields = ['alloc_count', 'alloc_bytes', 'free_count', 'freed_bytes'].map(metricIndex);
    const through = Math.max(range.last, range.highest);
    let k = 0;
    for (let i = 0; i <= through; ++i) {
      const inside = i >= range.first && i <= range.last; const before = i <= range.highest;
      for (const stop = k + INTERVALS.count[i]; k < stop; ++k) {
        const s = INTERVALS.sample[k];
        for (let f = 0; f < 4; ++f) {
          const v = INTERVALS.m[f][k];
          if (inside) { fresh[fields[f]][s] += v; }
          if (before) { upTo[f][s] += v; }
        }
      }
    }
    const liveCount = fresh[metricIndex('live_count')]; const liveBytes = fresh[metricIndex('live_bytes')];
    for (let s = 0; s < sampleCount; ++s) {
      liveCount[s] = Math.max(0, upTo[0][s] - upTo[2][s]);
      liveBytes[s] = Math.max(0, upTo[1][s] - upTo[3][s]);
    }
    return fresh;
  }

  const blocks = (n) => `${grouped(n)} ${n === 1 ? 'block' : 'blocks'}`;
  function sumOf(m) { let t = 0; for (let s = 0; s < sampleCount; ++s) { t += columns[m][s]; } return t; }

  // Shows `range` (from rangeOf), or the whole run again for null.
  async function applyRange(range) {
    if (range) { await readChanges(); }
    state.range = range;
    columns = range ? rangeColumns(range) : wholeRun.columns;
    METRICS.forEach((x, m) => { x.unknown = wholeRun.unknown[m] || (range !== null && NOT_PER_INTERVAL.includes(x.name)); });
    for (const b of $('metrics').children) { b.disabled = METRICS[+b.dataset.m].unknown; }
    if (METRICS[state.metric].unknown) { state.metric = metricIndex('alloc_bytes'); }
    if (state.sortColumn >= 0 && METRICS[state.sortColumn].unknown) { state.sortColumn = -1; }
    rowColumns = makeRowColumns();
    $('range').hidden = !range;
    if (range) {
      const n = INTERVALS.end.length;
      const which = range.first === range.last ? `interval ${range.first + 1}` : `intervals ${range.first + 1}\u2013${range.last + 1}`;
      $('range-text').textContent = `From ${duration(range.from)} to ${duration(range.to)} only (${which} of ${n}): ` +
        `${humanBytes(sumOf(metricIndex('alloc_bytes')))} allocated in ${blocks(sumOf(metricIndex('alloc_count')))}, ` +
        `${humanBytes(sumOf(metricIndex('freed_bytes')))} freed in ${blocks(sumOf(metricIndex('free_count')))}; ` +
        `live at ${duration(range.at)}, the range's highest point: ${humanBytes(sumOf(metricIndex('live_bytes')))} ` +
        `in ${blocks(sumOf(metricIndex('live_count')))}.` +
        (D.row_metrics ? ' The table (cumulative rows) shows the whole run.' : '');
    }
    recompute();
    render();
  }

  // On the timeline: the toolkit's memory at each interval's end (dashed, on the resident
  // memory's scale), the range (shaded, its highest point marked) or the one being dragged.
  let drag = null;
  function drawIntervals(g, x, yRss, height) {
    g.save();
    g.setLineDash([4, 3]); g.strokeStyle = '#888';
    g.beginPath(); g.moveTo(x(0), yRss(INTERVALS.toolkit[0]));
    for (let i = 0; i < INTERVALS.end.length; ++i) { g.lineTo(x(INTERVALS.end[i]), yRss(INTERVALS.toolkit[i])); }
    g.stroke();
    g.restore();
    const band = drag && drag.to !== null ? { from: Math.min(drag.from, drag.to), to: Math.max(drag.from, drag.to) } : state.range;
    if (band) {
      g.fillStyle = 'rgba(240,180,0,0.25)';
      g.fillRect(x(band.from), 0, Math.max(x(band.to) - x(band.from), 1), height - 16);
    }
    if (state.range && !drag) {
      g.strokeStyle = '#b07000'; g.beginPath(); g.moveTo(x(state.range.at), 0); g.lineTo(x(state.range.at), height - 16); g.stroke();
    }
  }

  if (INTERVALS && D.timeline) {
    const canvasOf = () => $('timeline');
    const timeAt = (clientX) => {
      const r = canvasOf().getBoundingClientRect();
      return Math.min(Math.max((clientX - r.left - 50) / (r.width - 130) * timelineEnd, 0), timelineEnd);
    };
    canvasOf().addEventListener('mousedown', (e) => { drag = { from: timeAt(e.clientX), x: e.clientX, to: null }; e.preventDefault(); });
    window.addEventListener('mousemove', (e) => { if (drag) { drag.to = timeAt(e.clientX); drawTimeline(); } });
    window.addEventListener('mouseup', (e) => {
      if (!drag) { return; }
      const d = drag; drag = null;
      // A click, not a drag: the whole run again.
      if (Math.abs(e.clientX - d.x) < 4) { if (state.range) { applyRange(null); } else { drawTimeline(); } return; }
      applyRange(rangeOf(d.from, timeAt(e.clientX)));
    });
    $('range-clear').addEventListener('click', () => applyRange(null));
  }

)js";

}  // namespace measure::detail
