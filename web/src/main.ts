/** The demo page: controls, live curves, drawing pad, probability bars and the network's insides. */
import { downloadBytes } from '../../ts/io/browser-storage.js';
import { loadPictures, pixelsOf, type PictureSource } from '../../ts/data/pictures.js';
import { toMnist } from '../../ts/image/mnist.js';
import type { FromWorker, LayerMaps, ToWorker } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

const status = $('status');
const history: { step: number; loss?: number; testAcc?: number }[] = [];
let stepCount = 0;
let paused = false;
let training = false;
let lastTestAcc = NaN;

function setStatus(text: string): void {
  status.textContent = text;
}

function init(): void {
  setStatus('loading the kernels and 10,000 MNIST digits…');
  send({ type: 'init', backend: $<HTMLSelectElement>('backend').value as 'auto', model: $<HTMLSelectElement>('model').value || 'lenet5-bn', seed: 1 });
}

// ---------------------------------------------------------------- chart
function drawChart(): void {
  const c = $<HTMLCanvasElement>('chart');
  const g = c.getContext('2d')!;
  g.clearRect(0, 0, c.width, c.height);
  g.font = '11px system-ui';
  g.fillStyle = '#66708a';
  g.fillText('loss (blue, left axis 0–2.5)   held-out accuracy (green, 80–100%)', 8, 14);
  if (history.length < 2) return;
  const maxStep = history[history.length - 1].step;
  const x = (s: number) => 30 + ((c.width - 40) * s) / Math.max(maxStep, 1);
  const yLoss = (l: number) => c.height - 10 - ((c.height - 30) * Math.min(l, 2.5)) / 2.5;
  const yAcc = (a: number) => c.height - 10 - ((c.height - 30) * Math.max(0, a - 0.8)) / 0.2;
  g.strokeStyle = '#3b82f6';
  g.beginPath();
  history.filter((h) => Number.isFinite(h.loss)).forEach((h, i) => (i ? g.lineTo(x(h.step), yLoss(h.loss!)) : g.moveTo(x(h.step), yLoss(h.loss!))));
  g.stroke();
  g.strokeStyle = '#16a34a';
  g.fillStyle = '#16a34a';
  g.beginPath();
  const acc = history.filter((h) => h.testAcc !== undefined);
  acc.forEach((h, i) => (i ? g.lineTo(x(h.step), yAcc(h.testAcc!)) : g.moveTo(x(h.step), yAcc(h.testAcc!))));
  g.stroke();
  acc.forEach((h) => g.fillRect(x(h.step) - 2, yAcc(h.testAcc!) - 2, 4, 4));
}

// ------------------------------------------------------------ held-out view
/** A 28x28 digit as a small canvas. */
function digitCanvas(image: Uint8Array, offset: number, scale: number): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = 28;
  c.height = 28;
  c.style.width = c.style.height = `${28 * scale}px`;
  const g = c.getContext('2d')!;
  const img = g.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = image[offset + i];
    img.data.set([v, v, v, 255], 4 * i);
  }
  g.putImageData(img, 0, 0);
  return c;
}

