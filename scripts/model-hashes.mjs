// The sha256 of model files' tensors and optimiser state after training, for each build, preset and worker
// count: `node scripts/model-hashes.mjs > before.txt`, change the code, run it
// again and diff. A change that must not move bits leaves every line as it was.
// The relaxed build is included where the engine runs it (Node 22+, or Node 20
// with --experimental-wasm-relaxed-simd).
import { createHash } from 'node:crypto';
import { initBackend, relaxedSupported } from '../dist/backend/load.js';
import { createPreset } from '../dist/models/presets.js';
import { optimizerFromConfig } from '../dist/optim/optimizer.js';
import { serializeModel } from '../dist/model-file.js';
import { readModelHeader } from '../dist/io/modelfile.js';
import { readSplit, sampleDir } from '../dist/data/sample.js';

const s = readSplit(sampleDir(), 'train');
const data = { images: s.images.subarray(0, 640 * 784), labels: s.labels.subarray(0, 640), count: 640 };
for (const build of [...(relaxedSupported() ? ['relaxed'] : []), 'simd', 'scalar']) {
  const be = await initBackend({ backend: build });
  for (const preset of ['lenet5-bn', 'deep4', 'dense-head']) {
    for (const workers of [1, 2, 3]) {
      const { model, recipe } = createPreset(preset, { backend: be, seed: 1 });
      const optimizer = optimizerFromConfig(recipe.optimizer);
      const h = await model.fit(data, { optimizer, epochs: 2, batchSize: 128, workers, seed: 1 });
      // The tensors and the optimiser state (the file's data section): the header also names the build.
      const file = serializeModel(model, { optimizer }), bytes = file.subarray(readModelHeader(file).dataStart);
      const probs = model.predict(data.images.subarray(0, 100 * 784));
      console.log(`${build} ${preset} workers=${workers} model=${createHash('sha256').update(bytes).digest('hex').slice(0, 16)} predict=${createHash('sha256').update(new Uint8Array(probs.buffer)).digest('hex').slice(0, 16)} loss=${h.epochs.at(-1).loss}`);
      optimizer.dispose?.();
      model.dispose();
    }
  }
}
