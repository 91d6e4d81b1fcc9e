// bench/streams.mjs — what v1 streams cost and how fast a resume answers (issue 5).
// Node only, no packages. Against an askd whose openai provider is askmock:
//   node bench/streams.mjs <askd port> <askd pid> lingering <n>   memory per lingering stream
//   node bench/streams.mjs <askd port> <askd pid> sinks <n>       memory per attached watcher
//   node bench/streams.mjs <askd port> <askd pid> resume <n>      reconnect → first replayed event
import http from 'node:http';
import fs from 'node:fs';

const [port, pid, mode, countText] = process.argv.slice(2);
const count = Number(countText);
const agent = new http.Agent({ keepAlive: false, maxSockets: 256 });

const rssKb = () => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
const body = (mock) => JSON.stringify({
  repo_url: 'https://github.com/askd/bench', provider: 'openai', retrieval: { mode: 'none' },
  messages: [{ role: 'user', content: `q #mock${JSON.stringify(mock)}` }],
});

function request(method, path, { data, headers = {}, onData } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent,
      headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; if (onData) onData(d, res); });
      res.on('end', () => resolve({ status: res.statusCode, text, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

async function pool(n, width, task) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await task(next++);
  }));
}

const settle = () => new Promise((r) => setTimeout(r, 1500));
const pct = (v, p) => v.sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(p * v.length))];

if (mode === 'lingering' || mode === 'resume') {
  // Finished v1 answers of 20 deltas (~150 bytes of text), kept for resuming.
  const ids = [];
  await settle();
  const before = rssKb();
  await pool(count, 64, async () => {
    const r = await request('POST', '/v1/chat/stream', { data: body({ deltas: Number(process.env.DELTAS || 20) }) });
    ids.push(JSON.parse(r.text.split('\n').find((l) => l.startsWith('data: ')).slice(6)).stream_id);
  });
  await settle();
  const after = rssKb();
  if (mode === 'lingering') {
    console.log(JSON.stringify({ streams: count, rss_before_kb: before, rss_after_kb: after,
      bytes_per_stream: Math.round((after - before) * 1024 / count) }));
  } else {
    // Reconnect with Last-Event-ID 5: time to the first replayed event's bytes.
    const ms = [];
    for (const id of ids) {
      const t0 = process.hrtime.bigint();
      let first = 0;
      await request('GET', `/v1/streams/${id}`, { headers: { 'Last-Event-ID': '5' },
        onData: (d) => { if (!first && d.includes('id: ')) first = Number(process.hrtime.bigint() - t0) / 1e6; } });
      ms.push(first);
    }
    console.log(JSON.stringify({ resumes: count, p50_ms: pct(ms, 0.5).toFixed(2),
      p99_ms: pct(ms, 0.99).toFixed(2) }));
  }
} else if (mode === 'sinks') {
  // One background answer (slow: ~2 minutes), then `count` watchers attached to it.
  const started = await request('POST', '/v1/streams',
    { data: body({ deltas: 600, gap_ms: 200 }) });
  const id = JSON.parse(started.text).stream_id;
  await settle();
  const before = rssKb();
  const watchers = [];
  const open = [];
  for (let i = 0; i < count; i++) {
    open.push(new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: `/v1/streams/${id}`,
        agent: false }, (res) => { res.once('data', resolve); res.resume(); });
      req.on('error', resolve);
      req.end();
      watchers.push(req);
    }));
  }
  await Promise.all(open);
  await settle();
  const after = rssKb();
  console.log(JSON.stringify({ watchers: count, rss_before_kb: before, rss_after_kb: after,
    bytes_per_watcher: Math.round((after - before) * 1024 / count) }));
  watchers.forEach((w) => w.destroy());
  await request('DELETE', `/v1/streams/${id}`);
}
process.exit(0);