let insightCount = 0;
function showInsight(m: Extract<FromWorker, { type: 'insight' }>): void {
  if (m.step > 0) insightCount++; // updates while training; step 0 is a fresh or loaded model
  $('ms-forward').textContent = `${m.forwardMs.toFixed(3)} ms`;
  const grid = $('grid');
  grid.dataset.updates = String(insightCount);
  grid.replaceChildren(...m.grid.labels.map((label, i) => {
    const cell = document.createElement('figure');
    const wrong = m.grid.guesses[i] !== label;
    cell.className = wrong ? 'cell wrong' : 'cell';
    cell.append(digitCanvas(m.grid.images, i * 784, 1.5));
    const cap = document.createElement('figcaption');
    cap.textContent = `${m.grid.guesses[i]} ${Math.round(m.grid.confidence[i] * 100)}%`;
    cell.append(cap);
    return cell;
  }));
  $('heldout-note').textContent = `${m.step ? `after ${m.step} steps` : 'as initialised or loaded'}: ${(m.accuracy * 100).toFixed(1)}% of the 1,000 test digits right; red: wrong guesses`;
  const table = $('confusion');
  const max = Math.max(...m.confusion);
  const head = document.createElement('tr');
  head.append(document.createElement('th'), ...[...Array(10).keys()].map((j) => { const th = document.createElement('th'); th.textContent = String(j); return th; }));
  const rows = [...Array(10).keys()].map((i) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.textContent = String(i);
    tr.append(th, ...[...Array(10).keys()].map((j) => {
      const td = document.createElement('td');
      const v = m.confusion[i * 10 + j];
      td.textContent = v ? String(v) : '';
      const a = v / Math.max(max, 1);
      td.style.background = i === j ? `rgba(22, 163, 74, ${0.15 + 0.6 * a})` : v ? `rgba(220, 38, 38, ${0.15 + 0.85 * Math.min(1, (v * 10) / Math.max(max, 1))})` : '';
      return td;
    }));
    return tr;
  });
  table.replaceChildren(head, ...rows);
  $('mistakes').replaceChildren(...m.mistakes.map((x) => {
    const cell = document.createElement('figure');
    cell.className = 'cell wrong';
    cell.append(digitCanvas(x.image, 0, 2));
    const cap = document.createElement('figcaption');
    cap.textContent = `a ${x.label}, seen as ${x.guess} (${Math.round(x.confidence * 100)}%)`;
    cell.append(cap);
    return cell;
  }));
  const gmax = Math.max(...m.gradients.map((g) => g.norm), 1e-12);
  $('grad-norms').replaceChildren(...m.gradients.map((g) => {
    const row = document.createElement('div');
    row.className = 'grad';
    const name = document.createElement('span');
    name.textContent = g.name;
    const bar = document.createElement('span');
    bar.className = 'gbar';
    bar.style.width = `${Math.max(1, (100 * g.norm) / gmax)}%`;
    const val = document.createElement('span');
    val.textContent = g.norm.toExponential(2);
    row.append(name, bar, val);
    return row;
  }));
  history.push({ step: stepCount, testAcc: m.accuracy }); // held-out accuracy during the epoch, not only at its end
  drawChart();
}

// ------------------------------------------------------------ heatmaps
function heatmap(data: Float32Array, offset: number, w: number, h: number, scale: number, signed: boolean): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  c.style.width = `${w * scale}px`;
  c.style.height = `${h * scale}px`;
  const g = c.getContext('2d')!;
  const img = g.createImageData(w, h);
  let mx = 1e-9;
  for (let i = 0; i < w * h; i++) mx = Math.max(mx, Math.abs(data[offset + i]));
  for (let i = 0; i < w * h; i++) {
    const v = data[offset + i] / mx;
    const [r, gg, b] = signed ? (v >= 0 ? [255, 255 * (1 - v), 255 * (1 - v)] : [255 * (1 + v), 255 * (1 + v), 255]) : [255 * v, 255 * v, 255 * v];
    img.data.set([r, gg, b, 255], 4 * i);
  }
  g.putImageData(img, 0, 0);
  return c;
}

function showMaps(target: HTMLElement, layers: LayerMaps[], signed: boolean): void {
  target.replaceChildren();
  for (const l of layers) {
    const div = document.createElement('div');
    div.className = 'layer';
    const name = document.createElement('div');
    name.className = 'name';
    name.textContent = `${l.name} ${l.kind === 'filters' ? 'filters ' : 'output '}(${l.shape.join('x')})${l.kind === 'filters' && (l.shape[0] > 16 || l.shape[1] > 6) ? ', first 16 filters x 6 channels' : ''}`;
    div.append(name);
    if (l.shape.length === 3 && l.shape[1] * l.shape[2] === 1) {
      // (C, 1, 1) maps, e.g. conv3 of LeNet: one row of C cells.
      div.append(heatmap(l.data, 0, l.shape[0], 1, Math.max(2, Math.floor(280 / l.shape[0])), signed));
    } else if (l.shape.length === 3) {
      const [ch, h, w] = l.shape;
      // Each channel's map at 84 px or more, labelled with its channel number.
      const scale = Math.max(1, Math.floor(84 / Math.max(h, w)));
      for (let c = 0; c < ch; c++) {
        const fig = document.createElement('figure');
        fig.className = 'map';
        fig.append(heatmap(l.data, c * h * w, w, h, scale, signed));
        const cap = document.createElement('figcaption');
        cap.textContent = `ch ${c}`;
        fig.append(cap);
        div.append(fig);
      }
    } else if (l.shape.length === 4) {
      // The first 16 filters, each as its first 6 input channels side by side.
      const [f, ch, h, w] = l.shape;
      for (let i = 0; i < Math.min(f, 16); i++) {
        const row = document.createElement('div');
        row.className = 'filter';
        row.title = `filter ${i}`;
        for (let c = 0; c < Math.min(ch, 6); c++) row.append(heatmap(l.data, (i * ch + c) * h * w, w, h, 7, true));
        div.append(row);
      }
    } else {
      div.append(heatmap(l.data, 0, l.shape[0], 1, Math.max(2, Math.floor(280 / l.shape[0])), signed));
    }
    target.append(div);
  }
}

