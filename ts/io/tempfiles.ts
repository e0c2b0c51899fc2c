/**
 * Temporary files of atomic writes and downloads: named after the writing
 * process, so a killed save leaves at most one, and the next writer of the same
 * target removes those whose process no longer exists.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The temporary file a process writes before renaming it to `target`. */
export function tempPathFor(target: string, kind: 'tmp' | 'part'): string {
  return join(dirname(target), `.${basename(target)}.${kind}-${process.pid}`);
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Removes temporary files of `target` (either kind) left by processes that have exited; returns their paths. */
export function removeStaleTemps(target: string): string[] {
  const dir = dirname(target);
  const prefix = `.${basename(target)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(?:tmp|part)-(\d+)$/.exec(name.slice(prefix.length));
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(join(dir, name));
    } catch { /* raced with another cleaner */ }
  }
  return removed;
}
