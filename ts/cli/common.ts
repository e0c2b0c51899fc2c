/** Shared CLI plumbing: data set loading with download progress, output streams, model resolution. */
import cliProgress from 'cli-progress';
import { DatasetNameError, loadDataset, type DatasetSplits } from '../data/datasets.js';
import { IdxError } from '../data/idx.js';
import type { ImageFolderOptions } from '../data/folder.js';
import type { Dataset } from '../model.js';
import { UsageError, parseBackend } from './options.js';
import { initBackend } from '../backend/load.js';
import { ModelFileError } from '../io/modelfile.js';
import { loadModel } from '../model-file-node.js';
import { DEFAULT_MAX_MODEL_BYTES } from '../model-file.js';
import { MAGIC } from '../io/modelfile.js';
import { imageFormat } from '../image/decode.js';
import { decodeModel } from '../interop/onnx-proto.js';
import { readFileCapped } from '../io/files.js';
import { parseArchitecture, type Architecture } from '../models/architecture.js';
import type { Sequential } from '../model.js';

/** Where human-readable messages go: stderr when stdout carries JSON. */
export interface Out {
  info(msg: string): void;
  json: boolean;
}

export function makeOut(json: boolean): Out {
  return { json, info: (m) => (json ? process.stderr.write(`${m}\n`) : console.log(m)) };
}

/** A file or data problem: exit code 1 with a message naming the path. */
export class FileProblem extends Error {}

/** Loads a data set for the CLI, showing a bar for downloads and one line for a fallback. */
export async function cliDataset(spec: string, out: Out, o: { splits?: 'both' | 'test'; folder?: ImageFolderOptions } = {}): Promise<DatasetSplits> {
  let bar: cliProgress.SingleBar | null = null;
  const showBars = process.stderr.isTTY && !out.json;
  try {
    let barFile = '';
    const d = await loadDataset(spec, {
      splits: o.splits,
      folder: o.folder,
      onDownloadStart: (file) => {
        bar?.stop();
        bar = null;
        barFile = file;
        if (!showBars) process.stderr.write(`downloading ${file}\n`);
      },
      // The bar appears with the first byte: an offline run shows none at 0%.
      onDownload: (_f, received, total) => {
        if (!showBars) return;
        if (!bar) {
          bar = new cliProgress.SingleBar({ format: `downloading ${barFile} |{bar}| {percentage}% {value}/{total} bytes`, stream: process.stderr }, cliProgress.Presets.shades_classic);
          bar.start(Math.max(total ?? received, 1), 0);
        }
        bar.setTotal(total ?? Math.max(received, 1));
        bar.update(received);
      },
    });
    (bar as cliProgress.SingleBar | null)?.stop();
    if (d.fallbackReason) {
      process.stderr.write(`MNIST could not be downloaded (${shortReason(d.fallbackReason)}); training on the bundled sample of 10,000 real MNIST digits instead\n`);
    }
    return d;
  } catch (e) {
    (bar as cliProgress.SingleBar | null)?.stop();
    if (e instanceof DatasetNameError) throw new UsageError(e.message);
    if (e instanceof IdxError) throw new FileProblem(e.message);
    if (/^(\/|\.|[A-Za-z]:).*: /.test((e as Error).message) || /^loadImageFolder: /.test((e as Error).message)) throw new FileProblem((e as Error).message);
    throw e;
  }
}

/** The distinct causes of a DownloadError's message ("could not download f: url: why; url: why"), without the URLs. */
export function shortReason(message: string): string {
  const list = message.replace(/^could not download [^:]+: /, '').split('; ');
  const whys = [...new Set(list.map((m) => m.replace(/^\S+: /, '')))];
  const text = whys.join(', ');
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** A split as a model Dataset. */
export function asDataset(s: { images: Uint8Array; labels: Uint8Array | Uint16Array; count: number }, from = 0, count = s.count - from): Dataset {
  const size = s.images.length / s.count;
  return { images: s.images.subarray(from * size, (from + count) * size), labels: s.labels.subarray(from, from + count), count };
}

/** Checks the images are 28x28 (what every preset expects). */
export function checkImageSize(d: DatasetSplits): void {
  for (const [split, s] of [['train', d.train], ['test', d.test]] as const) {
    if (s.rows !== 28 || s.cols !== 28) throw new FileProblem(`${d.source}: ${split} images are ${s.rows}x${s.cols}; the models expect 28x28`);
  }
}

/** Loads a model file for a command; file problems become exit code 1, with a hint when the file is another kind (ONNX, an image). */
export async function openModel(path: string, backend: string): Promise<{ model: Sequential; metadata: Record<string, unknown> }> {
  const be = await initBackend({ backend: parseBackend(backend) });
  try {
    const { model, optimizer, metadata } = loadModel(path, { backend: be });
    optimizer?.dispose();
    return { model, metadata };
  } catch (e) {
    if (e instanceof ModelFileError) throw new FileProblem(`${e.message}${notAModelHint(path)}`);
    throw e;
  }
}

/**
 * What a file that is not a cnn-wasm model looks like, as a hint to append
 * to the error ('' when it looks like nothing known): an ONNX file is
 * pointed at `cnn-wasm import`, an image at argument order.
 */
export function notAModelHint(path: string): string {
  let bytes: Uint8Array;
  try {
    bytes = readFileCapped(path, 'a model file', DEFAULT_MAX_MODEL_BYTES);
  } catch {
    return '';
  }
  if (bytes.length >= 8 && new TextDecoder().decode(bytes.subarray(0, 8)) === MAGIC) return '';
  if (imageFormat(bytes) !== null) return `; it is a ${imageFormat(bytes)!.toUpperCase()} image, not a model (the model comes first: cnn-wasm predict <model> <image>)`;
  try {
    if (decodeModel(bytes).graph?.node?.length) return `; it looks like an ONNX file: convert it with cnn-wasm import ${path} (which writes ${path.replace(/\.onnx$/, '')}.cnnw)`;
  } catch { /* not ONNX either */ }
  return '';
}

/** The data sets a model file says it was trained on and the one given are different kinds (MNIST digits vs Fashion-MNIST, ...). */
export function otherDataset(trainedOn: unknown, evaluatedOn: string): boolean {
  if (typeof trainedOn !== 'string') return false;
  const family = (n: string) => (n === 'mnist-sample' ? 'mnist' : n.replace(/\/+$/, ''));
  return family(trainedOn) !== family(evaluatedOn);
}

/** Largest architecture file read (a few layers' JSON is far smaller). */
const MAX_ARCHITECTURE_BYTES = 2 ** 20;

/** Reads and checks `--model file.json`; problems are FileProblems naming the file. */
export function readArchitectureFile(path: string): Architecture {
  let text: string;
  try {
    text = new TextDecoder().decode(readFileCapped(path, 'an architecture (JSON) file', MAX_ARCHITECTURE_BYTES));
  } catch (e) {
    throw new FileProblem((e as Error).message);
  }
  try {
    return parseArchitecture(text, path);
  } catch (e) {
    throw new FileProblem((e as Error).message);
  }
}