// --------------------------------------------------------------- drawing
const pad = $<HTMLCanvasElement>('pad');
const pg = pad.getContext('2d', { willReadFrequently: true })!;
function clearPad(): void {
  pg.fillStyle = 'black';
  pg.fillRect(0, 0, pad.width, pad.height);
  $('bars').replaceChildren();
  $('prediction').textContent = 'draw a digit in the black square';
  delete $('prediction').dataset.digit;
}
let drawing = false;
let lastPt: [number, number] | null = null;
let predictQueued = false;
function point(e: PointerEvent): [number, number] {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
}
function stroke(to: [number, number]): void {
  pg.strokeStyle = 'white';
  pg.lineWidth = 20;
  pg.lineCap = 'round';
  pg.beginPath();
  pg.moveTo(...(lastPt ?? to));
  pg.lineTo(...to);
  pg.stroke();
  lastPt = to;
}
function requestPrediction(): void {
  if (predictQueued) return;
  predictQueued = true;
  requestAnimationFrame(() => {
    predictQueued = false;
    const img = pg.getImageData(0, 0, pad.width, pad.height);
    const gray = new Float32Array(pad.width * pad.height);
    for (let i = 0; i < gray.length; i++) gray[i] = img.data[4 * i];
    try {
      const pixels = toMnist({ width: pad.width, height: pad.height, data: gray });
      send({ type: 'predict', pixels }, [pixels.buffer]);
    } catch {
      /* blank pad */
    }
  });
}
pad.addEventListener('pointerdown', (e) => { drawing = true; lastPt = null; pad.setPointerCapture(e.pointerId); stroke(point(e)); requestPrediction(); });
pad.addEventListener('pointermove', (e) => { if (drawing) { stroke(point(e)); requestPrediction(); } });
pad.addEventListener('pointerup', () => { drawing = false; requestPrediction(); });
$('clear').addEventListener('click', clearPad);

function showPrediction(probs: Float32Array): void {
  const bars = $('bars');
  bars.replaceChildren();
  let top = 0;
  probs.forEach((p, i) => { if (p > probs[top]) top = i; });
  probs.forEach((p, i) => {
    const label = document.createElement('span');
    label.textContent = String(i);
    const track = document.createElement('div');
    const bar = document.createElement('div');
    bar.className = i === top ? 'bar top' : 'bar';
    bar.style.width = `${(p * 100).toFixed(1)}%`;
    track.append(bar);
    const pct = document.createElement('span');
    pct.textContent = `${(p * 100).toFixed(1)}%`;
    bars.append(label, track, pct);
  });
  $('prediction').textContent = `prediction: ${top} (${(probs[top] * 100).toFixed(1)}%)`;
  $('prediction').dataset.digit = String(top);
}

