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

/** A file to fetch and how to verify it. */
export interface RemoteFile {
  /** File name, appended to each mirror's base URL. */
  name: string;
  sha256: string;
  /** 'download': hash of the bytes as served; 'content': hash after gunzip (mirrors may recompress). */
  hashOf: 'download' | 'content';
}

export interface DownloadOptions {
  /** Called as bytes arrive (total is null when the server sends no length). */
  onProgress?(received: number, total: number | null): void;
  /** Abort a mirror when no byte arrives for this long (default 30 s). */
  idleTimeoutMs?: number;
}

/** A download failed on every mirror; `message` lists each mirror's error. */
export class DownloadError extends Error {}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function fetchOne(url: string, file: RemoteFile, dest: string, o: DownloadOptions): Promise<void> {
  const ctrl = new AbortController();
  const idle = o.idleTimeoutMs ?? 30_000;
  let timer = setTimeout(() => ctrl.abort(new Error(`no data for ${idle} ms`)), idle);
  const kick = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ctrl.abort(new Error(`no data for ${idle} ms`)), idle);
  };
  const tmp = `${dest}.part-${process.pid}`;
  try {
    const res = await fetch(url, { signal: ctrl.signal });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    const lenHeader = res.headers.get('content-length');
    const total = lenHeader !== null && /^\d+$/.test(lenHeader) ? Number(lenHeader) : null;
    const hash = createHash('sha256');
    const chunks: Uint8Array[] = [];
    const out = createWriteStream(tmp);
    let received = 0;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        kick();
        received += chunk.length;
        hash.update(chunk);
        if (file.hashOf === 'content') chunks.push(chunk);
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        o.onProgress?.(received, total);
      }
    } finally {
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    }
    if (total !== null && received !== total) throw new Error(`connection closed after ${received} of ${total} bytes`);
    let digest = hash.digest('hex');
    if (file.hashOf === 'content') {
      try {
        digest = sha256(gunzipSync(Buffer.concat(chunks)));
      } catch (e) {
        throw new Error(`not a valid gzip file (${(e as Error).message})`);
      }
    }
    if (digest !== file.sha256) throw new Error(`checksum mismatch: expected sha256 ${file.sha256}, got ${digest}`);
    renameSync(tmp, dest);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* not created */ }
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why = ctrl.signal.aborted ? String((ctrl.signal.reason as Error)?.message ?? 'aborted') : err.cause?.code ?? err.cause?.message ?? err.message;
    throw new Error(why);
  } finally {
    clearTimeout(timer);
  }
}

/** Downloads `file` from the first working mirror to `dest` (atomically, verified). */
export async function downloadVerified(mirrors: string[], file: RemoteFile, dest: string, o: DownloadOptions = {}): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
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
  try {
    return sha256(file.hashOf === 'content' ? gunzipSync(bytes) : bytes) === file.sha256;
  } catch {
    return false;
  }
}
