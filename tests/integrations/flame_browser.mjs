// Opens a `measure report --format svg` flame graph in headless Chromium (Debian's, through
// the npm package playwright-core), takes screenshots, clicks a frame to zoom, resets, and
// searches, and prints what the page showed after each step as JSON for browser_test.cpp.
// Usage: node flame_browser.mjs NPM_PREFIX SVG ARTIFACT_DIR FRAME_TO_CLICK SEARCH_TERM
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [prefix, svg, artifacts, target, term] = process.argv.slice(2);
const { chromium } = createRequire(`${prefix}/package.json`)('playwright-core');

// Every frame as drawn: its name (the first line of its tooltip), rectangle and state.
const frames = (page) =>
  page.$$eval('g.f', (groups) =>
    groups.map((g) => {
      const rect = g.querySelector('rect');
      return {
        name: g.querySelector('title').textContent.split('\n')[0],
        depth: +g.getAttribute('data-d'),
        x: +rect.getAttribute('x'),
        width: +rect.getAttribute('width'),
        visible: g.style.display !== 'none',
        ancestor: g.classList.contains('ancestor'),
        fill: rect.getAttribute('fill'),
        label: g.querySelector('text').textContent,
      };
    }),
  );

const profile = mkdtempSync(join(tmpdir(), 'measure-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1240, height: 360 },
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(60000);  // a busy 2-core CI machine is slow, not broken
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (dialog) => dialog.accept(term));  // the Search button's prompt
  await page.goto(pathToFileURL(svg).href);
  const result = { errors };
  result.initial = await frames(page);
  await page.screenshot({ path: join(artifacts, 'flame-initial.png') });

  // A real click, at the middle of the frame's rectangle.
  const index = result.initial.findIndex((f) => f.name === target);
  if (index < 0) {
    throw new Error(`no frame named ${target}`);
  }
  await page.locator('g.f rect').nth(index).click();
  result.zoomed = await frames(page);
  result.reset_opacity = await page.$eval('#reset', (e) => e.style.opacity);
  await page.screenshot({ path: join(artifacts, 'flame-zoomed.png') });

  await page.click('#reset');
  await page.click('#search');
  result.searched = await frames(page);
  result.matched = await page.$eval('#matched', (e) => e.textContent);
  await page.screenshot({ path: join(artifacts, 'flame-search.png') });
  console.log(JSON.stringify(result));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
