/** `cnn-wasm serve <model>`: the model behind an HTTP server with a batching predictor (see serve/http.ts). */
import type { Command } from 'commander';
import { availableCores } from '../parallel/group.js';
import { createPredictor } from '../serve/predictor.js';
import { startServer } from '../serve/http.js';
import { FileProblem, notAModelHint } from './common.js';
import { parseBackend, parseWorkersFlag, parseIntFlag, parseNumberFlag } from './options.js';

interface ServeFlags { port: string; host: string; workers: string; maxBatch: string; maxDelayMs: string; maxQueue: string; maxBodyBytes: string; maxConnections: string; backend: string }

export function register(program: Command): void {
  program
    .command('serve <model>')
    .description('serve a model over HTTP: POST /predict (PNG/JPEG/PGM prepared as its training prepared pictures, raw u8 pixels or JSON), GET /health, GET /metrics')
    .option('--port <n>', 'port to listen on (0: any free one)', '8080')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--workers <n>', 'worker threads computing the batches: a number or auto', '1')
    .option('--max-batch <n>', 'most requests in one batch', '64')
    .option('--max-delay-ms <x>', 'longest a request waits for its batch to fill', '2')
    .option('--max-queue <n>', 'most requests waiting; more get 503', '4096')
    .option('--max-body-bytes <n>', 'largest request body', String(1024 * 1024))
    .option('--max-connections <n>', 'most connections open at once; more are closed as they arrive', '1024')
    .option('--backend <name>', 'auto (relaxed, else simd, else scalar: what the engine runs) | relaxed | simd | scalar', 'auto')
    .action(async (path: string, f: ServeFlags) => {
      const port = parseIntFlag('--port', f.port, 0, 65535);
      const workers = await parseWorkersFlag(f.workers);
      const maxBatch = parseIntFlag('--max-batch', f.maxBatch, 1, 4096);
      const maxDelayMs = parseNumberFlag('--max-delay-ms', f.maxDelayMs, 0, 10_000);
      const maxQueue = parseIntFlag('--max-queue', f.maxQueue, 1, 1_000_000);
      const maxBodyBytes = parseIntFlag('--max-body-bytes', f.maxBodyBytes, 1024, 1 << 30);
      const maxConnections = parseIntFlag('--max-connections', f.maxConnections, 1, 1_000_000);
      const backend = parseBackend(f.backend);
      const cores = await availableCores();
      if (workers > cores) process.stderr.write(`warning: ${workers} workers on ${cores} cores: they take turns on the cores with each other and the HTTP server, so batches are likely slower than with ${cores}\n`);
      let predictor;
      try {
        predictor = await createPredictor(path, { workers, maxBatch, maxDelayMs, maxQueue, backend });
      } catch (e) {
        throw new FileProblem(`${(e as Error).message}${notAModelHint(path)}`);
      }
      let srv;
      try {
        srv = await startServer(predictor, { port, host: f.host, maxBodyBytes, maxConnections });
      } catch (e) {
        await predictor.close(); // its worker threads would keep the process alive
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new FileProblem(`port ${port} on ${f.host} is in use by another program: choose another with --port (0 picks a free one)`);
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new FileProblem(`--host ${f.host} is not an address of this machine`);
        if (code === 'EACCES') throw new FileProblem(`port ${port} needs privileges this process does not have: choose one above 1023`);
        throw new FileProblem(`cannot listen on ${f.host}:${port} (${(e as Error).message})`);
      }
      console.log(`serving ${path} at ${srv.url} (${workers} worker${workers > 1 ? 's' : ''}, batches of up to ${maxBatch}, ${maxDelayMs} ms to fill): POST /predict, GET /health, GET /metrics`);
      // SIGTERM/SIGINT: stop accepting, end idle and half-sent connections, answer what is queued
      // (requests whose body is still arriving get 503), exit 0 within the shutdown bound (10 s).
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          process.stderr.write(`${sig}: finishing queued requests, then stopping\n`);
          void srv.close().then(resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      console.log('stopped');
    });
}
