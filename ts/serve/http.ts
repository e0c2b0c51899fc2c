/**
 * `cnn-wasm serve`: a model behind Node's own http server, over a batching
 * Predictor. POST /predict takes a PNG or PGM digit (decoded and centred like
 * `cnn-wasm predict`), raw u8 pixels (application/octet-stream: one or more
 * whole examples, no parsing at all) or JSON {"pixels": [...]} /
 * {"batch": [[...], ...]};
 * GET /health and GET /metrics (Prometheus text). Every bad request gets a 4xx
 * with a one-line JSON error and costs the others nothing: bodies are bounded
 * and read with a deadline, images are size-checked before decoding, and a
 * full queue answers 503.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { decodeRgba, imageFormat } from '../image/decode.js';
import { prepareImage, resizeTarget } from '../image/prepare.js';
import { PredictorClosedError, QueueFullError, type Prediction, type Predictor } from './predictor.js';

/** Options of {@link startServer}. */
export interface ServeOptions {
  port?: number;
  host?: string;
  /** Largest request body, bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Largest image side accepted in a PNG/PGM body (default 1,024: checked before decoding). */
  maxImageSide?: number;
  /** Most examples in one {"batch": ...} request (default 256). */
  maxBatchRequest?: number;
  /** A request must have arrived whole within this, ms (default 10 s; slow-loris clients are cut). */
  requestTimeoutMs?: number;
  /** A connection's request headers must have arrived within this, ms, from its first byte or its previous answer (default 5 s, at most requestTimeoutMs). */
  headersTimeoutMs?: number;
  /** A connection that sends nothing for this long is closed, ms (default 5 s; between keep-alive requests too). */
  idleTimeoutMs?: number;
  /** Most connections open at once; more are closed as they arrive (default 1,024). */
  maxConnections?: number;
  /** close(): longest it waits for requests in flight before closing every connection, ms (default 10 s). */
  shutdownTimeoutMs?: number;
}

/** Routes counted by name in /metrics; every other path is counted as "other" (a bounded set of series). */
const ROUTES = new Set(['/predict', '/health', '/metrics']);

/** A label value escaped as the Prometheus text format requires (backslash, double quote, newline). */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const LATENCY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** A request the client got wrong: its status and one-line reason. */
class BadRequest extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** A request that arrived while the server is shutting down: 503 with Retry-After. */
class ShuttingDown extends Error {}

