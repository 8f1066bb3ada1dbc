import type { IncomingMessage } from 'node:http';

/** Result of {@link readRawBody}. */
export type RawBodyResult = { ok: true; body: Buffer } | { ok: false; reason: 'too-large' };

/**
 * Reads the raw request body from a Node request that no parser has touched, up to `maxBytes`,
 * then puts the bytes back so that body parsers mounted later read them unchanged. A
 * `Content-Length` above the limit is refused without reading.
 */
export function readRawBody(req: IncomingMessage, maxBytes: number): Promise<RawBodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.resolve({ ok: false, reason: 'too-large' });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const cleanup = (): void => {
      req.off('readable', onReadable);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      if (!req.complete) onError(new Error('the client closed the request before its body ended'));
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = req.read() as Buffer | null) !== null) {
        bytes += chunk.length;
        if (bytes > maxBytes) {
          cleanup();
          resolve({ ok: false, reason: 'too-large' });
          return;
        }
        chunks.push(chunk);
      }
      if (req.complete && req.readableLength === 0) {
        cleanup();
        // One chunk (the usual small body) is the body itself: no copy.
        const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        // `complete` means the parser saw the end, yet `end` has not been emitted while we hold
        // the bytes: putting them back lets later parsers read the body as if untouched.
        if (body.length > 0) req.unshift(body);
        resolve({ ok: true, body });
      }
    };
    req.on('readable', onReadable);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
