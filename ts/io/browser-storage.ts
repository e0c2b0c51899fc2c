/**
 * Model files in a browser (bytes only; nothing of the model is imported):
 * kept in IndexedDB under a name (`indexeddb://name`), or handed to the user
 * as a download (`downloads://name`). IndexedDB writes are transactions: a
 * save either stores the whole file or leaves the previous one in place.
 */

/** Database and object store the models are kept in. */
const DB_NAME = 'cnn-wasm', STORE = 'models';

/** A saved model's record. */
interface Stored { name: string; bytes: Uint8Array; savedAt: string; size: number }

/** A model kept in IndexedDB, as listModels describes it. */
export interface StoredModelInfo { url: string; name: string; size: number; savedAt: string }

/** Where a model is saved or loaded: `indexeddb://name`, `downloads://name`, or anything else (a path or URL). */
export function storageScheme(dest: string): { scheme: 'indexeddb' | 'downloads'; name: string } | null {
  const m = /^(indexeddb|downloads):\/\/(.*)$/.exec(dest);
  if (!m) return null;
  const name = m[2];
  if (name.length === 0 || name.length > 256 || /[\u0000-\u001f]/.test(name)) {
    throw new Error(`${dest}: a model's name must be 1 to 256 characters without control characters`);
  }
  return { scheme: m[1] as 'indexeddb' | 'downloads', name };
}

function openDb(url: string): Promise<IDBDatabase> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb) return Promise.reject(new Error(`${url}: this environment has no IndexedDB (it is a browser's storage; in Node save to a file path)`));
  return new Promise((resolve, reject) => {
    const req = idb.open(DB_NAME, 1);
    req.onupgradeneeded = () => { req.result.createObjectStore(STORE, { keyPath: 'name' }); };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`${url}: IndexedDB could not be opened (${req.error?.message ?? 'unknown error'})`));
    req.onblocked = () => reject(new Error(`${url}: IndexedDB is blocked by another tab holding an older version open`));
  });
}

/** Runs one request in a transaction; resolves when the transaction is complete (written), not only the request. */
async function inStore<T>(url: string, mode: IDBTransactionMode, what: string, run: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb(url);
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = run(tx.objectStore(STORE));
      const fail = (e: DOMException | null) => {
        const why = e?.name === 'QuotaExceededError' ? 'the browser\'s storage quota is used up' : e?.message ?? 'unknown error';
        reject(new Error(`${url}: could not ${what} (${why})`));
      };
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => fail(tx.error ?? req.error);
      tx.onabort = () => fail(tx.error ?? req.error);
    });
  } finally {
    db.close();
  }
}

/** Stores a model file's bytes under `indexeddb://name`, replacing a model of that name only once the new one is written whole. */
export async function saveToIndexedDb(url: string, bytes: Uint8Array): Promise<void> {
  const { name } = storageScheme(url) ?? { name: '' };
  const record: Stored = { name, bytes: bytes.slice(), savedAt: new Date().toISOString(), size: bytes.length };
  await inStore(url, 'readwrite', 'save the model', (s) => s.put(record));
}

/** The bytes of the model saved as `indexeddb://name`; an error lists the saved names when there is none. */
export async function readFromIndexedDb(url: string): Promise<Uint8Array> {
  const { name } = storageScheme(url) ?? { name: '' };
  const rec = await inStore<Stored | undefined>(url, 'readonly', 'read the model', (s) => s.get(name) as IDBRequest<Stored | undefined>);
  if (!rec) {
    const names = (await listModels()).map((m) => m.name);
    throw new Error(`${url}: no model is saved under this name (${names.length ? `saved: ${names.join(', ')}` : 'none is saved in this browser'})`);
  }
  if (!(rec.bytes instanceof Uint8Array)) throw new Error(`${url}: the stored record holds no model bytes`);
  return rec.bytes;
}

/** The models saved in this browser's IndexedDB, by name. */
export async function listModels(): Promise<StoredModelInfo[]> {
  const all = await inStore<Stored[]>('indexeddb://', 'readonly', 'list the models', (s) => s.getAll() as IDBRequest<Stored[]>);
  return all.map((r) => ({ url: `indexeddb://${r.name}`, name: r.name, size: r.size, savedAt: r.savedAt }));
}

/** Deletes `indexeddb://name`; whether there was such a model. */
export async function deleteModel(url: string): Promise<boolean> {
  const parsed = storageScheme(url);
  if (parsed?.scheme !== 'indexeddb') throw new Error(`deleteModel: ${url} is not an indexeddb://name`);
  const had = await inStore<number>(url, 'readonly', 'look the model up', (s) => s.count(parsed.name));
  if (had) await inStore(url, 'readwrite', 'delete the model', (s) => s.delete(parsed.name));
  return had > 0;
}

/**
 * Hands bytes to the user as a file download (a page only: a worker posts
 * the bytes to its page, which calls this).
 */
export function downloadBytes(bytes: Uint8Array, fileName: string): void {
  if (typeof document === 'undefined') throw new Error(`downloads://${fileName}: a download needs a page's document (in a worker, post serializeModel(model) to the page and call downloadBytes there)`);
  const url = URL.createObjectURL(new Blob([bytes.slice()], { type: 'application/octet-stream' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: fileName });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000); // the download has started by then
}
