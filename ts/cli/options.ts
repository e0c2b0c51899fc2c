/** Parsing of CLI flag values; a bad value throws a UsageError listing valid choices (exit 2). */
import type { BackendChoice } from '../backend/load.js';
import { availableCores, MAX_WORKERS } from '../parallel/group.js';

/** A mistake on the command line: printed without a stack, exit code 2. */
export class UsageError extends Error {}

/** Ends a command with this exit code after it said what happened (e.g. 130 after Ctrl-C). */
export class ExitWith extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Validates one of a fixed set of choices. */
export function parseChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`invalid value '${value}' for ${flag} (valid: ${choices.join(', ')})`);
}

export function parseBackend(value: string): BackendChoice {
  return parseChoice('--backend', value, ['auto', 'relaxed', 'simd', 'scalar'] as const);
}

/** Parses an integer flag within [min, max]. */
export function parseIntFlag(flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(`invalid value '${value}' for ${flag} (an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''})`);
  }
  return v;
}

/** Parses a finite number flag within [min, max]. */
export function parseNumberFlag(flag: string, value: string, min: number, max = Infinity): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    throw new UsageError(`invalid value '${value}' for ${flag} (a number from ${min}${max < Infinity ? ` to ${max}` : ''})`);
  }
  return v;
}

/** Parses --workers: an integer from 1 to MAX_WORKERS, or auto (the cores this machine reports). */
export async function parseWorkersFlag(value: string): Promise<number> {
  if (value.trim() === 'auto') return availableCores();
  const v = Number(value);
  if (!/^\d+$/.test(value.trim()) || v < 1 || v > MAX_WORKERS) {
    throw new UsageError(`invalid value '${value}' for --workers (an integer from 1 to ${MAX_WORKERS}, or auto for this machine's cores)`);
  }
  return v;
}
