/**
 * A decoding thread: decodes and fits the chunks of files it is given (see
 * decode-files.ts). It is never terminated from outside: Node aborts the whole
 * process when a thread is terminated inside zlib (a PNG being inflated), so
 * the caller raises the shared stop flag, which the thread reads between files,
 * and then sends 'stop', on which the thread lets go of its port and ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeFile, type DecodeSettings, type Decoded } from './decode-files.js';

const { settings, stop } = workerData as { settings: DecodeSettings; stop: Int32Array };
const port = parentPort!;
const onMessage = (m: { chunk: number; files: string[] } | 'stop') => {
  if (m === 'stop') {
    port.off('message', onMessage); // nothing else keeps the thread alive: it ends
    return;
  }
  const results: Decoded[] = [];
  for (const f of m.files) {
    if (Atomics.load(stop, 0)) return; // the caller no longer wants this chunk
    results.push(decodeFile(f, settings));
  }
  port.postMessage({ chunk: m.chunk, results }, results.flatMap((r) => ('px' in r ? [r.px.buffer as ArrayBuffer] : [])));
};
port.on('message', onMessage);
