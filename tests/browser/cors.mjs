// A page on another origin tries to read an answer from a local askd (issue 17). The
// page is askd's own /health at http://localhost:<port> — to the browser a different
// origin from http://127.0.0.1:<port>, where the page sends its requests. It tries a
// "simple" text/plain POST (no preflight), a JSON POST (preflighted), a WebSocket and an
// EventSource, and reports what it could read.
//   node cors.mjs <askd port> <request body> <playwright-core dir> <chromium>
// Prints {"plain", "json", "ws", "sse"}: each "read: <text>" or "blocked: <why>".
import { createRequire } from 'node:module';

const [askdPort, requestBody, playwrightDir, chromiumPath] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const { chromium } = require(playwrightDir);

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
});
try {
  const page = await browser.newPage();
  await page.goto(`http://localhost:${askdPort}/health`);
  const target = `http://127.0.0.1:${askdPort}`;
  const result = await page.evaluate(async ({ target, body }) => {
    const attempt = async (contentType) => {
      try {
        const r = await fetch(target + '/chat/completions/stream', {
          method: 'POST', headers: { 'Content-Type': contentType }, body });
        return `read: ${r.status} ${await r.text()}`;
      } catch (e) {
        return `blocked: ${e}`;
      }
    };
    const socket = () => new Promise((resolve) => {
      const ws = new WebSocket(target.replace('http', 'ws') + '/ws/chat');
      let text = '';
      ws.onopen = () => ws.send(body);
      ws.onmessage = (m) => { text += m.data; };
      ws.onerror = () => resolve(text ? `read: ${text}` : 'blocked: error');
      ws.onclose = (e) => resolve(text ? `read: ${text}` : `blocked: close ${e.code}`);
      setTimeout(() => resolve(text ? `read: ${text}` : 'blocked: timeout'), 10000);
    });
    const events = () => new Promise((resolve) => {
      const es = new EventSource(target + '/v1/streams/00000000000000000000000000000000');
      es.onerror = () => { es.close(); resolve('blocked: error'); };
      es.onmessage = (m) => { es.close(); resolve(`read: ${m.data}`); };
      setTimeout(() => { es.close(); resolve('blocked: timeout'); }, 10000);
    });
    return {
      plain: await attempt('text/plain'),
      json: await attempt('application/json'),
      ws: await socket(),
      sse: await events(),
    };
  }, { target, body: requestBody });
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