/** Counters behind /metrics. */
class Metrics {
  requests = new Map<string, number>();
  latency = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  latencySum = 0;
  latencyCount = 0;
  count(route: string, status: number, seconds: number): void {
    const key = `route="${escapeLabel(ROUTES.has(route) ? route : 'other')}",code="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    if (route === '/predict') {
      let i = LATENCY_BUCKETS.findIndex((b) => seconds <= b);
      if (i < 0) i = LATENCY_BUCKETS.length;
      this.latency[i]++;
      this.latencySum += seconds;
      this.latencyCount++;
    }
  }
  text(p: Predictor): string {
    const s = p.stats(), lines: string[] = [];
    lines.push('# HELP cnnwasm_http_requests_total HTTP requests by route and status code.', '# TYPE cnnwasm_http_requests_total counter');
    for (const [k, v] of this.requests) lines.push(`cnnwasm_http_requests_total{${k}} ${v}`);
    const errors = [...this.requests].filter(([k]) => !/code="2/.test(k)).reduce((a, [, v]) => a + v, 0);
    lines.push('# HELP cnnwasm_http_errors_total HTTP requests answered with a 4xx or 5xx.', '# TYPE cnnwasm_http_errors_total counter', `cnnwasm_http_errors_total ${errors}`);
    lines.push('# HELP cnnwasm_predict_duration_seconds Time from a /predict request\'s arrival to its answer.', '# TYPE cnnwasm_predict_duration_seconds histogram');
    let cum = 0;
    LATENCY_BUCKETS.forEach((b, i) => { cum += this.latency[i]; lines.push(`cnnwasm_predict_duration_seconds_bucket{le="${b}"} ${cum}`); });
    cum += this.latency[LATENCY_BUCKETS.length];
    lines.push(`cnnwasm_predict_duration_seconds_bucket{le="+Inf"} ${cum}`, `cnnwasm_predict_duration_seconds_sum ${this.latencySum}`, `cnnwasm_predict_duration_seconds_count ${this.latencyCount}`);
    lines.push('# HELP cnnwasm_batch_size Examples per batch computed.', '# TYPE cnnwasm_batch_size histogram');
    let acc = 0, sum = 0;
    for (const b of [1, 2, 4, 8, 16, 32, 64, 128, 256]) {
      for (const [size, n] of s.batchSizes) if (size <= b && size > b / 2) acc += n;
      lines.push(`cnnwasm_batch_size_bucket{le="${b}"} ${acc}`);
    }
    for (const [size, n] of s.batchSizes) sum += size * n;
    lines.push(`cnnwasm_batch_size_bucket{le="+Inf"} ${s.batches}`, `cnnwasm_batch_size_sum ${sum}`, `cnnwasm_batch_size_count ${s.batches}`);
    lines.push('# HELP cnnwasm_predictions_total Examples predicted.', '# TYPE cnnwasm_predictions_total counter', `cnnwasm_predictions_total ${s.requests}`);
    lines.push('# HELP cnnwasm_queue_length Requests waiting for a batch.', '# TYPE cnnwasm_queue_length gauge', `cnnwasm_queue_length ${s.queueLength}`);
    lines.push('# HELP process_resident_memory_bytes Resident memory.', '# TYPE process_resident_memory_bytes gauge', `process_resident_memory_bytes ${process.memoryUsage().rss}`);
    return `${lines.join('\n')}\n`;
  }
}

/** Reads a body of at most `max` bytes (413 beyond, at once for a declared length). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && (!/^\d+$/.test(declared) || Number(declared) > max)) {
    return Promise.reject(new BadRequest(413, `request body of ${declared} bytes is larger than the limit of ${max}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new BadRequest(413, `request body is larger than the limit of ${max} bytes`));
        req.pause();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('close', () => { if (!req.complete) reject(new BadRequest(400, 'the request was cut off before its body arrived whole')); });
    req.on('error', (e) => reject(new BadRequest(400, `request body could not be read (${e.message})`)));
  });
}

/** A JSON value named for a message without walking it (it may be nested arbitrarily deep). */
function describe(x: unknown): string {
  if (Array.isArray(x)) return 'an array';
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  if (typeof x === 'string') return JSON.stringify(x.length > 20 ? `${x.slice(0, 20)}...` : x);
  return String(x);
}

/** Checks one JSON example: inputSize numbers in 0..255. */
function pixelsFrom(v: unknown, size: number, where: string): Uint8Array {
  if (!Array.isArray(v)) throw new BadRequest(400, `${where} must be an array of ${size} numbers 0..255`);
  if (v.length !== size) throw new BadRequest(400, `${where} has ${v.length} values, the model takes ${size}`);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 255) throw new BadRequest(400, `${where}[${i}] is ${describe(x)}, not a number in 0..255: ${where} is not a valid pixel array`);
    out[i] = Math.round(x);
  }
  return out;
}

