/**
 * Temporary files of atomic writes and downloads: named after the writing
 * process, so a killed save leaves at most one, and the next writer of the same
 * target removes those whose process no longer exists.
 */
import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The temporary file a process writes before renaming it to `target`. */
export function tempPathFor(target: string, kind: 'tmp' | 'part'): string {
  return join(dirname(target), `.${basename(target)}.${kind}-${process.pid}`);
}

/**
 * A temporary file untouched this long is stale whatever its process: a
 * download writes at least every 30 s (its idle timeout) and an atomic save
 * takes seconds, so only a process id reused by an unrelated process can keep
 * an older one "alive".
 */
export const STALE_AFTER_MS = 15 * 60_000;

/** Whether process `pid` is running: it exists and, on Linux, is not a zombie (killed but not yet reaped by its parent). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ...": comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS, Windows): kill(pid, 0) said it exists
  }
}

function stale(path: string, pid: number, now: number): boolean {
  if (pid === process.pid) return false;
  if (!processAlive(pid)) return true;
  try {
    return now - statSync(path).mtimeMs > STALE_AFTER_MS;
  } catch {
    return false;
  }
}

/** Removes the files in `dir` whose names `writerOf` takes for temporary files (it returns their writer's pid) and that are stale; returns their paths. */
function removeStale(dir: string, writerOf: (name: string) => number | null): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = writerOf(name);
    if (pid === null || !stale(join(dir, name), pid, Date.now())) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(join(dir, name));
    } catch { /* raced with another cleaner */ }
  }
  return removed;
}

/** Removes temporary files of `target` (either kind) left by processes that have exited (or untouched for STALE_AFTER_MS); returns their paths. */
export function removeStaleTemps(target: string): string[] {
  const prefix = `.${basename(target)}.`;
  return removeStale(dirname(target), (name) => {
    const m = name.startsWith(prefix) ? /^(?:tmp|part)-(\d+)$/.exec(name.slice(prefix.length)) : null;
    return m ? Number(m[1]) : null;
  });
}

/** Removes the temporary files of every target in `dir` left by processes that have exited (or untouched for STALE_AFTER_MS). */
export function removeStaleTempsIn(dir: string): string[] {
  return removeStale(dir, (name) => {
    const m = /^\..+\.(?:tmp|part)-(\d+)$/.exec(name);
    return m ? Number(m[1]) : null;
  });
}

/** Temporary files this process is writing: removed if it exits before renaming them (an error, EPIPE, process.exit). */
const writing = new Set<string>();
let exitHook = false;
/** Registers `path` as being written; returns a function that unregisters it (call it once renamed or removed). */
export function trackTemp(path: string): () => void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const p of writing) try { unlinkSync(p); } catch { /* renamed or gone */ }
    });
  }
  writing.add(path);
  return () => writing.delete(path);
}
