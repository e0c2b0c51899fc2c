/**
 * What augmentation costs a training step (`cnn-wasm bench --augment`): the
 * same step with every augmentation on, with whole-pixel moves only, and
 * without any, alternating in interleaved rounds.
 */
import { initBackend } from '../backend/load.js';
import type { Augment } from '../data/augment.js';
import { createPreset } from '../models/presets.js';
import { optimizerFromConfig } from '../optim/optimizer.js';
import { trainStep } from '../train/step.js';
import { benchBatch } from './models.js';
import { interleavedRounds, median } from './timing.js';

/** One row: a kind of augmentation, its step time and its cost over the plain step. */
export interface AugmentRow { name: string; augment: Augment | null; msPerStep: number; cost: number | null; costRange: [number, number] | null }

/** Every augmentation `--augment` offers, at the sizes README's example uses. */
export const ALL_AUGMENTATIONS: Augment = { shift: 2, flip: true, rotate: 10, scale: 0.1, brightness: 0.2, contrast: 0.2 };

export async function benchAugment(o: { model: string; rounds: number; batch?: number }): Promise<AugmentRow[]> {
  const be = await initBackend({ backend: 'simd' });
  const batch = o.batch ?? 128, b = benchBatch(batch);
  const data = { images: b.images, labels: b.labels, count: batch };
  const kinds: [string, Augment | null][] = [['none', null], ['shift, flip (whole-pixel moves)', { shift: 2, flip: true }], ['all six (+ rotate, scale, brightness, contrast)', ALL_AUGMENTATIONS]];
  const disposers: (() => void)[] = [];
  const contenders = kinds.map(([, augment]) => {
    const { model, recipe } = createPreset(o.model, { backend: be, seed: 1 });
    const opt = optimizerFromConfig(recipe.optimizer);
    disposers.push(() => { model.dispose(); opt.dispose(); });
    let step = 0;
    return () => trainStep(model.net, data, null, 0, batch, opt, step++, augment ?? undefined);
  });
  try {
    const times = interleavedRounds(contenders, { rounds: o.rounds, minMs: 300 });
    return kinds.map(([name, augment], k) => {
      const ratios = times[k].map((t, r) => t / times[0][r] - 1);
      return { name, augment, msPerStep: median(times[k]) * 1000, cost: k ? median(ratios) : null, costRange: k ? [Math.min(...ratios), Math.max(...ratios)] : null };
    });
  } finally {
    for (const d of disposers) d();
  }
}
