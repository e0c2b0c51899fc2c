/** Test HTTP servers on a free local port. */
import type { Server } from 'node:http';

/** Starts `server` on a free port of 127.0.0.1; resolves to its base URL, `http://127.0.0.1:PORT` (no trailing slash). */
export async function listenLocal(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr !== 'object') throw new Error('test server: no TCP address');
  return `http://127.0.0.1:${addr.port}`;
}
