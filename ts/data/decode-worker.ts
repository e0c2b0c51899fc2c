/** A decoding thread: decodes and fits the chunks of files it is given (see decode-files.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeFile, type DecodeSettings } from './decode-files.js';

const s = workerData as DecodeSettings;
parentPort!.on('message', (m: { chunk: number; files: string[] }) => {
  const results = m.files.map((f) => decodeFile(f, s));
  parentPort!.postMessage({ chunk: m.chunk, results }, results.flatMap((r) => ('px' in r ? [r.px.buffer as ArrayBuffer] : [])));
});
