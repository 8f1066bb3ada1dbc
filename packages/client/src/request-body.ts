import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

/** A body the client can send again on a retry. */
export type ReplayableBody = string | Uint8Array;

/** A body that can be read only once: sent on the first attempt, never retried. */
export type OneShotBody = Readable | AsyncIterable<Uint8Array | string> | WebReadableStream;

/**
 * A request body: a string or bytes (buffered, replayable), a factory called once per attempt
 * (replayable; may return a stream), or a one-shot stream (sent once, never retried).
 */
export type RequestBody =
  | ReplayableBody
  | OneShotBody
  | (() => ReplayableBody | OneShotBody | Promise<ReplayableBody | OneShotBody>);

/** What undici accepts as a body. */
export type WireBody = string | Uint8Array | Readable | null;

/** The body of one call, handed out per attempt. */
export interface BodySource {
  /** False for a one-shot stream: the call may not be retried once it was handed out. */
  readonly replayable: boolean;
  /** The body to send with one attempt. */
  forAttempt(): WireBody | Promise<WireBody>;
}

/** A string or bytes: the same value on every attempt. */
class BufferedBody implements BodySource {
  readonly replayable = true;
  constructor(private readonly body: ReplayableBody) {}
  forAttempt(): WireBody {
    return this.body;
  }
}

const NO_BODY: BodySource = { replayable: true, forAttempt: () => null };

/** Turns a request body into a per-attempt source. */
export function bodySource(body: RequestBody | undefined): BodySource {
  if (body === undefined || body === null) return NO_BODY;
  if (typeof body === 'string' || body instanceof Uint8Array) return new BufferedBody(body);
  if (typeof body === 'function') {
    return {
      replayable: true,
      forAttempt: async () => toWire(await body()),
    };
  }
  if (isOneShot(body)) {
    const stream = toWire(body);
    return { replayable: false, forAttempt: () => stream };
  }
  throw new TypeError(
    'body must be a string, a Uint8Array, a stream, an async iterable or a function returning one',
  );
}

function isOneShot(value: unknown): value is OneShotBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value instanceof Readable ||
      Symbol.asyncIterator in value ||
      typeof (value as { getReader?: unknown }).getReader === 'function')
  );
}

function toWire(body: ReplayableBody | OneShotBody): WireBody {
  if (typeof body === 'string' || body instanceof Uint8Array || body instanceof Readable) {
    return body;
  }
  if (typeof (body as { getReader?: unknown }).getReader === 'function') {
    return Readable.fromWeb(body as WebReadableStream);
  }
  return Readable.from(body as AsyncIterable<Uint8Array | string>, { objectMode: false });
}
