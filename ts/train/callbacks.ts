/**
 * Callbacks to pass to fit: earlyStopping, with Keras's EarlyStopping
 * semantics (restoring the best weights included).
 */
import type { WeightTensor } from '../engine/types.js';
import { improves, MONITORED, type Monitored } from '../optim/plateau.js';
import type { Callbacks, EpochLogs, TrainingContext } from './fit.js';

/** Options of {@link earlyStopping}. */
export interface EarlyStoppingOptions {
  /** What to watch (default 'valLoss'): losses should fall, accuracies rise. */
  monitor?: Monitored;
  /** The least change that counts as an improvement (default 0). */
  minDelta?: number;
  /** Epochs without improvement after which training stops (default 0: the first epoch that does not improve). */
  patience?: number;
  /** A value to beat: waiting restarts only when the best so far also beats it. */
  baseline?: number;
  /** At the end of training, put back the weights of the epoch with the best monitored value (default false). */
  restoreBestWeights?: boolean;
  /** Epochs to let pass before watching (default 0). */
  startFromEpoch?: number;
  /**
   * The monitored value of the weights training starts from (a resumed
   * checkpoint's, measured before fit): an epoch must beat it to be the best,
   * and with `restoreBestWeights` the starting weights come back when none does
   * (`bestEpoch` stays -1). Like Keras's ModelCheckpoint initial_value_threshold.
   */
  initialValue?: number;
}

/** An earlyStopping callback, and what it saw. */
export interface EarlyStopping extends Callbacks {
  /** The epoch (0-based) training was stopped after, or -1. */
  readonly stoppedEpoch: number;
  /** The epoch (0-based) with the best monitored value so far, or -1 (none yet, or none beat `initialValue`). */
  readonly bestEpoch: number;
  /** The best monitored value so far, or null. */
  readonly best: number | null;
}

/**
 * Stops fit when `monitor` has not improved for `patience` epochs; with
 * `restoreBestWeights`, the model ends with the weights of its best epoch
 * (whether training stopped early or ran all its epochs).
 *
 * ```ts
 * await model.fit(train, { optimizer, epochs: 50, validationData: val,
 *   callbacks: [earlyStopping({ monitor: 'valLoss', patience: 3, restoreBestWeights: true })] });
 * ```
 */
export function earlyStopping(o: EarlyStoppingOptions = {}): EarlyStopping {
  const monitor = o.monitor ?? 'valLoss', patience = o.patience ?? 0, minDelta = Math.abs(o.minDelta ?? 0), startFrom = o.startFromEpoch ?? 0;
  if (!MONITORED.includes(monitor)) throw new Error(`earlyStopping: monitor must be one of ${MONITORED.join(', ')}, got ${JSON.stringify(monitor)}`);
  for (const [k, v] of [['patience', patience], ['startFromEpoch', startFrom]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`earlyStopping: ${k} must be an integer >= 0, got ${JSON.stringify(v)}`);
  }
  if (!Number.isFinite(minDelta)) throw new Error(`earlyStopping: minDelta must be a finite number, got ${JSON.stringify(o.minDelta)}`);
  for (const k of ['baseline', 'initialValue'] as const) {
    if (o[k] !== undefined && !Number.isFinite(o[k])) throw new Error(`earlyStopping: ${k} must be a finite number, got ${JSON.stringify(o[k])}`);
  }
  let ctx: TrainingContext | null = null;
  let wait = 0, stopped = -1, bestEpoch = -1, best: number | null = null, bestWeights: WeightTensor[] | null = null, warned = false;
  return {
    get stoppedEpoch() { return stopped; },
    get bestEpoch() { return bestEpoch; },
    get best() { return best; },
    setContext(c) { ctx = c; },
    onTrainBegin() {
      // A callback may be given to several fits: each starts afresh.
      wait = 0; stopped = -1; bestEpoch = -1; best = o.initialValue ?? null; warned = false;
      bestWeights = o.initialValue !== undefined && o.restoreBestWeights ? ctx!.getWeights() : null;
    },
    onEpochEnd(logs: EpochLogs) {
      const current = logs[monitor];
      if (current === undefined) {
        if (!warned) ctx?.warn(`earlyStopping monitors ${monitor}, which this training does not report (${MONITORED.filter((k) => logs[k] !== undefined).join(', ')} it does${monitor.startsWith('val') ? '; pass validationData' : ''}): it will not stop training`);
        warned = true;
        return;
      }
      if (logs.epoch < startFrom) return;
      if (o.restoreBestWeights && bestWeights === null) {
        bestWeights = ctx!.getWeights(); // the first epoch watched is the best so far
        bestEpoch = logs.epoch;
      }
      wait++;
      if (improves(monitor, current, best, minDelta)) {
        best = current;
        bestEpoch = logs.epoch;
        if (o.restoreBestWeights) bestWeights = ctx!.getWeights();
        if (o.baseline === undefined || improves(monitor, current, o.baseline, minDelta)) wait = 0;
        return;
      }
      if (wait >= patience && logs.epoch > 0) {
        stopped = logs.epoch;
        ctx!.stop();
      }
    },
    onTrainEnd() {
      if (o.restoreBestWeights && bestWeights) ctx!.setWeights(bestWeights);
    },
  };
}
