/**
 * The worker's side of "train on your own images": the chosen folder's files
 * become a data set (loadPictures, prepared as the CLI prepares an image
 * folder), a preset shaped to them trains on it, the hold-out's confusion
 * matrix goes back to the page, and the model is saved to and loaded from
 * IndexedDB (indexeddb://name) with its class names.
 */
import {
  adam, createPreset, earlyStopping, fitOf, loadModel, loadPictures, optimizerFromConfig, pixelsOf, prepareImage, resizeTarget, serializeModel,
  type Backend, type CreateWorker, type Fit, type ImageFolder, type Sequential,
} from '../../ts/index.js';
import type { FromWorker, ToWorker } from './protocol.js';

type Post = (m: FromWorker, transfer?: Transferable[]) => void;
type OwnMessage = Extract<ToWorker, { type: `own-${string}` }>;

let pictures: ImageFolder | null = null;
/** How the chosen pictures were fitted (recorded in the model, and repeated for a picture to classify). */
let picturesFit: Fit = 'resize';
let model: Sequential | null = null;
let meta: { classNames: string[]; fit: Fit; preset: string } | null = null;

async function sha256(parts: Uint8Array[]): Promise<string> {
  const all = new Uint8Array(parts.reduce((t, p) => t + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  const d = await crypto.subtle.digest('SHA-256', all);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Handles an own-images message; errors go back as own-error. */
export async function handleOwn(msg: OwnMessage, backend: Backend, createWorker: CreateWorker, post: Post): Promise<void> {
  try {
    switch (msg.type) {
      case 'own-pictures': {
        pictures = await loadPictures(msg.files, { imageSize: msg.imageSize, fit: msg.fit, valSize: msg.files.some((f) => /(^|\/)test\//.test(f.path)) ? 0 : msg.valSize });
        picturesFit = msg.fit;
        const held = pictures.test ?? pictures.val!;
        post({
          type: 'own-pictures', classNames: pictures.classNames, shape: pictures.shape, train: pictures.train.count, heldOut: held.count,
          heldOutKind: pictures.test ? 'test folder' : 'hold-out', skipped: pictures.skipped.slice(0, 20),
          pixelsHash: await sha256([pictures.train.images, Uint8Array.from(pictures.train.labels)]),
        });
        break;
      }
      case 'own-train': {
        if (!pictures) throw new Error('choose a folder of pictures first');
        const data = pictures, held = data.test ?? data.val!;
        const p = createPreset(msg.model, { backend, seed: 1, inputShape: data.shape, classes: data.classNames.length });
        p.model.setNormalization(data.normalization);
        model?.dispose();
        model = p.model;
        meta = { classNames: data.classNames, fit: picturesFit, preset: msg.model };
        let last = 0;
        // A few hundred pictures, not MNIST's 60,000: Adam at a small rate in batches of 16 trains them steadily
        // (the presets' SGD recipes are tuned for the large sets), and the best epoch's weights are kept.
        const h = await model.fit(data.train, {
          optimizer: adam({ learningRate: msg.lr }), epochs: msg.epochs, batchSize: 16, seed: 1, validationData: held, workers: msg.workers, createWorker,
          callbacks: [earlyStopping({ monitor: 'valLoss', patience: 5, restoreBestWeights: true }), {
            onBatchEnd: (b) => {
              const now = performance.now();
              if (now - last > 100 || b.batch === b.batches - 1) {
                last = now;
                post({ type: 'own-progress', epoch: b.epoch, epochs: msg.epochs, batch: b.batch, batches: b.batches, loss: b.loss });
              }
            },
          }],
        });
        const k = data.classNames.length, guess = model.predictClass(held.images), confusion = new Array<number>(k * k).fill(0);
        let right = 0;
        for (let i = 0; i < held.count; i++) {
          confusion[held.labels[i] * k + guess[i]]++;
          if (guess[i] === held.labels[i]) right++;
        }
        post({ type: 'own-done', classNames: data.classNames, confusion, accuracy: right / held.count, epochs: h.epochs.length, stopped: h.stopped });
        break;
      }
      case 'own-save': {
        if (!model || !meta) throw new Error('train or load a model first');
        const url = `indexeddb://${msg.name}`;
        await model.save(url, { metadata: { ...meta, dataset: 'pictures chosen in the browser', savedBy: 'web demo' } });
        post({ type: 'own-saved', url, bytes: serializeModel(model).length });
        break;
      }
      case 'own-load': {
        const url = `indexeddb://${msg.name}`;
        const loaded = await loadModel(url, { backend });
        loaded.optimizer?.dispose();
        const names = loaded.metadata.classNames;
        if (!Array.isArray(names) || names.length !== loaded.model.classes) {
          loaded.model.dispose();
          throw new Error(`${url}: the model has no class names (saved by another program?)`);
        }
        model?.dispose();
        model = loaded.model;
        meta = { classNames: names as string[], fit: fitOf(loaded.metadata.fit) ?? 'resize', preset: String(loaded.metadata.preset ?? '') };
        post({ type: 'own-loaded', url, classNames: meta.classNames, shape: [...model.inputShape], summary: model.summary() });
        break;
      }
      case 'own-classify': {
        if (!model || !meta) throw new Error('train or load a model first');
        // Decoded as training decoded it (a large JPEG at 1/8 scale), then fitted as training fitted it.
        const img = await pixelsOf(msg.file, msg.name, undefined, resizeTarget(model.inputShape, meta.fit));
        const probs = model.predict(prepareImage(img, model.inputShape, msg.name, meta.fit));
        post({ type: 'own-prediction', name: msg.name, classNames: meta.classNames, probs });
        break;
      }
      case 'own-bytes': {
        if (!model || !meta) throw new Error('train or load a model first');
        const bytes = serializeModel(model, { metadata: { ...meta, dataset: 'pictures chosen in the browser', savedBy: 'web demo' } });
        post({ type: 'own-bytes', bytes }, [bytes.buffer]);
        break;
      }
    }
  } catch (e) {
    post({ type: 'own-error', message: (e as Error).message });
  }
}
