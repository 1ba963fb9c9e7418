// Opens a `measure report --format html` page in headless Chromium (devtools.mjs) and picks a
// stretch of time as a person would: a drag across the timeline from FROM_NS to its end. Then
// the live-bytes metric, the table, and a click on the timeline for the whole run again.
// Prints what the page showed after each step as JSON for browser_test.cpp, and saves a
// screenshot of each step.
// Usage: node range_browser.mjs HTML ARTIFACT_DIR FROM_NS
import { join } from 'node:path';

import { withPage } from './devtools.mjs';

const [html, artifacts, from] = process.argv.slice(2);

await withPage(html, { width: 1300, height: 600 }, async ({ page, evaluate, screenshot, click, clickAt, errors }) => {
  const shown = async () => ({
    metric: await evaluate('window.measurePage.metric()'),
    total: await evaluate('window.measurePage.total()'),
    frames: await evaluate('window.measurePage.frames()'),
    range: await evaluate('window.measurePage.range()'),
  });
  const result = { errors };
  result.initial = await shown();

  // Press at FROM_NS, move in steps to the end of the recording, release there.
  const end = (await evaluate('window.measurePage.timeline()')).end;
  const y = await evaluate('window.measurePage.timelineY()');
  const x0 = await evaluate(`window.measurePage.timelineX(${Number(from)})`);
  const x1 = await evaluate(`window.measurePage.timelineX(${end})`);
  await page('Input.dispatchMouseEvent', { type: 'mouseMoved', x: x0, y });
  await page('Input.dispatchMouseEvent', { type: 'mousePressed', x: x0, y, button: 'left', clickCount: 1 });
  for (let i = 1; i <= 5; ++i) {
    await page('Input.dispatchMouseEvent', { type: 'mouseMoved', x: x0 + ((x1 - x0) * i) / 5, y, button: 'left', buttons: 1 });
  }
  await page('Input.dispatchMouseEvent', { type: 'mouseReleased', x: x1, y, button: 'left', clickCount: 1 });
  result.selected = await shown();
  result.unknown = await evaluate(`Array.from(document.querySelectorAll('#metrics button'), (b) => [b.title, b.disabled])`);
  await screenshot(join(artifacts, 'range-1-selected.png'));

  await click(`document.querySelector('#metrics button[title="live_bytes"]')`);
  result.live = await shown();
  await screenshot(join(artifacts, 'range-2-live.png'));

  await click(`document.querySelector('#views button[data-view="table"]')`);
  result.table = await evaluate(`Array.from(document.querySelectorAll('#rows-body tr'), (tr) => ({
    index: +tr.dataset.i,
    values: Array.from(tr.querySelectorAll('td[data-v]'), (td) => +td.dataset.v),
  }))`);
  await screenshot(join(artifacts, 'range-3-table.png'));

  // A click on the timeline, without a drag: the whole run again.
  await click(`document.querySelector('#views button[data-view="flame"]')`);
  await clickAt(x0, y);
  result.cleared = await shown();
  await screenshot(join(artifacts, 'range-4-whole-run.png'));
  return result;
});
