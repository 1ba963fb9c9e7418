// Times an html report in headless Chromium: from navigation to its first paint (the frame
// after the page has drawn its first view: the flame graph from the page's first block), to
// the frame after it is ready (it has read every list and redrawn), and each metric switch
// (the click handler: sums the samples again and redraws). Prints JSON.
// Usage: node page_timing.mjs HTML [SWITCHES]
import { withPage } from '../../tests/integrations/devtools.mjs';

const [html, switches = '8'] = process.argv.slice(2);

await withPage(html, { width: 1400, height: 900, timeoutMs: 300000 }, async ({ evaluate, errors, loadMs }) => {
  // Ready: every view works. First paint: the first view drawn (a large page paints it
  // before it has read the rest), or, for a page without one, the first frame when ready.
  const ready = await evaluate(`new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())))`, true);
  const paint = (await evaluate('window.measureFirstPaint')) ?? ready;
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
  return { errors, load_ms: loadMs, first_paint_ms: paint, ready_ms: ready, switch_ms: times[times.length >> 1], switch_max_ms: times[times.length - 1] };
});
