// A consumer's app, as README's "Use it in a web app" shows it.
import { initBackend, createPreset, loadMnistSample, optimizerFromConfig } from 'cnn-wasm';

const out = document.getElementById('out');
try {
  const backend = await initBackend();                       // no arguments: the package's own kernels
  const { train, test } = await loadMnistSample();            // the bundled sample, fetched
  const { model, recipe } = createPreset('lenet5-bn', { backend, seed: 1 });
  const workers = crossOriginIsolated ? 2 : 1;
  const history = await model.fit(train, {
    optimizer: optimizerFromConfig(recipe.optimizer), batchSize: 128, maxSteps: 20, workers,
    createWorker: (kind) => kind === 'worker'
      ? new Worker(new URL('cnn-wasm/parallel/worker.js', import.meta.url), { type: 'module' })
      : new Worker(new URL('cnn-wasm/parallel/infer-worker.js', import.meta.url), { type: 'module' }),
  });
  const probs = model.predict(test.images.subarray(0, 784 * 100));
  const acc = model.evaluate({ images: test.images.subarray(0, 784 * 100), labels: Array.from(test.labels).slice(0, 100), count: 100 }).accuracy;
  out.textContent = `ok backend=${backend.name} workers=${workers} steps=${history.steps} probs=${probs.length} accuracy=${acc}`;
  document.body.dataset.done = 'ok';
} catch (e) {
  out.textContent = `error ${e.message}`;
  document.body.dataset.done = 'error';
}
