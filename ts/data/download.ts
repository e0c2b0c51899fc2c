/**
 * Verified downloads: stream from the first mirror that works, hash while
 * writing to a temporary file in the destination directory, and rename into
 * place only when the SHA-256 matches. A cut connection, a stalled server or a
 * wrong checksum moves on to the next mirror; nothing unverified is ever left
 * under the final name.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { removeStaleTempsIn, tempPathFor, trackTemp } from '../io/tempfiles.js';

/** A file to fetch and how to verify it. */
export interface RemoteFile {
  /** File name, appended to each mirror's base URL. */
  name: string;
  sha256: string;
  /** 'download': hash of the bytes as served; 'content': hash after gunzip (mirrors may recompress). */
  hashOf: 'download' | 'content';
  /** The most bytes the file can be as served (default 64 MiB); a larger body is refused. */
  maxBytes?: number;
  /** With hashOf 'content': the most bytes it may inflate to (default 256 MiB). */
  maxInflatedBytes?: number;
}

export interface DownloadOptions {
  /** Called as bytes arrive (total is null when the server sends no length). */
  onProgress?(received: number, total: number | null): void;
  /** Abort a mirror when no byte arrives for this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Abort a mirror when the whole file has not arrived after this long (default 10 min). */
  deadlineMs?: number;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_INFLATED = 256 * 1024 * 1024;

/** What a network error means, in words (undici and libuv codes). */
const ERROR_WORDS: Record<string, string> = {
  UND_ERR_SOCKET: 'connection closed by the server',
  ECONNRESET: 'connection reset by the server',
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found (no network or DNS)',
  EAI_AGAIN: 'host name lookup failed (no network or DNS)',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'the server sent no response headers in time',
  CERT_HAS_EXPIRED: 'the server\'s TLS certificate has expired',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server\'s TLS certificate cannot be verified',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server\'s TLS certificate is self-signed',
};

/** The error of a failed fetch in words: a known code's meaning, else the deepest message. */
export function describeNetworkError(e: unknown): string {
  let err = e as (Error & { code?: string; cause?: unknown }) | undefined;
  for (let depth = 0; err && depth < 4; depth++) {
    if (err.code && ERROR_WORDS[err.code]) return ERROR_WORDS[err.code];
    if (!err.cause) break;
    err = err.cause as Error & { code?: string; cause?: unknown };
  }
  const m = err?.message ?? String(e);
  return m === 'fetch failed' ? 'the request failed' : m;
}

/** A download failed on every mirror; `message` lists each mirror's error. */
export class DownloadError extends Error {}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function fetchOne(url: string, file: RemoteFile, dest: string, o: DownloadOptions): Promise<void> {
  const ctrl = new AbortController();
  const idle = o.idleTimeoutMs ?? 30_000, deadline = o.deadlineMs ?? 600_000;
  const maxBytes = file.maxBytes ?? DEFAULT_MAX_BYTES;
  const abort = (why: string) => ctrl.abort(new Error(why));
  let timer = setTimeout(() => abort(`no data for ${idle} ms`), idle);
  const whole = setTimeout(() => abort(`the whole file did not arrive within ${Math.round(deadline / 1000)} s`), deadline);
  const kick = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort(`no data for ${idle} ms`), idle);
  };
  const tmp = tempPathFor(dest, 'part');
  const untrack = trackTemp(tmp);
  try {
    const res = await fetch(url, { signal: ctrl.signal });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    const lenHeader = res.headers.get('content-length');
    const total = lenHeader !== null && /^\d+$/.test(lenHeader) ? Number(lenHeader) : null;
    if (total !== null && total > maxBytes) throw new Error(`the server offers ${total} bytes, more than ${file.name} can be (${maxBytes})`);
    const hash = createHash('sha256');
    const chunks: Uint8Array[] = [];
    const out = createWriteStream(tmp);
    let received = 0;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        kick();
        received += chunk.length;
        if (received > maxBytes) throw new Error(`more than ${maxBytes} bytes arrived, more than ${file.name} can be`);
        hash.update(chunk);
        if (file.hashOf === 'content') chunks.push(chunk);
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        o.onProgress?.(received, total);
      }
    } finally {
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    }
    if (total !== null && received !== total) throw new Error(`connection closed by the server after ${received} of ${total} bytes`);
    let digest = hash.digest('hex');
    if (file.hashOf === 'content') digest = sha256(gunzipBounded(Buffer.concat(chunks), file.maxInflatedBytes ?? DEFAULT_MAX_INFLATED, file.name));
    if (digest !== file.sha256) throw new Error(`checksum mismatch: expected sha256 ${file.sha256}, got ${digest}`);
    renameSync(tmp, dest);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* not created */ }
    throw new Error(ctrl.signal.aborted ? String((ctrl.signal.reason as Error)?.message ?? 'aborted') : describeNetworkError(e));
  } finally {
    untrack();
    clearTimeout(timer);
    clearTimeout(whole);
  }
}

/** gunzip with a bound on the output; says which limit was passed, or that the data is not gzip. */
export function gunzipBounded(bytes: Uint8Array, maxOutput: number, what: string): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: maxOutput });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`${what}: inflates to more than ${maxOutput} bytes, the most it can hold`);
    }
    throw new Error(`${what}: not a valid gzip file (${(e as Error).message})`);
  }
}

/** Downloads `file` from the first working mirror to `dest` (atomically, verified). */
export async function downloadVerified(mirrors: string[], file: RemoteFile, dest: string, o: DownloadOptions = {}): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  removeStaleTempsIn(dirname(dest)); // every file's leftovers, not only this one's: a file already complete is never downloaded again
  const errors: string[] = [];
  for (const base of mirrors) {
    const url = base + file.name;
    try {
      await fetchOne(url, file, dest, o);
      return;
    } catch (e) {
      errors.push(`${url}: ${(e as Error).message}`);
    }
  }
  throw new DownloadError(`could not download ${file.name}: ${errors.join('; ')}`);
}

/** Whether `path` holds bytes matching `file`'s checksum. */
export function verifyFile(bytes: Uint8Array, file: RemoteFile): boolean {
  if (bytes.length > (file.maxBytes ?? DEFAULT_MAX_BYTES)) return false;
  try {
    return sha256(file.hashOf === 'content' ? gunzipBounded(bytes, file.maxInflatedBytes ?? DEFAULT_MAX_INFLATED, file.name) : bytes) === file.sha256;
  } catch {
    return false;
  }
}
