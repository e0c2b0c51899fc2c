/**
 * The same networks in peer libraries, for side-by-side benchmarks: TensorFlow.js
 * (cpu and wasm backends) and ConvNetJS. Peers are devDependencies, imported only
 * here; a missing peer is reported, not fatal. Layers are translated from our
 * layer configs, so every system runs the same architecture.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

type LayerConfig = Record<string, unknown>;
/** A trainable/inferable network of a peer, on one fixed random batch. */
export interface PeerRunner {
  train(): Promise<void>;
  infer(): Promise<void>;
  dispose(): void;
  /** Milliseconds its threads keep a core busy after a call returns (spin-waiting for the next); the benches pause this long, untimed, before timing anyone else. */
  settleMs?: number;
}

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number]);

/** Peers are loaded dynamically and untyped here; nothing of them reaches the public API. */
type Any = any;

let tfPromise: Promise<Any> | null = null;
/** Loads @tensorflow/tfjs (cpu backend) and registers the wasm backend (1 thread, SIMD). */
export async function loadTf(): Promise<Any> {
  tfPromise ??= (async () => {
    // tfjs greets Node users on stdout at import; keep stdout for our results.
    const log = console.log, warn = console.warn;
    console.log = console.warn = () => {};
    let tf: Any;
    try {
      tf = await import('@tensorflow/tfjs' as string);
    } finally {
      console.log = log;
      console.warn = warn;
    }
    const wasm = await import('@tensorflow/tfjs-backend-wasm' as string);
    const require = createRequire(import.meta.url);
    const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    wasm.setWasmPaths(`${dir}/dist/`);
    wasm.setThreadsCount?.(1);
    return tf;
  })();
  return tfPromise;
}

/** Builds the tfjs model (NHWC) for our layer configs on `backend` ('cpu' | 'wasm'). */
/** The bench batch: u8 digits, labels, and the normalised pixels. */
export interface BenchBatch { images: Uint8Array; labels: Uint8Array; pixels: Float32Array }

export async function tfRunner(backend: 'cpu' | 'wasm', layers: LayerConfig[], data: BenchBatch): Promise<PeerRunner> {
  const batch = data.labels.length;
  const tf = await loadTf();
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend '${backend}' failed to initialise`);
  await tf.ready();
  const L = tf.layers;
  const out: Any[] = [];
  layers.forEach((c, i) => {
    const first = i === 0 ? { inputShape: [28, 28, 1] } : {};
    switch (c.kind) {
      case 'zeroPadding2d': out.push(L.zeroPadding2d({ padding: c.padding, ...first })); break;
      case 'conv2d': out.push(L.conv2d({ filters: c.filters, kernelSize: pair(c.kernelSize), strides: pair(c.strides), padding: c.padding === 'same' ? 'same' : 'valid', activation: c.activation === 'relu' ? 'relu' : 'linear', ...first })); break;
      case 'batchNormalization': out.push(L.batchNormalization({ momentum: 1 - (c.momentum as number), epsilon: c.epsilon as number })); break;
      case 'relu': out.push(L.activation({ activation: 'relu' })); break;
      case 'maxPooling2d': out.push(L.maxPooling2d({ poolSize: pair(c.poolSize), strides: pair(c.strides) })); break;
      case 'averagePooling2d': out.push(L.averagePooling2d({ poolSize: pair(c.poolSize), strides: pair(c.strides) })); break;
      case 'flatten': out.push(L.flatten()); break;
      case 'dropout': out.push(L.dropout({ rate: c.rate })); break;
      case 'dense': out.push(L.dense({ units: c.units, activation: i === layers.length - 1 ? 'softmax' : c.activation === 'relu' ? 'relu' : 'linear' })); break;
      default: throw new Error(`no tfjs translation for layer kind ${String(c.kind)}`);
    }
  });
  const model = tf.sequential({ layers: out });
  model.compile({ optimizer: tf.train.momentum(0.01, 0.9), loss: 'sparseCategoricalCrossentropy' });
  const x = tf.tensor4d(data.pixels, [batch, 28, 28, 1]); // one channel: NCHW and NHWC coincide
  const y = tf.tensor1d(Array.from(data.labels), 'float32');
  return {
    train: async () => {
      await tf.setBackend(backend);
      await model.trainOnBatch(x, y);
    },
    infer: async () => {
      await tf.setBackend(backend);
      const p = model.predict(x);
      await p.data();
      p.dispose();
    },
    dispose: () => { model.dispose(); x.dispose(); y.dispose(); },
  };
}

/** Builds the ConvNetJS net for our layer configs (throws for layers it lacks, e.g. batch norm). */
export async function convnetjsRunner(layers: LayerConfig[], data: BenchBatch): Promise<PeerRunner> {
  const batch = data.labels.length;
  const require = createRequire(import.meta.url);
  const convnetjs: Any = require('convnetjs');
  if (layers.some((c) => c.kind === 'batchNormalization')) throw new Error('ConvNetJS has no batch normalisation layer');
  const defs: Any[] = [{ type: 'input', out_sx: 28, out_sy: 28, out_depth: 1 }];
  let pad = 0;
  for (let i = 0; i < layers.length; i++) {
    const c = layers[i];
    const last = defs[defs.length - 1];
    switch (c.kind) {
      case 'zeroPadding2d': {
        const p = c.padding as number[][];
        if (p[0][0] !== p[0][1] || p[0][0] !== p[1][0] || p[1][0] !== p[1][1] || c.value) throw new Error('ConvNetJS pads convolutions only symmetrically with zeros');
        pad = p[0][0];
        break;
      }
      case 'conv2d': {
        const [kh, kw] = pair(c.kernelSize);
        if (kh !== kw) throw new Error('ConvNetJS has square kernels only');
        defs.push({ type: 'conv', sx: kh, filters: c.filters, stride: pair(c.strides)[0], pad: c.padding === 'same' ? (kh - 1) >> 1 : pad, ...(c.activation === 'relu' ? { activation: 'relu' } : {}) });
        pad = 0;
        break;
      }
      case 'relu': last.activation = 'relu'; if (last.type === 'pool') defs.push({ type: 'relu' }); break;
      case 'maxPooling2d': defs.push({ type: 'pool', sx: pair(c.poolSize)[0], stride: pair(c.strides)[0] }); break;
      case 'flatten': break;
      case 'dropout': if (last.type === 'fc') last.drop_prob = c.rate; else throw new Error('ConvNetJS has dropout only on fc layers'); break;
      case 'dense':
        if (i === layers.length - 1) defs.push({ type: 'softmax', num_classes: c.units });
        else defs.push({ type: 'fc', num_neurons: c.units, ...(c.activation === 'relu' ? { activation: 'relu' } : {}) });
        break;
      case 'batchNormalization': throw new Error('ConvNetJS has no batch normalisation layer');
      default: throw new Error(`ConvNetJS has no ${String(c.kind)} layer`);
    }
  }
  const net = new convnetjs.Net();
  net.makeLayers(defs);
  const trainer = new convnetjs.SGDTrainer(net, { method: 'sgd', learning_rate: 0.01, momentum: 0.9, batch_size: batch, l2_decay: 0 });
  const vols = Array.from({ length: batch }, (_, i) => {
    const v = new convnetjs.Vol(28, 28, 1, 0.0);
    for (let j = 0; j < 784; j++) v.w[j] = data.pixels[i * 784 + j];
    return v;
  });
  return {
    train: async () => { vols.forEach((v, i) => trainer.train(v, data.labels[i])); },
    infer: async () => { vols.forEach((v) => net.forward(v, false)); },
    dispose: () => {},
  };
}
