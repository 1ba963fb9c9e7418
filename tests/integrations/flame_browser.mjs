// Opens a `measure report --format svg` flame graph in headless Chromium (Debian's), takes
// screenshots, clicks a frame to zoom, resets, and searches, and prints what the page showed
// after each step as JSON for browser_test.cpp. It drives the browser itself over the DevTools
// protocol on a pipe (--remote-debugging-pipe), with nothing but Node's standard library, so
// it works with Debian's Node 18 and whatever Chromium version Debian ships.
// Usage: node flame_browser.mjs SVG ARTIFACT_DIR FRAME_TO_CLICK SEARCH_TERM
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [svg, artifacts, target, term] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'measure-chromium-'));
const browser = spawn(
  '/usr/bin/chromium',
  [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars',
    '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank',
  ],
  { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
);
let log = '';
browser.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
// A busy 2-core CI machine is slow, not broken; a browser that never answers is.
const deadline = setTimeout(() => fail(new Error('Chromium did not finish within 150 s')), 150000);

let failed = false;
function fail(error) {
  if (failed) {
    return;  // the browser's exit, after it was killed
  }
  failed = true;
  console.error(`flame_browser: ${error.stack ?? error}\nChromium's last output:\n${log}`);
  browser.kill('SIGKILL');
  process.exitCode = 1;
  setTimeout(() => {
    rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
    process.exit(1);
  }, 500);
}
browser.on('exit', (code, signal) => fail(new Error(`Chromium exited early (${code ?? signal})`)));
browser.on('error', fail);

// The DevTools protocol: JSON messages ending with a NUL byte, commands on fd 3, replies on fd 4.
let nextId = 1;
const pending = new Map();
const listeners = [];
let input = '';
browser.stdio[4].on('data', (chunk) => {
  input += chunk;
  for (let end; (end = input.indexOf('\0')) >= 0; input = input.slice(end + 1)) {
    const message = JSON.parse(input.slice(0, end));
    if (message.id && pending.has(message.id)) {
      const { resolve, reject, method } = pending.get(message.id);
      pending.delete(message.id);
      message.error ? reject(new Error(`${method}: ${message.error.message}`)) : resolve(message.result);
    } else if (message.method) {
      listeners.forEach((listener) => listener(message));
    }
  }
});
function send(method, params = {}, sessionId = undefined) {
  const id = nextId++;
  browser.stdio[3].write(JSON.stringify({ id, method, params, sessionId }) + '\0');
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject, method }));
}
const event = (method) => new Promise((resolve) => listeners.push((m) => m.method === method && resolve(m.params)));

try {
  const { targetInfos } = await send('Target.getTargets');
  const { targetId } = targetInfos.find((t) => t.type === 'page');
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  const page = (method, params) => send(method, params, sessionId);
  const errors = [];
  listeners.push((m) => {
    if (m.method === 'Runtime.exceptionThrown') {
      const d = m.params.exceptionDetails;
      errors.push(d.exception?.description ?? d.text);
    } else if (m.method === 'Page.javascriptDialogOpening') {
      page('Page.handleJavaScriptDialog', { accept: true, promptText: term });  // the Search prompt
    }
  });
  await page('Page.enable');
  await page('Runtime.enable');
  await page('Emulation.setDeviceMetricsOverride', { width: 1240, height: 360, deviceScaleFactor: 1, mobile: false });
  const loaded = event('Page.loadEventFired');
  await page('Page.navigate', { url: pathToFileURL(svg).href });
  await loaded;

  const evaluate = async (expression) => {
    const r = await page('Runtime.evaluate', { expression, returnByValue: true });
    if (r.exceptionDetails) {
      throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    }
    return r.result.value;
  };
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
  const screenshot = async (name) => {
    const { data } = await page('Page.captureScreenshot', { format: 'png' });
    writeFileSync(join(artifacts, name), Buffer.from(data, 'base64'));
  };
  // A real click, with the mouse, at the middle of the element `element` (an expression) finds.
  const click = async (element) => {
    const box = await evaluate(`(() => {
      const r = (${element}).getBoundingClientRect();
      return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
    })()`);
    for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) {
      await page('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: 1 });
    }
  };

  const result = { errors };
  result.initial = await frames();
  await screenshot('flame-initial.png');

  const index = result.initial.findIndex((f) => f.name === target);
  if (index < 0) {
    throw new Error(`no frame named ${target}`);
  }
  await click(`document.querySelectorAll('g.f rect')[${index}]`);
  result.zoomed = await frames();
  result.reset_opacity = await evaluate(`document.getElementById('reset').style.opacity`);
  await screenshot('flame-zoomed.png');

  await click(`document.getElementById('reset')`);
  await click(`document.getElementById('search')`);  // opens the prompt, answered with the term
  result.searched = await frames();
  result.matched = await evaluate(`document.getElementById('matched').textContent`);
  await screenshot('flame-search.png');
  console.log(JSON.stringify(result));

  browser.removeAllListeners('exit');
  const exited = new Promise((resolve) => browser.once('exit', resolve));
  await send('Browser.close').catch(() => {});
  await exited;  // it writes to its profile until then
  clearTimeout(deadline);
  rmSync(profile, { recursive: true, force: true });
} catch (error) {
  fail(error);
}
