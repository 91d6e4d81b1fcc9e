// A real browser resuming a v1 stream (issue 5): once headless Chromium is up, a
// background stream is started (POST /v1/streams with the given body) and the page
// opens an EventSource on it through a TCP proxy that kills the stream's connection
// once, mid-answer; the page must still end with the whole answer.
//   node eventsource.mjs <askd port> <request body> <playwright-core dir> <chromium>
// Prints {"text", "opens", "cut", ...} as JSON.
import net from 'node:net';
import { createRequire } from 'node:module';

const [askdPort, requestBody, playwrightDir, chromiumPath] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const { chromium } = require(playwrightDir);

// The proxy: every connection goes through to askd; the first one asking for the
// stream is cut after its first few events.
let cut = false;
const proxy = net.createServer((client) => {
  const upstream = net.connect(Number(askdPort), '127.0.0.1');
  let isStream = false;
  let seen = 0;
  client.on('data', (d) => {
    if (d.toString().startsWith('GET /v1/streams/')) isStream = true;
    upstream.write(d);
  });
  upstream.on('data', (d) => {
    client.write(d);
    if (!isStream || cut) return;
    const text = d.toString();
    seen += (text.match(/event: delta/g) || []).length;
    if (seen >= 3 && !text.includes('event: done')) {  // mid-answer: kill both sides
      cut = true;
      client.destroy();
      upstream.destroy();
    }
  });
  const end = () => { client.destroy(); upstream.destroy(); };
  client.on('error', end);
  upstream.on('error', end);
  client.on('close', end);
  upstream.on('close', end);
});
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
const proxyPort = proxy.address().port;

const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${proxyPort}/health`);
  const started = await fetch(`http://127.0.0.1:${askdPort}/v1/streams`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: requestBody });
  const streamId = (await started.json()).stream_id;
  const result = await page.evaluate((id) => new Promise((resolve) => {
    const es = new EventSource('/v1/streams/' + id);
    let text = '';
    let opens = 0;
    es.onopen = () => { opens++; };
    es.addEventListener('delta', (e) => { text += JSON.parse(e.data).text; });
    es.addEventListener('done', () => { es.close(); resolve({ text, opens }); });
    // askd's own `error` event has data; a dropped connection's has none (the browser
    // reconnects by itself).
    es.addEventListener('error', (e) => {
      if (e.data) { es.close(); resolve({ text, opens, error: e.data }); }
    });
    setTimeout(() => { es.close(); resolve({ text, opens, timeout: true }); }, 20000);
  }), streamId);
  result.cut = cut;
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  proxy.close();
}
