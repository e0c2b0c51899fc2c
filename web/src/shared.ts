/**
 * Code the page's worker and the Node side of the e2e test both run, so a
 * weights hash computed in Chromium and in Node comes from the same steps.
 */
import { createPreset, serializeModel, type Backend, type CreateWorker, type Dataset } from '../../ts/index.js';
import { optimizerFromConfig } from '../../ts/optim/optimizer.js';

/** SHA-256 (hex) of the model file after `steps` training steps of `model` from `seed` (on `workers` workers: the same bits). */
export async function weightsHash(
  backend: Backend, model: string, train: Dataset, seed: number, steps: number, o: { workers?: number; createWorker?: CreateWorker } = {},
): Promise<string> {
  const { model: m, recipe } = createPreset(model, { backend, seed });
  await m.fit(train, { optimizer: optimizerFromConfig(recipe.optimizer), epochs: 1, batchSize: recipe.batchSize, seed, maxSteps: steps, ...o });
  const bytes = serializeModel(m);
  m.dispose();
  const digest = await crypto.subtle.digest('SHA-256', new Uint8Array(bytes));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
