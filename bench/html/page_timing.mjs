// Times an html report in headless Chromium: from navigation to the first frame painted after
// the page's script has inflated its data, built the tree and drawn the flame graph (its first
// paint), and each metric switch (the click handler: sums the tree again and redraws). Prints
// JSON.
// Usage: node page_timing.mjs HTML [SWITCHES]
import { withPage } from '../../tests/integrations/devtools.mjs';

const [html, switches = '8'] = process.argv.slice(2);

await withPage(html, { width: 1400, height: 900, timeoutMs: 300000 }, async ({ evaluate, errors, loadMs }) => {
  const paint = await evaluate(`new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())))`, true);
  const times = [];
  for (let i = 0; i < +switches; ++i) {
    times.push(
      await evaluate(`(() => {
        const buttons = Array.from(document.querySelectorAll('#metrics button:not([disabled])'));
        const t = performance.now();
        buttons[${i} % buttons.length].click();
        return performance.now() - t;
      })()`),
    );
  }
  times.sort((a, b) => a - b);
  return { errors, load_ms: loadMs, first_paint_ms: paint, switch_ms: times[times.length >> 1], switch_max_ms: times[times.length - 1] };
});
