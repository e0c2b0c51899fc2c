#!/usr/bin/env node
// Entry point of the `cnn-wasm` command. The CLI itself is TypeScript compiled to dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('cnn-wasm: dist/ is missing; run `npm run build` (npm ci runs it via "prepare").');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