// -------------------------------------------------------------- controls
$('train').addEventListener('click', () => {
  if (training) return;
  training = true;
  paused = false;
  $<HTMLButtonElement>('train').disabled = true;
  $<HTMLButtonElement>('pause').disabled = false;
  $<HTMLButtonElement>('pause').textContent = 'Pause';
  setStatus('training…');
  $('worker-count').textContent = String(workerCount());
  send({ type: 'train', epochs: Number($<HTMLInputElement>('epochs').value), batchSize: Number($<HTMLInputElement>('batch').value), lr: Number($<HTMLInputElement>('lr').value), workers: workerCount() });
});
$('pause').addEventListener('click', () => {
  paused = !paused;
  send({ type: paused ? 'pause' : 'resume' });
  $<HTMLButtonElement>('pause').textContent = paused ? 'Resume' : 'Pause';
  setStatus(paused ? 'paused' : 'training…');
});
$('save').addEventListener('click', () => send({ type: 'save' }));
$<HTMLInputElement>('load').addEventListener('change', async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (!f) return;
  const bytes = new Uint8Array(await f.arrayBuffer());
  send({ type: 'load', bytes }, [bytes.buffer]);
});
// Workers need SharedArrayBuffer, which only a cross-origin isolated page has.
const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
const cores = Math.max(1, navigator.hardwareConcurrency || 1);
{
  const sel = $<HTMLSelectElement>('workers');
  const counts = isolated ? [...new Set([1, 2, cores])].filter((n) => n <= Math.max(cores, 2)) : [1];
  for (const n of counts) sel.add(new Option(n === cores && n > 1 ? `${n} (all cores)` : String(n), String(n), n === Math.min(cores, 2), n === Math.min(cores, 2)));
  if (!isolated) {
    const note = $('isolation');
    note.hidden = false;
    note.textContent = 'This page is not cross-origin isolated (no COOP/COEP headers), so it has no SharedArrayBuffer: training runs on 1 worker.';
  }
}
const workerCount = () => Number($<HTMLSelectElement>('workers').value);

/** The in-page benchmark's result: each build's training speed, what this browser lacks, and the workers' speed-up. */
function benchText(m: Extract<FromWorker, { type: 'bench' }>): string {
  const ips = (x: number) => `${Math.round(x).toLocaleString()} img/s`;
  const parts = [
    m.relaxed !== null ? `relaxed SIMD (fused multiply-add) ${ips(m.relaxed)}` : null,
    m.simd !== null ? `SIMD ${ips(m.simd)}` : null,
    `scalar ${ips(m.scalar)}`,
  ].filter(Boolean);
  const ratios = [
    m.relaxed !== null && m.simd !== null ? `relaxed is ${(m.relaxed / m.simd).toFixed(2)}x SIMD` : null,
    m.simd !== null ? `SIMD is ${(m.simd / m.scalar).toFixed(2)}x scalar` : null,
  ].filter(Boolean);
  const missing = m.simd === null ? ' (this browser has no WebAssembly SIMD)' : m.relaxed === null ? ' (this browser has no relaxed SIMD)' : '';
  return `training lenet5-bn: ${parts.join(', ')}${missing}${ratios.length ? ` — ${ratios.join(', ')}` : ''}`
    + (m.parallel !== null ? `; ${m.workers} workers are ${m.parallel.toFixed(2)}x one (${m.relaxed !== null ? 'relaxed' : m.simd !== null ? 'SIMD' : 'scalar'} build)` : '');
}

$('bench').addEventListener('click', () => {
  $('bench-result').textContent = `benchmarking lenet5-bn training: relaxed SIMD, SIMD and scalar${workerCount() > 1 ? `, ${workerCount()} workers against 1` : ''}…`;
  send({ type: 'bench', workers: workerCount() });
});
$('backend').addEventListener('change', init);
$('model').addEventListener('change', init);


// ------------------------------------------------------ your own images
/** At most this many files are taken from a chosen or dropped folder. */
const MAX_OWN_FILES = 100_000;
const ownStatus = (text: string) => { $('own-status').textContent = text; };
const ownButtons = (trained: boolean) => {
  $<HTMLButtonElement>('own-save').disabled = !trained;
  $<HTMLButtonElement>('own-download').disabled = !trained;
};

function chooseOwn(files: { path: string; file: Blob }[]): void {
  if (files.length === 0) { ownStatus('the folder holds no files'); return; }
  if (files.length > MAX_OWN_FILES) { ownStatus(`the folder holds ${files.length.toLocaleString()} files; this page takes at most ${MAX_OWN_FILES.toLocaleString()}`); return; }
  document.body.dataset.ownPictures = 'false';
  $<HTMLButtonElement>('own-train').disabled = true;
  ownStatus(`reading ${files.length.toLocaleString()} files…`);
  const fit = $<HTMLSelectElement>('own-fit').value === 'crop' ? 'crop' : 'resize';
  send({ type: 'own-pictures', files, imageSize: Number($<HTMLInputElement>('own-size').value), valSize: Number($<HTMLInputElement>('own-val').value), fit });
}

$<HTMLInputElement>('own-folder').addEventListener('change', (e) => {
  const files = Array.from((e.target as HTMLInputElement).files ?? []);
  chooseOwn(files.map((f) => ({ path: f.webkitRelativePath || f.name, file: f })));
});

