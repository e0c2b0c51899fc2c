/** Per-class accuracy and the confusion matrix of a model on a labelled split, as `cnn-wasm eval` prints them. */

/** What a model got right, class by class. */
export interface ClassReport {
  /** counts[t][p]: examples of true class t predicted as p. */
  confusion: number[][];
  perClass: { class: number; name?: string; count: number; correct: number; accuracy: number | null }[];
}

/** The report from true labels and predicted classes (any class index outside 0..classes-1 is refused). */
export function classReport(labels: ArrayLike<number>, predicted: ArrayLike<number>, classes: number, names: string[] | null): ClassReport {
  if (labels.length !== predicted.length) throw new Error(`classReport: ${labels.length} labels, ${predicted.length} predictions`);
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i], p = predicted[i];
    if (!(t >= 0 && t < classes && p >= 0 && p < classes)) throw new Error(`classReport: example ${i} has label ${t} and prediction ${p}, outside 0..${classes - 1}`);
    confusion[t][p]++;
  }
  const perClass = confusion.map((row, c) => {
    const count = row.reduce((a, b) => a + b, 0);
    return { class: c, ...(names ? { name: names[c] } : {}), count, correct: row[c], accuracy: count ? row[c] / count : null };
  });
  return { confusion, perClass };
}

/** Classes up to which the text and the report page draw the whole matrix; past it, a list of the most confused pairs. */
export const MATRIX_MAX_CLASSES = 30;
/** How many of the most confused pairs are listed when the matrix is not drawn. */
export const MOST_CONFUSED = 20;

/** The off-diagonal cells with examples, most examples first (then by true class, then by predicted class): what a model mixes up most. */
export function mostConfused(r: ClassReport, limit = MOST_CONFUSED): { trueClass: number; predicted: number; count: number }[] {
  const cells: { trueClass: number; predicted: number; count: number }[] = [];
  r.confusion.forEach((row, t) => row.forEach((count, p) => { if (p !== t && count > 0) cells.push({ trueClass: t, predicted: p, count }); }));
  return cells.sort((a, b) => b.count - a.count || a.trueClass - b.trueClass || a.predicted - b.predicted).slice(0, limit);
}

/** The largest count in the matrix (a loop: spreading k^2 cells into Math.max overflows the stack for a few hundred classes). */
export function largestCell(r: ClassReport): number {
  let max = 0;
  for (const row of r.confusion) for (const v of row) if (v > max) max = v;
  return max;
}

/** The report as text: per-class accuracy, then the matrix (rows: true class, columns: predicted), or past MATRIX_MAX_CLASSES the most confused pairs. */
export function formatReport(r: ClassReport): string {
  const label = (c: number) => r.perClass[c].name ?? String(c);
  let w = 5;
  for (const p of r.perClass) w = Math.max(w, label(p.class).length);
  const lines = ['per-class accuracy:'];
  for (const p of r.perClass) {
    lines.push(`  ${label(p.class).padEnd(w)}  ${p.accuracy === null ? '    -  ' : `${(p.accuracy * 100).toFixed(1).padStart(5)}%`}  (${p.correct}/${p.count})`);
  }
  if (r.confusion.length > MATRIX_MAX_CLASSES) {
    const pairs = mostConfused(r);
    lines.push(pairs.length === 0
      ? 'most confused: none (every example is in its own class)'
      : `most confused (${r.confusion.length} classes, too many for a matrix; --json has it whole):`);
    for (const c of pairs) lines.push(`  ${label(c.trueClass)} taken for ${label(c.predicted)}: ${c.count} ${c.count === 1 ? 'time' : 'times'}`);
    return lines.join('\n');
  }
  const cell = Math.max(4, String(largestCell(r)).length) + 1;
  lines.push('confusion matrix (rows: true class, columns: predicted class by index):');
  lines.push(`  ${''.padEnd(w)} ${r.confusion.map((_, c) => String(c).padStart(cell)).join('')}`);
  r.confusion.forEach((row, t) => lines.push(`  ${label(t).padEnd(w)} ${row.map((v) => String(v).padStart(cell)).join('')}`));
  return lines.join('\n');
}
