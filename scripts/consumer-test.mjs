#!/usr/bin/env node
// The consumer's test: `npm pack`, a fresh app from test/consumer-app/ that
// installs the tarball, then `vite build` served cross-origin isolated, `vite`
// (the dev server) and a webpack 5 production build (served the same way),
// each driven in Debian's Chromium: the page initialises with initBackend(),
// loads the sample with loadMnistSample(), trains 20 steps on 2 workers,
// predicts and evaluates, with no console errors, and webpack builds with no
// warning. Needs network access to the npm registry for vite and webpack, and
// /usr/bin/chromium.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const app = mkdtempSync(join(tmpdir(), 'cnn-wasm-consumer-'));
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
let failures = 0, passes = 0;
const check = (ok, what) => { if (ok) { passes++; console.log(`  ok  ${what}`); } else { failures++; console.log(`  FAIL ${what}`); } };

try {
  console.log('consumer test: npm pack');
  const tarball = join(app, run('npm', ['pack', '--pack-destination', app, '--silent'], root).trim().split('\n').pop());
  cpSync(join(root, 'test/consumer-app'), app, { recursive: true });
  console.log('consumer test: a fresh Vite 7 app installs the tarball');
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball, 'vite@7'], app);
  check(!/install-scripts|prepare/.test(run('npm', ['ls', 'cnn-wasm'], app)), 'the tarball installs');
  // cnn-wasm and everything it brings run no install script (vite's esbuild has one; it is not ours).
  const tree = [];
  const walk = (node) => { if (node.path && !tree.includes(node.path)) tree.push(node.path); for (const d of Object.values(node.dependencies ?? {})) walk(d); };
  walk(JSON.parse(run('npm', ['ls', '--all', '--json', '--long'], app)).dependencies['cnn-wasm']);
  const scripted = tree.filter((d) => { const s = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).scripts ?? {}; return s.preinstall || s.install || s.postinstall; });
  check(tree.length > 0 && scripted.length === 0, `cnn-wasm's ${tree.length} installed packages have no install scripts${scripted.length ? ` (these do: ${scripted.join(', ')})` : ''}`);
  run('npx', ['vite', 'build'], app);
  check(!readMaps(join(app, 'node_modules/cnn-wasm/dist')), 'the package ships no source maps pointing at unshipped sources');

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const drive = async (label, url) => {
    const page = await browser.newPage();
    const errors = [];
    const log = [];
    page.on('console', (m) => { log.push(`${m.type()}: ${m.text()}`); if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('requestfailed', (r) => log.push(`request failed: ${r.url()}`));
    page.on('response', (r) => { if (r.status() >= 400) log.push(`HTTP ${r.status()}: ${r.url()}`); });
    await page.goto(url);
    try {
      await page.waitForSelector('body[data-done]', { timeout: 120_000 });
    } catch (e) {
      console.log(`  ${label}: the page did not finish; it said: ${await page.textContent('#out')}\n    ${[...log.slice(-15), ...errors].join('\n    ')}`);
      throw e;
    }
    if (errors.length) console.log(`    ${log.slice(-15).join('\n    ')}`);
    const text = await page.textContent('#out');
    console.log(`  ${label}: ${text}`);
    check(/^ok backend=relaxed workers=2 steps=20 probs=1000 accuracy=/.test(text), `${label}: initBackend() (the relaxed build: Chromium runs relaxed SIMD), loadMnistSample(), 20 steps on 2 workers, predict and evaluate`);
    check(errors.length === 0, `${label}: no console errors${errors.length ? ` (${errors.join(' | ')})` : ''}`);
    await page.close();
  };

  // A production build, from a static server that sends the isolation headers.
  const serveBuild = async (label, dist) => {
    const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.gz': 'application/gzip' };
    const server = createServer((req, res) => {
      const file = normalize(join(dist, decodeURIComponent((req.url ?? '/').split('?')[0])));
      const path = file.endsWith('/') ? join(file, 'index.html') : file;
      if (!path.startsWith(dist) || !existsSync(path) || !statSync(path).isFile()) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream', 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
      createReadStream(path).pipe(res);
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    try {
      await drive(label, `http://127.0.0.1:${server.address().port}/`);
    } finally {
      server.close();
    }
  };
  await serveBuild('vite build', join(app, 'dist'));

  // The dev server.
  const dev = spawn('npx', ['vite', '--port', '0', '--host', '127.0.0.1'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  dev.stderr.on('data', () => {});
  const devUrl = await new Promise((resolve, reject) => {
    let out = '';
    dev.stdout.on('data', (d) => { out += d; const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out.replace(/\x1b\[[0-9;]*m/g, '')); if (m) resolve(m[1]); });
    dev.on('exit', (c) => reject(new Error(`vite exited (${c}): ${out}`)));
    setTimeout(() => reject(new Error(`vite did not start: ${out}`)), 60_000);
  });
  try {
    await drive('vite dev', devUrl);
  } finally {
    dev.kill();
  }

  // webpack 5 with README's config: the same page, bundled and minified by webpack.
  console.log('consumer test: webpack 5 builds the same app');
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', 'webpack@5', 'webpack-cli@5'], app);
  const built = execFileSync('npx', ['webpack', '--no-color'], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  check(/compiled successfully/.test(built) && !/WARNING|ERROR/.test(built), `webpack builds with no warning${/compiled successfully/.test(built) ? '' : `:\n${built.split('\n').slice(0, 20).join('\n')}`}`);
  writeFileSync(join(app, 'dist-webpack/index.html'), readFileSync(join(app, 'index.html'), 'utf8').replace('./main.js', './main.mjs'));
  await serveBuild('webpack build', join(app, 'dist-webpack'));
  await browser.close();
} catch (e) {
  failures++;
  console.log(`  FAIL ${e.message}`);
} finally {
  rmSync(app, { recursive: true, force: true });
}

function readMaps(dir) {
  return run('find', [dir, '-name', '*.map'], root).trim().length > 0;
}

console.log(`consumer: ${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
