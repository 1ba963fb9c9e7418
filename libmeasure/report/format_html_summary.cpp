// The html page's script, summary part: the summary panel (report/summary.h) as tables, the
// sizes as a histogram. Its data is the JSON report's "summary" member, with the labels the
// text summary prints ("summary_labels": the size classes, the largest allocations' lines,
// the modules, the lifetime rows and what to say when there is no summary).
#include "report/html_page.h"

namespace measure::detail {

const std::string_view html_script_summary =
    R"js(  // ---- the summary ----------------------------------------------------------------------
  function summaryTable(id, heads, rows) {
    const head = heads.map((h, i) => `<th${i === 0 ? ' class="k"' : ''}>${escapeHtml(h)}</th>`).join('');
    const body = rows.map((r) => `<tr>${r.map((c, i) => i === 0 ? `<td class="k">${escapeHtml(c)}</td>`
                                                        : `<td>${c}</td>`).join('')}</tr>`).join('');
    return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
  }
  function summaryView() {
    const S = D.summary;
    const L = D.summary_labels;
    const allocCount = D.summary_totals.alloc_count;
    const allocBytes = D.summary_totals.alloc_bytes;
    let html = '';
    if (!S.recorded) {
      html += `<p class="muted">${escapeHtml(L.unrecorded)}</p>`;
    }
    if (S.sizes && S.sizes.length) {
      const most = Math.max(...S.sizes.map((c) => c.count));
      html += '<h2>Sizes</h2><p class="muted">Each class from a power of two up to, not including, the next.</p>';
      html += summaryTable('summary-sizes', ['Size', 'Allocations', '%', 'Bytes', '%', ''],
        S.sizes.map((c, i) => [L.sizes[i], grouped(c.count), pct(c.count, allocCount), humanBytes(c.bytes),
                               pct(c.bytes, allocBytes),
                               `<div class="bar" style="width:${(c.count / most * 240).toFixed(1)}px"></div>`]));
      if (S.inherited.count) {
        html += `<p class="muted">And ${grouped(S.inherited.count)} blocks (${humanBytes(S.inherited.bytes)}) ` +
          'inherited from the parent process, of sizes not recorded.</p>';
      }
    }
    const unknown = (v, f) => (v === null ? '—' : f(v));
    const life = (name, l) => [name, unknown(l.count, grouped), unknown(l.count, (n) => pct(n, allocCount)),
                              unknown(l.bytes, humanBytes)];
    const lifetimes = L.lifetimes.map((row) => life(row.name, S.lifetimes[row.member]));
    html += '<h2>Lifetimes</h2>' + summaryTable('summary-lifetimes', ['', 'Blocks', '%', 'Bytes'], lifetimes);
    if (S.threads && (S.threads.length || S.other_threads.threads)) {
      const rows = S.threads.map((t) => [`${t.id}${t.running ? '' : ' (exited)'}`, escapeHtml(t.name || '-'),
                                         grouped(t.alloc_count), humanBytes(t.alloc_bytes), grouped(t.free_count),
                                         humanBytes(t.freed_bytes)]);
      const o = S.other_threads;
      if (o.threads) {
        rows.push([`${grouped(o.threads)} other threads`, '', grouped(o.alloc_count), humanBytes(o.alloc_bytes),
                   grouped(o.free_count), humanBytes(o.freed_bytes)]);
      }
      html += '<h2>Threads</h2>' + summaryTable('summary-threads',
        ['Thread', 'Name', 'Allocations', 'Bytes', 'Frees', 'Freed'], rows);
    }
    if (S.largest && S.largest.length) {
      html += '<h2>Largest allocations</h2>' + summaryTable('summary-largest', ['Allocated in', 'Size', 'At'],
        S.largest.map((b, i) => [L.largest[i], humanBytes(b.size), duration(b.time_ns)]));
    }
    if (S.modules && S.modules.length) {
      html += '<h2>Modules</h2><p class="muted">Where the allocating code lies.</p>' +
        summaryTable('summary-modules', ['Module', 'Allocations', 'Bytes', '%'],
          S.modules.map((m, i) => [L.modules[i], grouped(m.alloc_count), humanBytes(m.alloc_bytes),
                                   pct(m.alloc_bytes, allocBytes)]));
    }
    $('summary-view').innerHTML = html;
  }
)js";

}  // namespace measure::detail
