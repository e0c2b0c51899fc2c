/**
 * earlyStopping (Keras's EarlyStopping semantics) and reduceOnPlateau
 * (Keras's ReduceLROnPlateau): scripted epochs whose outcome is worked out
 * by hand from those semantics, and real training whose restored weights
 * must be the best epoch's bytes, for 1 and 2 workers.
 */
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import type { WeightTensor } from '../ts/engine/types.js';
import { serializeModel, deserializeModel } from '../ts/model-file.js';
import { createPreset } from '../ts/models/presets.js';
import { sgd } from '../ts/optim/optimizer.js';
import { epochEnded, reduceOnPlateau } from '../ts/optim/plateau.js';
import { earlyStopping, type EarlyStoppingOptions } from '../ts/train/callbacks.js';
import type { EpochLogs, TrainingContext } from '../ts/train/fit.js';
import { mnistSample } from './data.js';

const be = await initBackend({ backend: 'simd' });

/** Runs an earlyStopping over scripted values of `key`; returns the epoch it stopped after (-1: never) and the epoch whose weights it put back. */
function script(o: EarlyStoppingOptions, values: number[], key: 'valLoss' | 'valAccuracy' | 'loss' = 'valLoss') {
  let stopped = false, weights = -1;
  const warnings: string[] = [];
  const es = earlyStopping(o);
  const ctx: TrainingContext = {
    stop: () => { stopped = true; },
    getWeights: () => [{ name: 'epoch', shape: [1], values: Float32Array.of(current) }] as WeightTensor[],
    setWeights: (w) => { weights = w[0].values[0]; },
    optimizer: sgd(),
    warn: (m) => warnings.push(m),
  };
  let current = -1;
  es.setContext!(ctx);
  void es.onTrainBegin!();
  for (let e = 0; e < values.length && !stopped; e++) {
    current = e;
    void es.onEpochEnd!({ epoch: e, loss: 1, accuracy: 0, [key]: values[e], imagesPerSecond: 1, seconds: 1, learningRate: 0.1 } as EpochLogs);
  }
  void es.onTrainEnd!({ epochs: [], stopped, steps: 0 });
  return { stopped: es.stoppedEpoch, restored: weights, best: es.bestEpoch, warnings };
}

describe('earlyStopping', () => {
  it.each([
    // values, options -> stops after epoch (-1: runs them all), best epoch
    ['patience 0: the first epoch that does not improve', [1, 0.9, 0.95, 0.8], { patience: 0 }, 2, 1],
    ['patience 2: two epochs without improvement', [1, 0.9, 0.95, 0.96, 0.5], { patience: 2 }, 3, 1],
    ['an improvement restarts the wait', [1, 0.9, 0.95, 0.85, 0.86, 0.87], { patience: 2 }, 5, 3],
    ['minDelta: a smaller gain is no improvement', [1, 0.99, 0.98, 0.5], { patience: 1, minDelta: 0.05 }, 1, 0],
    ['the first epoch never stops training', [1], { patience: 0 }, -1, 0],
    // An improving epoch never stops training; with a baseline never beaten the wait is not reset, so the first epoch that does not improve can stop it.
    ['baseline: waiting restarts only once the best beats it', [1, 0.9, 0.95, 0.8], { patience: 2, baseline: 0.5 }, 2, 1],
    ['the same epochs without a baseline', [1, 0.9, 0.95, 0.8], { patience: 2 }, -1, 3],
    ['startFromEpoch: the first epochs are not watched', [1, 2, 3, 2.5, 2.6], { patience: 0, startFromEpoch: 2 }, 4, 3],
  ] as const)('%s', (_what, values, o, stops, best) => {
    const r = script(o, [...values]);
    expect(r.stopped).toBe(stops);
    expect(r.best).toBe(best);
  });

  it('accuracies are to rise; restoreBestWeights puts back the best epoch whether or not training stopped', () => {
    expect(script({ monitor: 'valAccuracy', patience: 1, restoreBestWeights: true }, [0.5, 0.7, 0.6, 0.65], 'valAccuracy')).toMatchObject({ stopped: 2, best: 1, restored: 1 });
    expect(script({ patience: 5, restoreBestWeights: true }, [1, 0.5, 0.7, 0.8])).toMatchObject({ stopped: -1, best: 1, restored: 1 });
    expect(script({ patience: 5 }, [1, 0.5, 0.7])).toMatchObject({ restored: -1 });
  });

  it('initialValue (the weights training starts from, e.g. a resumed checkpoint, scored it): only an epoch that beats it is best, and restoreBestWeights falls back to the starting weights', () => {
    // The starting weights are those getWeights gives before the first epoch (current = -1).
    expect(script({ patience: 5, restoreBestWeights: true, initialValue: 0.6 }, [1, 0.7, 0.65])).toMatchObject({ stopped: -1, best: -1, restored: -1 });
    expect(script({ patience: 5, restoreBestWeights: true, initialValue: 0.6 }, [1, 0.5, 0.7])).toMatchObject({ stopped: -1, best: 1, restored: 1 });
    // The wait counts from the start (and, as in Keras, the first epoch never stops training): patience 1 stops after the second.
    expect(script({ patience: 1, restoreBestWeights: true, initialValue: 0.6 }, [1, 0.9, 0.5])).toMatchObject({ stopped: 1, best: -1, restored: -1 });
    const es = earlyStopping({ initialValue: 0.6 });
    void es.onTrainBegin!();
    expect(es.best).toBe(0.6);
    expect(() => earlyStopping({ initialValue: NaN })).toThrow(/earlyStopping: initialValue must be a finite number, got null/);
  });

  it('a monitored number training does not report is said once, and nothing stops', () => {
    const r = script({ monitor: 'valLoss', patience: 0 }, [1, 2, 3], 'loss');
    expect(r.stopped).toBe(-1);
    expect(r.warnings).toEqual([expect.stringMatching(/earlyStopping monitors valLoss, which this training does not report \(loss, accuracy it does; pass validationData\)/)]);
  });

  it('bad options are refused by name', () => {
    expect(() => earlyStopping({ patience: -1 })).toThrow(/earlyStopping: patience must be an integer >= 0, got -1/);
    expect(() => earlyStopping({ monitor: 'val_loss' as never })).toThrow(/monitor must be one of loss, accuracy, valLoss, valAccuracy, got "val_loss"/);
  });

  it.each([1, 2])('in fit (%i workers): stops, and the model ends with the bytes it had after its best epoch', async (workers) => {
    const { model } = createPreset('dense-head', { backend: be, seed: 2 });
    const train = mnistSample('train', 256), val = mnistSample('t10k', 64);
    const after: Uint8Array[] = [];
    const es = earlyStopping({ monitor: 'valAccuracy', patience: 2, restoreBestWeights: true });
    const h = await model.fit(train, {
      optimizer: sgd({ learningRate: 0.9, momentum: 0.9 }), epochs: 12, batchSize: 32, seed: 5, workers, validationData: val,
      callbacks: [{ onEpochEnd: () => { after.push(serializeModel(model)); } }, es],
    });
    const accs = h.epochs.map((e) => e.valAccuracy!);
    const bestEpoch = accs.indexOf(Math.max(...accs)); // Keras: the first of equal bests
    expect(es.bestEpoch).toBe(bestEpoch);
    expect(bestEpoch).toBeLessThan(h.epochs.length - 1); // the test means something: the last epoch was not the best
    if (es.stoppedEpoch >= 0) {
      expect(h.epochs.length).toBe(es.stoppedEpoch + 1);
      expect(h.stopped).toBe(true);
    }
    expect(Buffer.from(serializeModel(model)).equals(Buffer.from(after[bestEpoch]))).toBe(true);
    model.dispose();
  }, 60_000);
});

