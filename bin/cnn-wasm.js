#!/usr/bin/env node
// Entry point of the `cnn-wasm` command. The CLI itself is TypeScript compiled to dist/:
// the published package ships dist/; in a fresh clone of the repository the first run
// builds it (so `npm ci && npx cnn-wasm train` works without an install script).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const tsc = new URL('../node_modules/typescript/bin/tsc', import.meta.url);
  if (!existsSync(new URL('../ts/cli/main.ts', import.meta.url)) || !existsSync(tsc)) {
    console.error('cnn-wasm: dist/ is missing; run `npm run build` in the package directory.');
    process.exit(1);
  }
  process.stderr.write('cnn-wasm: building dist/ (the first run of a fresh clone)...\n');
  execFileSync(process.execPath, [fileURLToPath(tsc), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