/** Every file below a dropped entry, with its path from the dropped folder's parent. */
async function filesBelow(entry: FileSystemEntry, into: { path: string; file: Blob }[]): Promise<void> {
  if (into.length > MAX_OWN_FILES) return;
  if (entry.isFile) {
    const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
    into.push({ path: entry.fullPath.replace(/^\//, ''), file });
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej)); // a directory is read in batches
      if (batch.length === 0) break;
      for (const e of batch) await filesBelow(e, into);
    }
  }
}
const drop = $('own-drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', async (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const entries = Array.from(e.dataTransfer?.items ?? []).map((i) => i.webkitGetAsEntry()).filter((x): x is FileSystemEntry => x !== null);
  const files: { path: string; file: Blob }[] = [];
  try {
    for (const entry of entries) await filesBelow(entry, files);
  } catch (err) {
    ownStatus(`error: the dropped folder could not be read (${(err as Error).message})`);
    return;
  }
  chooseOwn(files);
});
$('own-train').addEventListener('click', () => {
  $<HTMLButtonElement>('own-train').disabled = true;
  ownButtons(false);
  document.body.dataset.ownTrained = 'false';
  ownStatus('training…');
  send({ type: 'own-train', model: $<HTMLSelectElement>('own-model').value, epochs: Number($<HTMLInputElement>('own-epochs').value), lr: Number($<HTMLInputElement>('own-lr').value), workers: workerCount() });
});
const ownName = () => $<HTMLInputElement>('own-name').value.trim();
$('own-save').addEventListener('click', () => { document.body.dataset.ownSaved = 'false'; send({ type: 'own-save', name: ownName() }); });
$('own-load').addEventListener('click', () => { document.body.dataset.ownLoaded = 'false'; ownStatus(`loading indexeddb://${ownName()}…`); send({ type: 'own-load', name: ownName() }); });
$('own-download').addEventListener('click', () => send({ type: 'own-bytes' }));
$<HTMLInputElement>('own-classify').addEventListener('change', (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (!f) return;
  delete $('own-prediction').dataset.probs;
  send({ type: 'own-classify', file: f, name: f.name });
  (e.target as HTMLInputElement).value = ''; // the same file may be chosen again
});

function showOwnConfusion(names: string[], confusion: number[]): void {
  const k = names.length, table = $('own-confusion');
  const cell = (tag: 'th' | 'td', text: string, title = text) => Object.assign(document.createElement(tag), { textContent: text, title });
  const head = document.createElement('tr');
  head.append(cell('th', ''), ...names.map((n) => cell('th', n)), cell('th', 'accuracy'));
  const max = Math.max(...confusion, 1);
  table.replaceChildren(head, ...names.map((n, i) => {
    const tr = document.createElement('tr');
    const row = confusion.slice(i * k, (i + 1) * k), total = row.reduce((a, b) => a + b, 0);
    tr.append(cell('th', n), ...row.map((v, j) => {
      const td = cell('td', v ? String(v) : '');
      td.style.background = i === j ? `rgba(22, 163, 74, ${0.15 + (0.6 * v) / max})` : v ? `rgba(220, 38, 38, ${0.15 + (0.85 * v) / max})` : '';
      return td;
    }), cell('td', total ? `${((100 * row[i]) / total).toFixed(1)}%` : '–'));
    return tr;
  }));
}

