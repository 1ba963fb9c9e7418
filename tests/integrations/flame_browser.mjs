// Opens a `measure report --format svg` flame graph in headless Chromium (devtools.mjs), takes
// screenshots, clicks a frame to zoom, resets, and searches, and prints what the page showed
// after each step as JSON for browser_test.cpp.
// Usage: node flame_browser.mjs SVG ARTIFACT_DIR FRAME_TO_CLICK SEARCH_TERM
import { join } from 'node:path';

import { withPage } from './devtools.mjs';

const [svg, artifacts, target, term] = process.argv.slice(2);

await withPage(svg, { onDialog: () => term }, async ({ evaluate, screenshot, click, errors }) => {
  // Every frame as drawn: its name (the first line of its tooltip), rectangle and state.
  const frames = () =>
    evaluate(`Array.from(document.querySelectorAll('g.f'), (g) => {
      const rect = g.querySelector('rect');
      return {
        name: g.querySelector('title').textContent.split('\\n')[0],
        depth: +g.getAttribute('data-d'),
        x: +rect.getAttribute('x'),
        width: +rect.getAttribute('width'),
        visible: g.style.display !== 'none',
        ancestor: g.classList.contains('ancestor'),
        fill: rect.getAttribute('fill'),
        label: g.querySelector('text').textContent,
      };
    })`);

  const result = { errors };
  result.initial = await frames();
  await screenshot(join(artifacts, 'flame-initial.png'));

  const index = result.initial.findIndex((f) => f.name === target);
  if (index < 0) {
    throw new Error(`no frame named ${target}`);
  }
  await click(`document.querySelectorAll('g.f rect')[${index}]`);
  result.zoomed = await frames();
  result.reset_opacity = await evaluate(`document.getElementById('reset').style.opacity`);
  await screenshot(join(artifacts, 'flame-zoomed.png'));

  await click(`document.getElementById('reset')`);
  await click(`document.getElementById('search')`);  // opens the prompt, answered with the term
  result.searched = await frames();
  result.matched = await evaluate(`document.getElementById('matched').textContent`);
  await screenshot(join(artifacts, 'flame-search.png'));
  return result;
});