/** Starts the server; resolves once it listens. `close()` stops accepting, answers what is queued, and resolves when done. */
export async function startServer(predictor: Predictor, o: ServeOptions = {}): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const maxBody = o.maxBodyBytes ?? 1024 * 1024, maxSide = o.maxImageSide ?? 1024, maxBatchRequest = o.maxBatchRequest ?? 256;
  const size = predictor.model.inputSize;
  const metrics = new Metrics();
  const send = (res: ServerResponse, status: number, body: unknown, type = 'application/json') => {
    const text = type === 'application/json' ? `${JSON.stringify(body)}\n` : String(body);
    if (closing) res.setHeader('connection', 'close');
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  async function predict(req: IncomingMessage): Promise<unknown> {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const isJson = type === 'application/json', isImage = type === 'image/png' || type === 'image/jpeg' || type === 'image/x-portable-graymap' || type === 'application/octet-stream';
    if (!isJson && !isImage) throw new BadRequest(415, `content type '${type || 'none'}' is not accepted (application/json, application/octet-stream, image/png, image/jpeg or image/x-portable-graymap)`);
    const body = await readBody(req, maxBody);
    if (type === 'application/octet-stream' && imageFormat(body) === null) {
      // Raw pixels: whole examples of the model's input, one byte (0..255) per value.
      const shape = predictor.model.inputShape.join('x');
      if (body.length === 0 || body.length % size !== 0) {
        throw new BadRequest(400, `a raw pixel body of ${body.length} bytes is not whole examples of ${size} bytes (${shape} pixels, one byte each), nor a PNG, JPEG or PGM`);
      }
      const k = body.length / size;
      if (k > maxBatchRequest) throw new BadRequest(413, `a raw pixel body of ${k} examples is more than the limit of ${maxBatchRequest}`);
      const px = new Uint8Array(body.buffer, body.byteOffset, body.length);
      if (k === 1) return await predictor.predict(px);
      const predictions: Prediction[] = await Promise.all(Array.from({ length: k }, (_, i) => predictor.predict(px.subarray(i * size, (i + 1) * size))));
      return { predictions };
    }
    if (isImage) {
      // Prepared as the model file says its training prepared pictures, by the code `cnn-wasm predict` uses:
      // a digit model's MNIST centring, any other model's resize (gray, or RGB composited on white).
      let pixels: Uint8Array;
      try {
        const shape = predictor.model.inputShape;
        pixels = prepareImage(decodeRgba(body, 'the image', { maxSide, fitTo: resizeTarget(shape, predictor.fit) }), shape, 'the image', predictor.fit);
      } catch (e) {
        throw new BadRequest(400, (e as Error).message);
      }
      return await predictor.predict(pixels);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new BadRequest(400, `body is not valid JSON (${(e as Error).message})`);
    }
    if (typeof doc !== 'object' || doc === null) throw new BadRequest(400, 'body must be a JSON object with "pixels" or "batch"');
    const d = doc as { pixels?: unknown; batch?: unknown };
    if (d.pixels !== undefined) return await predictor.predict(pixelsFrom(d.pixels, size, 'pixels'));
    if (d.batch !== undefined) {
      if (!Array.isArray(d.batch) || d.batch.length === 0) throw new BadRequest(400, '"batch" must be a non-empty array of examples');
      if (d.batch.length > maxBatchRequest) throw new BadRequest(413, `"batch" holds ${d.batch.length} examples, more than the limit of ${maxBatchRequest}`);
      const all = d.batch.map((x, i) => pixelsFrom(x, size, `batch[${i}]`));
      const predictions: Prediction[] = await Promise.all(all.map((x) => predictor.predict(x)));
      return { predictions };
    }
    throw new BadRequest(400, 'body must have "pixels" (one example) or "batch" (several)');
  }

  const requestTimeout = o.requestTimeoutMs ?? 10_000;
  const headersTimeout = Math.min(o.headersTimeoutMs ?? 5000, requestTimeout), idleTimeout = o.idleTimeoutMs ?? 5000;
  const shutdownTimeout = o.shutdownTimeoutMs ?? 10_000;
  for (const [k, v] of Object.entries({ requestTimeoutMs: requestTimeout, headersTimeoutMs: headersTimeout, idleTimeoutMs: idleTimeout, shutdownTimeoutMs: shutdownTimeout, maxConnections: o.maxConnections ?? 1024 })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`startServer: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  // Requests whose handler runs, by socket: a socket without one is idle or still sending headers, and close() ends it at once.
  const active = new Map<Socket, { req: IncomingMessage; res: ServerResponse }>();
  let closing: Promise<void> | null = null;
  const retryLater = (res: ServerResponse) => {
    res.setHeader('retry-after', '1');
    send(res, 503, { error: 'the server is shutting down; retry the request elsewhere or later' });
  };

  // Timeouts are checked every second (Node's default is every 30 s, which lets a slow client hold a socket that long).
  const server = createServer({ connectionsCheckingInterval: 1000 }, async (req, res) => {
    const t0 = performance.now();
    const route = (req.url ?? '/').split('?')[0];
    const socket = req.socket;
    active.set(socket, { req, res });
    res.once('close', () => { if (active.get(socket)?.res === res) active.delete(socket); });
    let status = 200;
    try {
      if (closing) throw new ShuttingDown();
      if (route === '/predict') {
        if (req.method !== 'POST') throw new BadRequest(405, 'use POST /predict');
        const answer = await predict(req);
        if (!res.headersSent) send(res, 200, answer);
      } else if (route === '/health') {
        const s = predictor.stats();
        send(res, 200, { status: 'ok', requests: s.requests, batches: s.batches, meanBatchSize: +s.meanBatchSize.toFixed(2), queueLength: s.queueLength, rss: process.memoryUsage().rss });
      } else if (route === '/metrics') {
        send(res, 200, metrics.text(predictor), 'text/plain; version=0.0.4');
      } else {
        throw new BadRequest(404, `no route ${route.length > 100 ? `${route.slice(0, 100)}...` : route} (POST /predict, GET /health, GET /metrics)`);
      }
    } catch (e) {
      const shutting = e instanceof ShuttingDown || e instanceof PredictorClosedError;
      status = e instanceof BadRequest ? e.status : e instanceof QueueFullError || shutting ? 503 : 500;
      if (!res.headersSent && socket.writable) {
        if (status >= 400 && status < 500 && !req.complete) res.setHeader('connection', 'close'); // the rest of its body is not read
        if (shutting) retryLater(res);
        else send(res, status, { error: status === 500 ? `internal error: ${(e as Error).message.split('\n')[0]}` : (e as Error).message.split('\n')[0] });
      }
    }
    metrics.count(route, status, (performance.now() - t0) / 1000);
  });
  // Slow clients: headers within headersTimeout, the whole request within requestTimeout, nothing at all for idleTimeout (then the socket is closed).
  // Every open socket (close() ends those with no request being answered).
  const open = new Set<Socket>();
  server.on('connection', (sock: Socket) => {
    open.add(sock);
    sock.once('close', () => open.delete(sock));
  });
  server.headersTimeout = headersTimeout;
  server.requestTimeout = requestTimeout;
  server.keepAliveTimeout = Math.min(5000, idleTimeout);
  server.timeout = idleTimeout;
  server.maxConnections = o.maxConnections ?? 1024;
  // A socket silent for idleTimeout: closed unless a request of it is being computed (its answer is on the way).
  server.on('timeout', (socket: Socket) => {
    const a = active.get(socket);
    if (!a || !a.req.complete) socket.destroy();
  });
  // Requests Node itself refuses (headers too large, malformed, too slow) get the same one-line JSON errors as ours.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, message] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'the request headers are larger than the limit']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, `the request did not arrive within its time limit (headers ${headersTimeout} ms, whole request ${requestTimeout} ms)`]
        : [400, `not a valid HTTP request (${err.code ?? err.message})`];
    const body = `${JSON.stringify({ error: message })}\n`;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`, () => socket.destroy()); // a client still sending is not waited for
    metrics.count('other', status, 0);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8080, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const url = `http://${o.host ?? '127.0.0.1'}:${typeof addr === 'object' && addr ? addr.port : o.port}`;
  return {
    server, url,
    close: () => (closing ??= (async () => {
      const stopped = new Promise<void>((r) => server.close(() => r())); // no new connections
      // Requests whose body is still arriving are told to retry (503); idle and header-sending connections end now.
      for (const { req, res } of active.values()) if (!req.complete && !res.headersSent) { res.setHeader('connection', 'close'); retryLater(res); }
      server.closeIdleConnections();
      for (const socket of open) if (!active.has(socket)) socket.destroy();
      // What is queued is answered, then every connection ends within shutdownTimeout.
      await predictor.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([stopped, new Promise<void>((r) => { timer = setTimeout(r, shutdownTimeout); })]);
      clearTimeout(timer);
      server.closeAllConnections();
    })()),
  };
}