describe('reduceOnPlateau', () => {
  /** The rate after each of the scripted epochs. */
  const rates = (s: ReturnType<typeof reduceOnPlateau>, values: number[]) => {
    const opt = sgd({ learningRate: s });
    return values.map((v) => { epochEnded(opt, { valLoss: v }, () => {}); return opt.learningRate; });
  };

  it('lowers the rate by factor after patience epochs without improvement, then waits out the cooldown', () => {
    // patience 1: epoch 2 does not improve on 0.9 -> 0.05, cooldown 2; epoch 3 counts it down to 1 and waits not;
    // epoch 4 counts it down to 0, then (Keras: the cooldown is over within that epoch) waits -> 0.025; epoch 5 improves.
    expect(rates(reduceOnPlateau(0.1, { factor: 0.5, patience: 1, cooldown: 2 }), [1, 0.9, 0.95, 0.97, 0.98, 0.5])).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
    // cooldown 1 ends within the next epoch: that epoch may lower the rate again.
    expect(rates(reduceOnPlateau(0.1, { factor: 0.5, patience: 1, cooldown: 1 }), [1, 0.9, 0.95, 0.97])).toEqual([0.1, 0.1, 0.05, 0.025]);
    // minLr bounds it; minDelta decides what improves.
    expect(rates(reduceOnPlateau(0.1, { factor: 0.1, patience: 0, minLr: 0.005 }), [1, 1.1, 1.2, 1.3])).toEqual([0.1, 0.010000000000000002, 0.005, 0.005]);
    expect(rates(reduceOnPlateau(0.1, { factor: 0.5, patience: 0, minDelta: 0.2 }), [1, 0.9])).toEqual([0.1, 0.05]);
  });

  it('drives fit, and a checkpoint resumes with the rate it had', async () => {
    const { model } = createPreset('dense-head', { backend: be, seed: 3 });
    const optimizer = sgd({ learningRate: reduceOnPlateau(0.5, { monitor: 'loss', factor: 0.5, patience: 0, minDelta: 10 }), momentum: 0.9 });
    const h = await model.fit(mnistSample('train', 128), { optimizer, epochs: 3, batchSize: 64, seed: 1 });
    // minDelta 10: no epoch after the first improves, so each after it lowers the rate as it ends (an epoch's logs carry the rate it trained with).
    expect(h.epochs.map((e) => e.learningRate)).toEqual([0.5, 0.5, 0.25]);
    expect(optimizer.learningRate).toBe(0.125);
    const back = deserializeModel(serializeModel(model, { optimizer }), { backend: be });
    expect(back.optimizer!.learningRate).toBe(0.125);
    back.model.dispose();
    back.optimizer!.dispose();
    model.dispose();
  });

  it('bad options are refused by name', () => {
    expect(() => reduceOnPlateau(0.1, { factor: 1.5 })).toThrow(/reduceOnPlateau: factor must be a number between 0 and 1, got 1.5/);
    expect(() => reduceOnPlateau(0.1, { monitor: 'lr' as never })).toThrow(/monitor must be one of/);
  });
});
