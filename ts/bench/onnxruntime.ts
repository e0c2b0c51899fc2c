/**
 * onnxruntime as an inference peer: our exported ONNX of the same model on
 * the same digits, in onnxruntime-web (its wasm build, one thread) and
 * onnxruntime-node (native) when they are installed. Training is not theirs.
 */
import { toOnnx } from '../interop/onnx-export.js';
import type { Sequential } from '../model.js';
import type { PeerRunner } from './peers.js';

/** Peers are loaded dynamically and untyped here; nothing of them reaches the public API. */
type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A runner of `model`'s ONNX export on `images` (u8, as float 0..255) with onnxruntime-`which`. */
export async function onnxRunner(which: 'web' | 'node', model: Sequential, images: Uint8Array): Promise<PeerRunner> {
  const name = which === 'web' ? 'onnxruntime-web' : 'onnxruntime-node';
  let ort: Any;
  try {
    ort = await import(name as string);
  } catch (e) {
    throw new Error(`not installed (npm install --save-dev ${name}${which === 'node' ? ' --ignore-scripts' : ''}): ${(e as Error).message.split('\n')[0]}`);
  }
  ort = ort.default ?? ort;
  if (which === 'web') ort.env.wasm.numThreads = 1;
  const options = which === 'node' ? { intraOpNumThreads: 1, interOpNumThreads: 1 } : {};
  const session = await ort.InferenceSession.create(toOnnx(model), options);
  const n = images.length / model.inputSize;
  const input = new ort.Tensor('float32', Float32Array.from(images), [n, ...model.inputShape]);
  return {
    train: async () => { throw new Error('onnxruntime runs inference only'); },
    infer: async () => { await session.run({ pixels: input }); },
    dispose: () => { void session.release(); },
  };
}
