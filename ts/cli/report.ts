/**
 * `train --report report.html`: one self-contained page (no network, no
 * script) with the loss and accuracy curves per epoch, the confusion
 * matrix, per-class accuracy and a grid of the most confident mistakes.
 */
import { PNG } from 'pngjs';
import type { EpochLogs } from '../train/fit.js';
import { largestCell, MATRIX_MAX_CLASSES, mostConfused, type ClassReport } from './confusion.js';

/** A test image the model got wrong, with how sure it was. */
export interface Mistake {
  /** u8 pixels [C, H, W] (C = 1 or 3). */
  pixels: Uint8Array;
  shape: readonly number[];
  trueClass: string;
  predicted: string;
  probability: number;
}

export interface ReportInput {
  title: string;
  /** Lines of facts under the title (model, data, seed, ...). */
  facts: string[];
  epochs: EpochLogs[];
  testAccuracy: number;
  testLoss: number;
  report: ClassReport;
  mistakes: Mistake[];
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A small line chart of one or more series over the epochs, as inline SVG. */
function chart(title: string, series: { name: string; values: (number | undefined)[]; colour: string }[], percent: boolean): string {
  const W = 420, H = 220, L = 50, R = 10, T = 28, B = 30;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  if (all.length === 0) return '';
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  const n = Math.max(...series.map((s) => s.values.length));
  const x = (i: number) => L + (n > 1 ? (i / (n - 1)) * (W - L - R) : (W - L - R) / 2);
  const y = (v: number) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const fmt = (v: number) => (percent ? `${(v * 100).toFixed(1)}%` : v.toFixed(3));
  const lines = series.map((s) => {
    const pts = s.values.map((v, i) => (v === undefined ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean).join(' ');
    const dots = s.values.map((v, i) => (v === undefined ? '' : `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${s.colour}"><title>${esc(s.name)}, epoch ${i + 1}: ${fmt(v)}</title></circle>`)).join('');
    return `<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${pts}"/>${dots}`;
  }).join('');
  const legend = series.map((s, i) => `<text x="${L + 8 + i * 110}" y="${T - 10}" fill="${s.colour}" font-size="12">● ${esc(s.name)}</text>`).join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`
    + `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#999"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#999"/>`
    + `<text x="${L - 6}" y="${T + 4}" font-size="11" text-anchor="end">${fmt(hi)}</text><text x="${L - 6}" y="${H - B}" font-size="11" text-anchor="end">${fmt(lo)}</text>`
    + `<text x="${L}" y="${H - 10}" font-size="11">epoch 1</text><text x="${W - R}" y="${H - 10}" font-size="11" text-anchor="end">epoch ${n}</text>`
    + `${legend}${lines}</svg></figure>`;
}

/** A picture as a PNG data: URL (gray or RGB planes). */
function dataUrl(pixels: Uint8Array, shape: readonly number[]): string {
  const [c, h, w] = shape;
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < h * w; i++) {
    const r = pixels[i], g = c === 3 ? pixels[h * w + i] : r, b = c === 3 ? pixels[2 * h * w + i] : r;
    png.data[4 * i] = r; png.data[4 * i + 1] = g; png.data[4 * i + 2] = b; png.data[4 * i + 3] = 255;
  }
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;
}

/** The report page. */
export function renderReport(r: ReportInput): string {
  const label = (c: number) => r.report.perClass[c].name ?? String(c);
  const max = Math.max(1, largestCell(r.report));
  const pairs = mostConfused(r.report);
  const matrix = r.report.confusion.length > MATRIX_MAX_CLASSES
    ? `<p>${r.report.confusion.length} classes, too many for a matrix: the ${pairs.length} most confused pairs.</p>`
      + `<table><thead><tr><th>true class</th><th>taken for</th><th>images</th></tr></thead><tbody>${pairs.map((c) => `<tr><td>${esc(label(c.trueClass))}</td><td>${esc(label(c.predicted))}</td><td>${c.count}</td></tr>`).join('')}</tbody></table>`
    : `<table class="matrix"><thead><tr><th>true \\ predicted</th>${r.report.confusion.map((_, c) => `<th title="${esc(label(c))}">${esc(label(c))}</th>`).join('')}</tr></thead><tbody>`
    + r.report.confusion.map((row, t) => `<tr><th>${esc(label(t))}</th>${row.map((v, p) => {
      const a = v / max, bg = t === p ? `rgba(40,140,60,${(0.15 + 0.85 * a).toFixed(2)})` : `rgba(200,50,40,${v ? (0.1 + 0.9 * a).toFixed(2) : 0})`;
      return `<td style="background:${bg}${a > 0.55 ? ';color:#fff' : ''}">${v}</td>`;
    }).join('')}</tr>`).join('') + '</tbody></table>';
  const perClass = `<table><thead><tr><th>class</th><th>accuracy</th><th>right / images</th></tr></thead><tbody>`
    + r.report.perClass.map((p) => `<tr><td>${esc(label(p.class))}</td><td>${p.accuracy === null ? '-' : `${(p.accuracy * 100).toFixed(1)}%`}</td><td>${p.correct} / ${p.count}</td></tr>`).join('') + '</tbody></table>';
  const mistakes = r.mistakes.length === 0 ? '<p>No mistakes.</p>' : `<div class="grid">${r.mistakes.map((m) => `<figure class="mistake"><img src="${dataUrl(m.pixels, m.shape)}" alt="${esc(m.trueClass)} taken for ${esc(m.predicted)}"><figcaption><b>${esc(m.predicted)}</b> ${(m.probability * 100).toFixed(1)}%<br>true: ${esc(m.trueClass)}</figcaption></figure>`).join('')}</div>`;
  const ep = r.epochs;
  const charts = chart('Loss', [{ name: 'training', values: ep.map((e) => e.loss), colour: '#1f6fb2' }, { name: 'validation', values: ep.map((e) => e.valLoss), colour: '#d9730d' }], false)
    + chart('Accuracy', [{ name: 'training', values: ep.map((e) => e.accuracy), colour: '#1f6fb2' }, { name: 'validation', values: ep.map((e) => e.valAccuracy), colour: '#d9730d' }], true);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(r.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.facts{color:#555;margin:0 0 12px;padding:0;list-style:none}
.big{font-size:20px;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}
table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}
.matrix th{max-width:90px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.grid{display:flex;flex-wrap:wrap;gap:10px}.mistake{width:110px;text-align:center}.mistake img{width:96px;height:96px;image-rendering:pixelated;border:1px solid #ccc}
.mistake figcaption{font-weight:400;font-size:12px}
</style></head><body>
<h1>${esc(r.title)}</h1>
<ul class="facts">${r.facts.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>
<p class="big">Test accuracy ${(r.testAccuracy * 100).toFixed(2)}% <span style="font-weight:400;font-size:14px">(loss ${r.testLoss.toFixed(4)})</span></p>
<h2>Training</h2><div class="charts">${charts}</div>
<h2>${r.report.confusion.length > MATRIX_MAX_CLASSES ? 'Most confused classes' : 'Confusion matrix'}</h2>${matrix}
<h2>Per-class accuracy</h2>${perClass}
<h2>Most confident mistakes</h2>${mistakes}
</body></html>
`;
}
