#!/usr/bin/env node
// Load test of `cnn-wasm serve` on 127.0.0.1: N concurrent single-image clients
// for a bounded time against a server started as a child process, reporting
// throughput, p50/p99 latency, errors, mean batch size and the server's RSS at
// the start, halfway and at the end (sampled every second). With --compare it also runs the same load against
// the same server answering one request at a time (--max-batch 1) and with
// one worker, side by side, and prints the ratios.
//
//   npm run loadtest -- [--model FILE] [--clients 64] [--seconds 10] [--requests N]
//                       [--workers 2] [--max-batch 64] [--max-delay-ms 2] [--body json|raw]
//                       [--compare] [--json]
//
// --body: JSON {"pixels": [...]} (default) or raw u8 pixels (application/octet-stream).
//
// Without --model it saves an untrained lenet5-bn to a temporary file (the
// speed of a prediction does not depend on the weights). Needs `npm run build`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'node:http';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const has = (name) => args.includes(`--${name}`);
const clients = Number(flag('clients', '64')), seconds = Number(flag('seconds', '10')), maxRequests = Number(flag('requests', 'Infinity'));
const workers = flag('workers', '2'), maxBatch = flag('max-batch', '64'), maxDelay = flag('max-delay-ms', '2');
for (const [k, v] of [['clients', clients], ['seconds', seconds]]) if (!(v > 0)) { console.error(`loadtest: --${k} must be a positive number`); process.exit(2); }
const bodyKind = flag('body', 'json');
if (bodyKind !== 'json' && bodyKind !== 'raw') { console.error(`loadtest: --body must be json or raw, got ${JSON.stringify(bodyKind)}`); process.exit(2); }

const lib = await import(join(root, 'dist/node.js'));
const tmp = mkdtempSync(join(tmpdir(), 'cnn-wasm-load-'));
let model = flag('model');
if (!model) {
  await lib.initBackend();
  const { model: m } = lib.createPreset('lenet5-bn', { seed: 1 });
  model = join(tmp, 'lenet5-bn.cnnw');
  lib.saveModel(m, model);
  m.dispose();
}
const s = lib.readSplit(lib.sampleDir(), 't10k');
const bodies = Array.from({ length: 200 }, (_, i) => (bodyKind === 'raw'
  ? Buffer.from(s.images.subarray(i * 784, (i + 1) * 784))
  : JSON.stringify({ pixels: Array.from(s.images.subarray(i * 784, (i + 1) * 784)) })));
const bodyType = bodyKind === 'raw' ? 'application/octet-stream' : 'application/json';
const agent = new Agent({ keepAlive: true, maxSockets: clients });
/** POST body to url + path on a kept-alive socket; resolves to the status. */
const post = (url, body) => new Promise((resolve, reject) => {
  const req = request(`${url}/predict`, { method: 'POST', agent, headers: { 'content-type': bodyType, 'content-length': Buffer.byteLength(body) } }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode));
  });
  req.on('error', reject);
  req.end(body);
});

async function startServer(extra) {
  const child = spawn(process.execPath, [join(root, 'bin/cnn-wasm.js'), 'serve', model, '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => { out += d; const m = /at (http:\/\/\S+) /.exec(out); if (m) resolve(m[1]); });
    child.on('exit', (c) => reject(new Error(`serve exited (${c}): ${out}`)));
  });
  return { child, url };
}

async function run(label, extra) {
  const { child, url } = await startServer(extra);
  const health = async () => (await fetch(`${url}/health`, { headers: { connection: 'close' } })).json();
  // Warm-up: a second of load, not counted.
  const load = async (ms, record) => {
    const until = performance.now() + ms;
    let sent = 0, errors = 0;
    const lat = [];
    await Promise.all(Array.from({ length: clients }, async (_, c) => {
      for (let k = c; performance.now() < until && sent < maxRequests; k += clients) {
        sent++;
        const t0 = performance.now();
        try {
          if ((await post(url, bodies[k % bodies.length])) !== 200) errors++;
        } catch { errors++; }
        if (record) lat.push(performance.now() - t0);
      }
    }));
    return { sent, errors, lat };
  };
  await load(1000, false);
  const before = await health();
  // The server's RSS once a second during the load: growth that stops (the
  // heap and buffers reaching their working size) or keeps going (a leak).
  const rss = [];
  const sampler = setInterval(() => { health().then((h) => rss.push(h.rss), () => {}); }, 1000);
  const t0 = performance.now();
  const r = await load(seconds * 1000, true);
  const elapsed = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const after = await health();
  rss.push(after.rss);
  child.kill('SIGTERM');
  await new Promise((res) => child.on('exit', res));
  r.lat.sort((a, b) => a - b);
  const q = (p) => r.lat[Math.min(r.lat.length - 1, Math.floor(p * r.lat.length))];
  const batches = after.batches - before.batches, requests = after.requests - before.requests;
  return {
    label, requests: r.sent, seconds: +elapsed.toFixed(2), throughput: Math.round(r.sent / elapsed), p50: +q(0.5).toFixed(2), p99: +q(0.99).toFixed(2),
    errors: r.errors, meanBatch: +(batches ? requests / batches : 0).toFixed(1), rssStartMiB: +(before.rss / 2 ** 20).toFixed(1), rssEndMiB: +(after.rss / 2 ** 20).toFixed(1),
    // RSS halfway through the measured load: "RSS flat" compares the end with it.
    rssHalfMiB: +(rss[Math.floor((rss.length - 1) / 2)] / 2 ** 20).toFixed(1),
  };
}

const configs = [[`${workers} worker(s), batches of up to ${maxBatch}`, ['--workers', workers, '--max-batch', maxBatch, '--max-delay-ms', maxDelay]]];
if (has('compare')) {
  configs.push(['1 worker, batches of up to ' + maxBatch, ['--workers', '1', '--max-batch', maxBatch, '--max-delay-ms', maxDelay]]);
  configs.push(['1 worker, one request at a time', ['--workers', '1', '--max-batch', '1', '--max-delay-ms', '0']]);
}
const results = [];
for (const [label, extra] of configs) results.push(await run(label, extra));
rmSync(tmp, { recursive: true, force: true });
if (has('json')) {
  console.log(JSON.stringify({ clients, seconds, results }));
} else {
  console.log(`cnn-wasm serve load test: ${clients} concurrent single-image clients on 127.0.0.1 for ${seconds} s each, ${bodyKind === 'raw' ? 'raw u8 pixel' : 'JSON'} bodies (the clients share the machine's cores with the server)`);
  for (const r of results) {
    console.log(`  ${r.label.padEnd(40)} ${String(r.throughput).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  errors ${r.errors}  mean batch ${r.meanBatch}  RSS ${r.rssStartMiB} -> ${r.rssHalfMiB} (halfway) -> ${r.rssEndMiB} MiB  (${r.requests} requests)`);
  }
  if (results.length === 3) {
    console.log(`  batched ${workers} worker(s) / one at a time: ${(results[0].throughput / results[2].throughput).toFixed(2)}x; ${workers} worker(s) / 1 worker: ${(results[0].throughput / results[1].throughput).toFixed(2)}x`);
  }
}