function onOwn(m: FromWorker): void {
  switch (m.type) {
    case 'own-pictures': {
      const skipped = m.skipped.length ? `; skipped ${m.skipped.length}${m.skipped.length === 20 ? '+' : ''} (first: ${m.skipped[0].file}: ${m.skipped[0].reason})` : '';
      ownStatus(`${(m.train + m.heldOut).toLocaleString()} pictures in ${m.classNames.length} classes (${m.classNames.join(', ')}), as ${m.shape.join('x')}: ${m.train.toLocaleString()} to train on, ${m.heldOut.toLocaleString()} held out (${m.heldOutKind})${skipped}`);
      $('own-status').dataset.pixelsHash = m.pixelsHash;
      $<HTMLButtonElement>('own-train').disabled = false;
      document.body.dataset.ownPictures = 'true';
      break;
    }
    case 'own-progress':
      $<HTMLProgressElement>('own-progress').value = (m.epoch + (m.batch + 1) / m.batches) / m.epochs;
      ownStatus(`training: epoch ${m.epoch + 1}/${m.epochs}, batch ${m.batch + 1}/${m.batches}, loss ${m.loss.toFixed(4)}`);
      break;
    case 'own-done':
      showOwnConfusion(m.classNames, m.confusion);
      ownStatus(`trained ${m.epochs} epoch${m.epochs === 1 ? '' : 's'}${m.stopped ? ' (stopped early)' : ''}: ${(m.accuracy * 100).toFixed(1)}% of the held-out pictures right`);
      $('own-status').dataset.accuracy = String(m.accuracy);
      $<HTMLButtonElement>('own-train').disabled = false;
      ownButtons(true);
      document.body.dataset.ownTrained = 'true';
      break;
    case 'own-saved':
      ownStatus(`saved as ${m.url} (${m.bytes.toLocaleString()} bytes): reload the page and press "Load from this browser"`);
      document.body.dataset.ownSaved = 'true';
      break;
    case 'own-loaded':
      ownStatus(`loaded ${m.url}: ${m.classNames.length} classes (${m.classNames.join(', ')}), input ${m.shape.join('x')}; classify a picture`);
      ownButtons(true);
      document.body.dataset.ownLoaded = 'true';
      break;
    case 'own-prediction': {
      let top = 0;
      m.probs.forEach((p, i) => { if (p > m.probs[top]) top = i; });
      const el = $('own-prediction');
      el.textContent = `${m.name}: ${m.classNames[top]} (${(m.probs[top] * 100).toFixed(1)}%)`;
      el.dataset.probs = Array.from(m.probs).join(',');
      el.dataset.label = m.classNames[top];
      break;
    }
    case 'own-bytes':
      downloadBytes(m.bytes, `${ownName() || 'model'}.cnnw`);
      break;
    case 'own-error':
      ownStatus(`error: ${m.message}`);
      $<HTMLButtonElement>('own-train').disabled = document.body.dataset.ownPictures !== 'true';
      document.body.dataset.ownError = m.message;
      break;
  }
}

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  if (m.type.startsWith('own-')) { onOwn(m); return; }
  switch (m.type) {
    case 'ready': {
      const sel = $<HTMLSelectElement>('model');
      if (sel.options.length === 0) for (const p of m.presets) sel.add(new Option(p, p, p === m.model, p === m.model));
      const own = $<HTMLSelectElement>('own-model');
      if (own.options.length === 0) for (const p of m.presets) own.add(new Option(p, p, p === 'lenet5-bn', p === 'lenet5-bn'));
      sel.value = m.model;
      $<HTMLInputElement>('lr').value = String(m.lr);
      $<HTMLInputElement>('batch').value = String(m.batchSize);
      $<HTMLButtonElement>('save').disabled = false;
      history.length = 0;
      stepCount = 0;
      drawChart();
      setStatus(`ready: ${m.model} on the ${m.backend} backend; ${m.train.toLocaleString()} training and ${m.test.toLocaleString()} held-out digits`);
      document.body.dataset.ready = 'true';
      break;
    }
    case 'progress':
      stepCount++;
      history.push({ step: stepCount, loss: m.loss });
      $('epoch').textContent = `${m.epoch + 1}/${m.epochs} (${m.batch + 1}/${m.batches})`;
      $('ips').textContent = Math.round(m.imagesPerSecond).toLocaleString();
      $('ms-per-image').textContent = `${(1000 / m.imagesPerSecond).toFixed(3)} ms (forward + backward + update)`;
      $('ms-per-image').title = 'One training step divided by its batch: forward, backward and the optimiser update, on every worker';
      $('loss').textContent = m.loss.toFixed(4);
      $<HTMLProgressElement>('progress').value = (m.epoch + (m.batch + 1) / m.batches) / m.epochs;
      drawChart();
      break;
    case 'epoch':
      lastTestAcc = m.testAccuracy;
      history.push({ step: stepCount, loss: m.loss, testAcc: m.testAccuracy });
      $('test-acc').textContent = `${(m.testAccuracy * 100).toFixed(2)}%`;
      $('test-acc').dataset.value = String(m.testAccuracy);
      drawChart();
      break;
    case 'done':
      training = false;
      $<HTMLButtonElement>('train').disabled = false;
      $<HTMLButtonElement>('pause').disabled = true;
      setStatus(`done: held-out accuracy ${(lastTestAcc * 100).toFixed(2)}%${m.stopped ? ' (stopped early)' : ''} — draw a digit`);
      document.body.dataset.trained = 'true';
      break;
    case 'prediction':
      showPrediction(m.probs);
      showMaps($('insides'), m.maps, false);
      break;
    case 'filters':
      showMaps($('filters'), m.layers, true);
      break;
    case 'saved': {
      downloadBytes(m.bytes, 'cnn-wasm-model.cnnw');
      setStatus(`model saved (${m.bytes.length.toLocaleString()} bytes)`);
      break;
    }
    case 'bench':
      $('bench-result').textContent = benchText(m);
      break;
    case 'hash':
      (window as unknown as { __lastHash: string }).__lastHash = m.hex;
      break;
    case 'insight':
      showInsight(m);
      break;
    case 'error':
      setStatus(`error: ${m.message}`);
      training = false;
      $<HTMLButtonElement>('train').disabled = false;
      console.warn(m.message);
      break;
  }
};

