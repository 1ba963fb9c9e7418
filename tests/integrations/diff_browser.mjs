// Opens a `measure diff --format html` page in headless Chromium (devtools.mjs): the
// differential flame graph, then the allocations metric, then the table, with a screenshot of
// each. Prints what the page showed as JSON for browser_test.cpp.
// Usage: node diff_browser.mjs HTML ARTIFACT_DIR METRIC
import { join } from 'node:path';

import { withPage } from './devtools.mjs';

const [html, artifacts, metric] = process.argv.slice(2);

await withPage(html, { width: 1300, height: 500 }, async ({ evaluate, screenshot, click, errors }) => {
  const shown = async () => ({
    metric: await evaluate('window.measurePage.metric()'),
    old_total: await evaluate('window.measurePage.oldTotal()'),
    total: await evaluate('window.measurePage.total()'),
    frames: await evaluate('window.measurePage.frames()'),
  });
  const result = { errors };
  result.verdict = await evaluate(`document.getElementById('verdict').textContent`);
  result.verdict_failed = await evaluate(`document.getElementById('verdict').classList.contains('failed')`);
  result.initial = await shown();
  result.first_view = await evaluate('window.measurePage.firstFrames()');
  await screenshot(join(artifacts, 'diff-1-flame.png'));

  await click(`document.querySelector('#metrics button[title="${metric}"]')`);
  result.switched = await shown();
  await screenshot(join(artifacts, 'diff-2-metric.png'));

  await click(`document.querySelector('#views button[data-view="table"]')`);
  result.table = await evaluate(`Array.from(document.querySelectorAll('#rows-body tr'), (tr) => ({
    index: +tr.dataset.i,
    status: tr.querySelector('td').textContent,
    old: +tr.dataset.old,
    new: +tr.dataset.new,
    regressed: tr.classList.contains('regressed'),
  }))`);
  await screenshot(join(artifacts, 'diff-3-table.png'));
  return result;
});
