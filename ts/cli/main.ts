/** The `cnn-wasm` command line: one file per command, registered here. */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { ExitWith, UsageError } from './options.js';
import { FileProblem } from './common.js';
import * as bench from './bench.js';
import * as info from './info.js';
import * as train from './train.js';
import * as evalCommand from './eval.js';
import * as predict from './predict.js';
import * as gradcheck from './gradcheck.js';
import * as summary from './summary.js';
import * as serve from './serve.js';
import * as exportCommand from './export.js';
import * as importCommand from './import.js';

/** Builds the commander program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('cnn-wasm')
    .description('Train and run small CNNs in WebAssembly (relaxed SIMD, SIMD128 or scalar builds)')
    .version(VERSION, '-v, --version')
    .showHelpAfterError()
    .exitOverride();
  train.register(program);
  evalCommand.register(program);
  predict.register(program);
  gradcheck.register(program);
  summary.register(program);
  info.register(program);
  bench.register(program);
  serve.register(program);
  exportCommand.register(program);
  importCommand.register(program);
  // An argument a command does not take is a mistake to name, not one to ignore.
  for (const c of program.commands) c.allowExcessArguments(false);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help / version are "errors" with exit code 0; usage mistakes exit 2.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof ExitWith) return e.code;
    if (e instanceof UsageError) {
      console.error(`cnn-wasm: ${e.message}`);
      return 2;
    }
    if (e instanceof FileProblem) {
      console.error(`cnn-wasm: ${e.message}`);
      return 1;
    }
    console.error(`cnn-wasm: ${(e as Error).message}`);
    return 1;
  }
}
