// Headless Chromium (Debian's) driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe), with nothing but Node's standard library, so it works with
// Debian's Node 18 and whatever Chromium version Debian ships. Shared by the scripts that
// check measure's pages in a real browser.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// Opens `file` in a fresh headless Chromium and calls `steps(page)` with helpers to drive it;
// prints what `steps` returns as JSON on stdout. Any failure (an error, Chromium exiting,
// no answer within `timeoutMs`) prints Chromium's last output on stderr and exits with 1.
// `onDialog(params)`: the text to answer a prompt with.
export async function withPage(file, { width = 1240, height = 360, timeoutMs = 150000, onDialog = () => '' } = {}, steps) {
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
  let failed = false;
  function fail(error) {
    if (failed) {
      return;  // the browser's exit, after it was killed
    }
    failed = true;
    console.error(`${error.stack ?? error}\nChromium's last output:\n${log}`);
    browser.kill('SIGKILL');
    process.exitCode = 1;
    setTimeout(() => {
      rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
      process.exit(1);
    }, 500);
  }
  // A busy 2-core CI machine is slow, not broken; a browser that never answers is.
  const deadline = setTimeout(() => fail(new Error(`Chromium did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
  browser.on('exit', (code, signal) => fail(new Error(`Chromium exited early (${code ?? signal})`)));
  browser.on('error', fail);

  // The protocol: JSON messages ending with a NUL byte, commands on fd 3, replies on fd 4.
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
        page('Page.handleJavaScriptDialog', { accept: true, promptText: onDialog(m.params) });
      }
    });
    await page('Page.enable');
    await page('Runtime.enable');
    await page('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    const loaded = event('Page.loadEventFired');
    const started = performance.now();
    await page('Page.navigate', { url: pathToFileURL(file).href });
    await loaded;
    const loadMs = performance.now() - started;

    const evaluate = async (expression, awaitPromise = false) => {
      const r = await page('Runtime.evaluate', { expression, returnByValue: true, awaitPromise });
      if (r.exceptionDetails) {
        throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      }
      return r.result.value;
    };
    // A measure html page reads its data after the load event (it inflates it): wait until its
    // script is done, or failed (an error is reported in `errors`).
    await evaluate(`new Promise((resolve) => {
      const ready = () => !document.getElementById('measure-lists') || window.measurePage || window.measurePageError;
      const poll = () => (ready() ? resolve(true) : setTimeout(poll, 10));
      poll();
    })`, true);
    const readyMs = performance.now() - started;
    const screenshot = async (path) => {
      const { data } = await page('Page.captureScreenshot', { format: 'png' });
      writeFileSync(path, Buffer.from(data, 'base64'));
    };
    // A real click, with the mouse, at (x, y) of the viewport.
    const clickAt = async (x, y) => {
      for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) {
        await page('Input.dispatchMouseEvent', { type, x, y, button: 'left', clickCount: 1 });
      }
    };
    // A real click at the middle of the element `element` (an expression) finds.
    const click = async (element) => {
      const box = await evaluate(`(() => {
        const e = ${element};
        e.scrollIntoView({ block: 'center' });
        const r = e.getBoundingClientRect();
        return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
      })()`);
      await clickAt(box.x, box.y);
    };
    // Real typing into the focused element.
    const type = (text) => page('Input.insertText', { text });
    // A key pressed and released: 'Backspace', 'Enter' ...
    const press = async (key) => {
      const codes = { Backspace: 8, Enter: 13, Escape: 27 };
      for (const t of ['keyDown', 'keyUp']) {
        await page('Input.dispatchKeyEvent', { type: t, key, code: key, windowsVirtualKeyCode: codes[key] ?? 0 });
      }
    };

    const result = await steps({ page, evaluate, screenshot, click, clickAt, type, press, errors, loadMs, readyMs });
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
}
