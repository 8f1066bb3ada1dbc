/** Content codings of replayed bodies: does the client accept one, and decoding it if not. */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/**
 * Does an `Accept-Encoding` header accept `coding` (RFC 9110 §12.5.3)? A client that sends
 * no header accepts any coding; `*` stands for codings not listed; `q=0` refuses.
 */
export function acceptsCoding(header: string | undefined, coding: string): boolean {
  if (header === undefined) return true;
  const wanted = coding.trim().toLowerCase();
  let star: boolean | undefined;
  for (const part of header.split(',')) {
    const [rawName = '', ...params] = part.split(';');
    const name = rawName.trim().toLowerCase();
    if (name === '') continue;
    let q = 1;
    for (const param of params) {
      const [k = '', v = ''] = param.split('=');
      if (k.trim().toLowerCase() === 'q') q = Number(v.trim());
    }
    const accepted = Number.isFinite(q) && q > 0;
    if (name === wanted || (wanted === 'gzip' && name === 'x-gzip')) return accepted;
    if (name === '*') star = accepted;
  }
  return star ?? false;
}

/** The decoded bytes of `body` in `coding` (gzip, deflate, br), or `undefined` if not one of them or corrupt. */
export function decodeBody(coding: string, body: Uint8Array): Buffer | undefined {
  try {
    switch (coding.trim().toLowerCase()) {
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(body);
      case 'deflate':
        return inflateSync(body);
      case 'br':
        return brotliDecompressSync(body);
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}
