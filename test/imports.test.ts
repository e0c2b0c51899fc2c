/**
 * The shape of ts/: no import cycle (type-only imports count), and the
 * layers and kernels import nothing from the rooms above them. Imports are
 * read from the sources: static ones, `export ... from`, and dynamic
 * imports of a literal path.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../ts/', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports of one file, resolved to files under ts/ (paths relative to ts/). */
export function importsOf(file: string, text: string): string[] {
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.[^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*(?:\/\*[^*]*\*\/\s*)*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]);
  return specs.map((s) => relative(root, resolve(dirname(file), s.replace(/\.js$/, '.ts'))));
}

const graph = new Map<string, string[]>(files(root).map((f) => [relative(root, f), importsOf(f, readFileSync(f, 'utf8'))]));

/** Strongly connected components of more than one file (or a file importing itself): the import cycles. */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      for (let w = ''; w !== v;) { w = stack.pop()!; on.delete(w); c.push(w); }
      if (c.length > 1 || (g.get(v) ?? []).includes(v)) out.push(c.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('the import graph of ts/', () => {
  it('reads the imports it is meant to (a check of the reader itself)', () => {
    expect(importsOf(join(root, 'a/b.ts'), "import { x } from '../c.js';\nimport type { Y } from './d.js';\nexport { z } from './e/f.js';\nconst m = await import(/* @vite-ignore */ './g.js');\nimport './h.js';"))
      .toEqual(['c.ts', 'a/d.ts', 'a/e/f.ts', 'a/h.ts', 'a/g.ts']);
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
    expect(graph.size).toBeGreaterThan(50);
  });

  it('has no import cycle, type-only imports included', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('the layers and kernels import nothing from parallel/, train/, io/, interop/ or the model', () => {
    const above = /^(parallel|train|io|interop|serve|cli|bench|data)\/|^(model|train|node|index)\.ts$/;
    const bad = [...graph].filter(([f]) => /^(layers|kernels)\//.test(f)).flatMap(([f, deps]) => deps.filter((d) => above.test(d)).map((d) => `${f} -> ${d}`));
    expect(bad).toEqual([]);
  });
});
