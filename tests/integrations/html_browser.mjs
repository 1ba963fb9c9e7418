// Opens a `measure report --format html` page in headless Chromium (devtools.mjs) and works it
// as a person would, with the mouse and the keyboard: switches the metric, zooms into a frame
// of the flame graph, searches, opens the bottom-up tree, the callers of a function and the
// table, then hides a function's frames and opens the summary. Prints what the page showed after each step as JSON for browser_test.cpp, and saves
// a screenshot of each step.
// Usage: node html_browser.mjs HTML ARTIFACT_DIR METRIC FRAME_TO_CLICK SEARCH_TERM
import { join } from 'node:path';

import { withPage } from './devtools.mjs';

const [html, artifacts, metric, target, term] = process.argv.slice(2);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

await withPage(html, { width: 1300, height: 600 }, async ({ page, evaluate, screenshot, click, clickAt, type, press, errors }) => {
  const frames = () => evaluate('window.measurePage.frames()');
  const shown = async () => ({ metric: await evaluate('window.measurePage.metric()'), total: await evaluate('window.measurePage.total()'), frames: await frames() });
  const rows = (body) =>
    evaluate(`Array.from(document.querySelectorAll('#${body} tr'), (tr) => ({
      name: tr.querySelector('td.k').textContent.replace(/^[\\u25b8\\u25be]/, ''),
      value: +tr.dataset.v,
      hit: tr.classList.contains('hit'),
    }))`);
  // The search's highlight, for the flame graph's frames.
  const hits = () => evaluate('window.measurePage.hits()');

  const result = { errors };
  result.initial = await shown();
  result.first_view = await evaluate('window.measurePage.firstFrames()');
  result.header = await evaluate(`document.getElementById('totals').textContent`);
  result.timeline = await evaluate('window.measurePage.timeline()');
  // Hovering a frame shows all eight metrics of the stacks through it.
  {
    const box = await evaluate('window.measurePage.canvasBox()');
    const f = result.initial.frames.find((x) => x.name === target);
    await page('Input.dispatchMouseEvent', { type: 'mouseMoved', x: box.x + f.x + f.w / 2, y: box.y + f.y + 9 });
    result.hover = {
      visible: await evaluate(`getComputedStyle(document.getElementById('tip')).display !== 'none'`),
      title: await evaluate(`document.querySelector('#tip b').textContent`),
      metrics: await evaluate(`window.measurePage.metricsOf(${JSON.stringify(target)})`),
    };
  }
  await screenshot(join(artifacts, 'html-1-initial.png'));

  await click(`document.querySelector('#metrics button[title="${metric}"]')`);
  result.switched = await shown();
  await screenshot(join(artifacts, 'html-2-metric.png'));

  const box = await evaluate('window.measurePage.canvasBox()');
  const frame = result.switched.frames.find((f) => f.name === target);
  if (!frame) {
    throw new Error(`no frame named ${target}`);
  }
  await clickAt(box.x + frame.x + frame.w / 2, box.y + frame.y + 9);
  result.zoomed = await shown();
  result.canvas_width = box.w;
  await screenshot(join(artifacts, 'html-3-zoomed.png'));

  // The zoomed frame's function is the one the callers view shows.
  await click(`document.querySelector('#views button[data-view="callers"]')`);
  result.focus = { text: await evaluate(`document.getElementById('focus').textContent`), value: await evaluate(`+document.getElementById('focus').dataset.v`) };
  result.callers = await rows('callers');
  result.callees = await rows('callees');
  await screenshot(join(artifacts, 'html-4-callers.png'));

  await click(`document.querySelector('#views button[data-view="flame"]')`);
  await click(`document.getElementById('reset')`);
  await click(`document.getElementById('search')`);
  await type(term);
  await pause(400);  // the search waits for typing to pause
  result.matched = await evaluate(`document.getElementById('matched').textContent`);
  result.searched = await shown();
  result.hits = await hits();
  await screenshot(join(artifacts, 'html-5-search.png'));

  await click(`document.querySelector('#views button[data-view="bottom"]')`);
  result.bottom_up = await rows('tree-body');
  // Opening the first (innermost) function shows its callers under it.
  await click(`document.querySelector('#tree-body td.k')`);
  result.bottom_up_open = await rows('tree-body');
  await screenshot(join(artifacts, 'html-6-bottom-up.png'));

  // The search narrows the table too: cleared, every row is there.
  await click(`document.getElementById('search')`);
  await evaluate(`document.getElementById('search').select()`);
  await press('Backspace');
  await pause(400);
  await click(`document.querySelector('#views button[data-view="table"]')`);
  result.table = await evaluate(`Array.from(document.querySelectorAll('#rows-body tr'), (tr) => ({
    index: +tr.dataset.i,
    values: Array.from(tr.querySelectorAll('td[data-v]'), (td) => +td.dataset.v),
  }))`);
  await screenshot(join(artifacts, 'html-7-table.png'));

  // Hiding a function's frames: its callees move up to its callers.
  await click(`document.querySelector('#views button[data-view="flame"]')`);
  await click(`document.getElementById('hide')`);
  await type(`^${target}$`);
  await pause(600);
  result.hidden = await shown();
  await screenshot(join(artifacts, 'html-8-hidden.png'));

  // The summary panel: each of its tables as rows of cell texts, by table id.
  await click(`document.querySelector('#views button[data-view="summary"]')`);
  result.summary = await evaluate(`Object.fromEntries(Array.from(document.querySelectorAll('#summary-view table'),
    (t) => [t.id, Array.from(t.querySelectorAll('tbody tr'), (tr) => Array.from(tr.children, (td) => td.textContent))]))`);
  await screenshot(join(artifacts, 'html-9-summary.png'));
  return result;
});
