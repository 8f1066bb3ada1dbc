import { Readable } from 'node:stream';

/** The start of a body, and the rest of it when it did not fit. */
export interface BoundedRead {
  readonly head: Buffer;
  /** The whole body again (head included) when it was longer than the limit. */
  readonly overflow: Readable | undefined;
}

/**
 * Reads a body until it ends or `limit` bytes were seen. A body that does not fit is handed
 * back whole as a new stream (the bytes already read first), so nothing is lost.
 */
export async function readBounded(body: Readable, limit: number): Promise<BoundedRead> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  for (;;) {
    const { value, done } = await iterator.next();
    if (done) return { head: Buffer.concat(chunks, size), overflow: undefined };
    chunks.push(value);
    size += value.length;
    if (size > limit) break;
  }
  const head = Buffer.concat(chunks, size);
  async function* whole(): AsyncGenerator<Buffer> {
    yield head;
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) return;
      yield value;
    }
  }
  return { head, overflow: Readable.from(whole(), { objectMode: false }) };
}
