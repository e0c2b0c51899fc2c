/** Learning-rate schedules, as functions of the optimiser step (0-based), or of the epochs' results (reduceOnPlateau). */
import { checkPlateau, type PlateauSchedule } from './plateau.js';

export type LearningRate =
  | number
  | { kind: 'constant'; lr: number }
  /** lr * factor^floor(step / every) — seed 001 uses factor 0.9, every 30. */
  | { kind: 'stepDecay'; lr: number; factor: number; every: number }
  /** lr * rate^(step / steps). */
  | { kind: 'exponential'; lr: number; rate: number; steps: number }
  /** Lowered when a monitored number stops improving (see plateau.ts). */
  | PlateauSchedule;

/** Constant learning rate. */
export function constantLr(lr: number): LearningRate {
  return { kind: 'constant', lr };
}

/** lr * factor^floor(step / every). */
export function stepDecay(lr: number, factor: number, every: number): LearningRate {
  return { kind: 'stepDecay', lr, factor, every };
}

/** lr * rate^(step / steps). */
export function exponentialDecay(lr: number, rate: number, steps: number): LearningRate {
  return { kind: 'exponential', lr, rate, steps };
}

/** Validates a schedule (from options or a model file). */
export function checkLearningRate(s: unknown, where: string): LearningRate {
  const pos = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (pos(s)) return s as number;
  if (typeof s === 'object' && s !== null) {
    const o = s as Record<string, unknown>;
    if (o.kind === 'constant' && pos(o.lr)) return s as LearningRate;
    if (o.kind === 'stepDecay' && pos(o.lr) && pos(o.factor) && Number.isInteger(o.every) && (o.every as number) >= 1) return s as LearningRate;
    if (o.kind === 'exponential' && pos(o.lr) && pos(o.rate) && pos(o.steps) && (o.steps as number) > 0) return s as LearningRate;
    if (o.kind === 'plateau') return checkPlateau(o, where);
  }
  throw new Error(`${where}: invalid learning rate ${JSON.stringify(s)} (a number >= 0, constantLr, stepDecay, exponentialDecay or reduceOnPlateau)`);
}

/** The learning rate at optimiser step `step`. */
export function learningRateAt(s: LearningRate, step: number): number {
  if (typeof s === 'number') return s;
  switch (s.kind) {
    case 'constant':
      return s.lr;
    case 'stepDecay':
      return s.lr * Math.pow(s.factor, Math.floor(step / s.every));
    case 'exponential':
      return s.lr * Math.pow(s.rate, step / s.steps);
    case 'plateau':
      return s.state.lr;
  }
}
