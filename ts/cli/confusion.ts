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

/** The report as text: per-class accuracy, then the matrix (rows: true class, columns: predicted). */
export function formatReport(r: ClassReport): string {
  const label = (c: number) => r.perClass[c].name ?? String(c);
  const w = Math.max(5, ...r.perClass.map((p) => label(p.class).length));
  const lines = ['per-class accuracy:'];
  for (const p of r.perClass) {
    lines.push(`  ${label(p.class).padEnd(w)}  ${p.accuracy === null ? '    -  ' : `${(p.accuracy * 100).toFixed(1).padStart(5)}%`}  (${p.correct}/${p.count})`);
  }
  const cell = Math.max(4, ...r.confusion.flat().map((v) => String(v).length)) + 1;
  lines.push('confusion matrix (rows: true class, columns: predicted class by index):');
  lines.push(`  ${''.padEnd(w)} ${r.confusion.map((_, c) => String(c).padStart(cell)).join('')}`);
  r.confusion.forEach((row, t) => lines.push(`  ${label(t).padEnd(w)} ${row.map((v) => String(v).padStart(cell)).join('')}`));
  return lines.join('\n');
}
