// Opens a `measure report --format html` page in headless Chromium (devtools.mjs) and prints
// as JSON the frames of its first view (drawn from the page's first block, before it read
// the rest), the frames once it is ready, and the node counts of both trees.
// Usage: node first_view_browser.mjs HTML
import { withPage } from './devtools.mjs';

const [html] = process.argv.slice(2);

await withPage(html, { width: 1300, height: 600 }, async ({ evaluate, errors }) => {
  const data = await evaluate(`JSON.parse(document.getElementById('measure-data').textContent)`);
  return {
    errors,
    first_view: await evaluate('window.measurePage.firstFrames()'),
    frames: await evaluate('window.measurePage.frames()'),
    nodes: data.node_count,
    first_view_nodes: data.first.node_count,
  };
});
