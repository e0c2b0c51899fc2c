/**
 * Reduce-on-plateau: a learning-rate schedule that lowers the rate when a
 * monitored number (by default the validation loss) has stopped improving,
 * with Keras's ReduceLROnPlateau semantics. fit tells it each epoch's logs;
 * its state (the current rate, the best value, the epochs waited) lives in
 * the schedule, so a checkpoint's optimiser resumes with the rate it had.
 */

/** The numbers of an epoch a schedule or callback may monitor. */
export type Monitored = 'loss' | 'accuracy' | 'valLoss' | 'valAccuracy';
export const MONITORED: readonly Monitored[] = ['loss', 'accuracy', 'valLoss', 'valAccuracy'];

/** Options of {@link reduceOnPlateau}. */
export interface PlateauOptions {
  /** What to watch (default 'valLoss'); losses should fall, accuracies rise. */
  monitor?: Monitored;
  /** The rate is multiplied by this when the monitored number stops improving (default 0.1). */
  factor?: number;
  /** Epochs without improvement before the rate is lowered (default 10). */
  patience?: number;
  /** The least change that counts as an improvement (default 1e-4). */
  minDelta?: number;
  /** Epochs after a reduction before waiting starts again (default 0). */
  cooldown?: number;
  /** The rate is never lowered below this (default 0). */
  minLr?: number;
}

/** The schedule as the optimiser (and a model file) holds it. */
export interface PlateauSchedule extends Required<PlateauOptions> {
  kind: 'plateau';
  /** The rate it started from. */
  lr: number;
  /** What it has seen: the rate now, the best monitored value, epochs waited, cooldown epochs left. */
  state: { lr: number; best: number | null; wait: number; cooldownLeft: number };
}

/** A learning rate that starts at `lr` and is lowered by `factor` when `monitor` stops improving for `patience` epochs. */
export function reduceOnPlateau(lr: number, o: PlateauOptions = {}): PlateauSchedule {
  const s: PlateauSchedule = {
    kind: 'plateau', lr, monitor: o.monitor ?? 'valLoss', factor: o.factor ?? 0.1, patience: o.patience ?? 10,
    minDelta: o.minDelta ?? 1e-4, cooldown: o.cooldown ?? 0, minLr: o.minLr ?? 0,
    state: { lr, best: null, wait: 0, cooldownLeft: 0 },
  };
  return checkPlateau(s as unknown as Record<string, unknown>, 'reduceOnPlateau');
}

/** Validates a plateau schedule (from options or a model file); returns a copy the optimiser owns. */
export function checkPlateau(s: Record<string, unknown>, where: string): PlateauSchedule {
  const fail = (what: string): never => { throw new Error(`${where}: ${what}`); };
  const num = (k: string, ok: (v: number) => boolean, want: string) => {
    const v = s[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(`${k} must be ${want}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const lr = num('lr', (v) => v >= 0, 'a number >= 0');
  if (!MONITORED.includes(s.monitor as Monitored)) fail(`monitor must be one of ${MONITORED.join(', ')}, got ${JSON.stringify(s.monitor)}`);
  const factor = num('factor', (v) => v > 0 && v < 1, 'a number between 0 and 1');
  const patience = num('patience', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
  const minDelta = num('minDelta', (v) => v >= 0, 'a number >= 0');
  const cooldown = num('cooldown', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
  const minLr = num('minLr', (v) => v >= 0, 'a number >= 0');
  const st = (s.state ?? {}) as Record<string, unknown>;
  const cur = typeof st.lr === 'number' && Number.isFinite(st.lr) && st.lr >= 0 ? st.lr : lr;
  return {
    kind: 'plateau', lr, monitor: s.monitor as Monitored, factor, patience, minDelta, cooldown, minLr,
    state: {
      lr: cur,
      best: typeof st.best === 'number' && Number.isFinite(st.best) ? st.best : null,
      wait: Number.isInteger(st.wait) ? (st.wait as number) : 0,
      cooldownLeft: Number.isInteger(st.cooldownLeft) ? (st.cooldownLeft as number) : 0,
    },
  };
}

/** Whether `current` improves on `best` by more than minDelta: lower for losses, higher for accuracies. */
export function improves(monitor: Monitored, current: number, best: number | null, minDelta: number): boolean {
  if (best === null) return true;
  return monitor.toLowerCase().endsWith('loss') ? current < best - minDelta : current > best + minDelta;
}

/** The optimiser's plateau schedule, if it has one. */
function plateauOf(optimizer: { config(): { learningRate?: unknown } }): PlateauSchedule | null {
  const lr = optimizer.config().learningRate as { kind?: string } | undefined;
  return lr && typeof lr === 'object' && lr.kind === 'plateau' ? (lr as PlateauSchedule) : null;
}

/** At fit's start: what the last fit saw is forgotten (the rate stays), as Keras resets on each fit. */
export function trainBegan(optimizer: { config(): { learningRate?: unknown } }): void {
  const s = plateauOf(optimizer);
  if (s) Object.assign(s.state, { best: null, wait: 0, cooldownLeft: 0 });
}

/** After each epoch: a plateau schedule sees the monitored number and may lower the rate. */
export function epochEnded(optimizer: { config(): { learningRate?: unknown } }, logs: Partial<Record<Monitored, number>>, warn: (m: string) => void): void {
  const s = plateauOf(optimizer);
  if (!s) return;
  const current = logs[s.monitor];
  if (current === undefined) {
    warn(`reduceOnPlateau monitors ${s.monitor}, which this training does not report (${MONITORED.filter((k) => logs[k] !== undefined).join(', ')} it does): the learning rate stays ${s.state.lr}`);
    return;
  }
  const st = s.state;
  if (st.cooldownLeft > 0) {
    st.cooldownLeft--;
    st.wait = 0;
  }
  if (improves(s.monitor, current, st.best, s.minDelta)) {
    st.best = current;
    st.wait = 0;
  } else if (st.cooldownLeft === 0) {
    st.wait++;
    if (st.wait >= s.patience && st.lr > s.minLr) {
      st.lr = Math.max(st.lr * s.factor, s.minLr);
      st.cooldownLeft = s.cooldown;
      st.wait = 0;
    }
  }
}