/** Test hook: weights hash after `steps` steps, for comparing with Node. */
(window as unknown as { cnnWasmHash: (b: 'relaxed' | 'simd' | 'scalar', model: string, seed: number, steps: number, workers?: number) => Promise<string> }).cnnWasmHash = (backend, model, seed, steps, workers = 1) =>
  new Promise((resolve, reject) => {
    const prev = worker.onmessage;
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      if (e.data.type === 'hash') { worker.onmessage = prev; resolve(e.data.hex); }
      else if (e.data.type === 'error') { worker.onmessage = prev; reject(new Error(e.data.message)); }
      else prev?.call(worker, e);
    };
    send({ type: 'hash', backend, model, seed, steps, workers });
  });

clearPad();
drawChart();
init();

/**
 * Test hook: the same pictures as files, ImageBitmaps, <img> elements, <canvas> elements and ImageData, each
 * turned into a data set by loadPictures on this page's thread; the SHA-256 of each one's training pixels and labels.
 */
(window as unknown as { cnnWasmPictureKinds: (byClass: Record<string, File[]>) => Promise<Record<string, string>> }).cnnWasmPictureKinds = async (byClass) => {
  const kinds: Record<string, (f: File) => Promise<PictureSource>> = {
    file: async (f) => f,
    bitmap: (f) => createImageBitmap(f, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' }),
    img: (f) => new Promise((res, rej) => { const img = new Image(); img.onload = () => res(img); img.onerror = () => rej(new Error(`${f.name}: <img> did not load`)); img.src = URL.createObjectURL(f); }),
    canvas: async (f) => {
      const b = await createImageBitmap(f, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
      const c = Object.assign(document.createElement('canvas'), { width: b.width, height: b.height });
      c.getContext('2d')!.drawImage(b, 0, 0);
      return c;
    },
    imageData: async (f) => {
      const b = await createImageBitmap(f, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
      const c = new OffscreenCanvas(b.width, b.height), g = c.getContext('2d')!;
      g.drawImage(b, 0, 0);
      return g.getImageData(0, 0, b.width, b.height);
    },
  };
  const out: Record<string, string> = {};
  for (const [kind, make] of Object.entries(kinds)) {
    const input: Record<string, PictureSource[]> = {};
    for (const [name, files] of Object.entries(byClass)) input[name] = await Promise.all(files.map(make));
    const set = await loadPictures(input, { imageSize: 32 });
    const all = new Uint8Array(set.train.images.length + set.train.count);
    all.set(set.train.images);
    all.set(Uint8Array.from(set.train.labels), set.train.images.length);
    out[kind] = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', all)), (b) => b.toString(16).padStart(2, '0')).join('');
  }
  return out;
};

// Test hook: a picture file's pixels as the library reads them in a page (the browser's decoder).
(window as unknown as { cnnWasmPixelsOf: (bytes: number[], name: string, fitTo?: [number, number]) => Promise<{ width: number; height: number; data: number[] }> }).cnnWasmPixelsOf = async (bytes, name, fitTo) => {
  const img = await pixelsOf(new File([new Uint8Array(bytes)], name), name, undefined, fitTo ?? null);
  return { width: img.width, height: img.height, data: Array.from(img.data) };
};
