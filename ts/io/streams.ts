/** Streams read whole with a ceiling (browsers and Node): a body or an inflation that never ends costs at most `max` bytes. */

/**
 * The bytes of `stream`, read whole; once more than `max` bytes have come the
 * stream is cancelled and `tooLarge()` is thrown (nothing past `max` is kept).
 */
export async function readStreamCapped(stream: ReadableStream<Uint8Array>, max: number, tooLarge: () => Error): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let got = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    got += value.length;
    if (got > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    parts.push(value);
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(got);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** A response's body read whole, refused from its Content-Length or as soon as it grows past `max` bytes (`what`: 'a model file'). */
export async function readBodyCapped(res: Response, url: string, max: number, what: string, makeError: (message: string) => Error): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) throw makeError(`${url}: the server declares ${declared.toLocaleString('en-US')} bytes, more than the ${max.toLocaleString('en-US')} ${what} may have (maxBytes)`);
  const tooLarge = () => makeError(`${url}: more than the ${max.toLocaleString('en-US')} bytes ${what} may have (maxBytes)`);
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > max) throw tooLarge();
    return bytes;
  }
  return readStreamCapped(res.body, max, tooLarge);
}
