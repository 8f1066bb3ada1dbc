import { Readable } from 'node:stream';
import consumers from 'node:stream/consumers';
import type { StopReason } from './errors.js';

/** Response headers, lower-case names, as undici reports them. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** The body stream undici hands out, with its fetch-like readers. */
interface UndiciBody extends Readable {
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
  dump(opts?: { limit: number }): Promise<void>;
}

function isUndiciBody(stream: Readable): stream is UndiciBody {
  return typeof (stream as Partial<UndiciBody>).dump === 'function';
}

/** Discards a body so that its connection can be reused; never throws. */
export function discardBody(body: Readable | Buffer | undefined): void {
  if (body === undefined || Buffer.isBuffer(body)) return;
  if (isUndiciBody(body)) body.dump().catch(() => undefined);
  else body.destroy();
}

/** Why a transient answer was handed back without a retry. */
export interface NotRetried {
  readonly reason: Exclude<StopReason, 'max-retries'>;
  readonly message: string;
}

/** What the client knows about the call that produced a response. */
export interface ResponseInit {
  readonly status: number;
  readonly headers: ResponseHeaders;
  readonly url: string;
  readonly attempts: number;
  readonly idempotencyKey: string | undefined;
  readonly notRetried: NotRetried | undefined;
}

/**
 * The answer of a call. Non-2xx answers are returned, not thrown. The body can be read once,
 * with `text()`, `json()`, `arrayBuffer()` or as the `body` stream; reading it after `request()`
 * returned is safe (no timeout aborts it). Read or `dump()` every body you do not need, so the
 * keep-alive connection can be reused.
 */
export class UnfazedResponse {
  /** HTTP status of the last attempt. */
  readonly status: number;
  /** Response headers, lower-case names. */
  readonly headers: ResponseHeaders;
  /** The URL that was called. */
  readonly url: string;
  /** How many attempts the call made (1 = no retry). */
  readonly attempts: number;
  /** The Idempotency-Key sent with every attempt, if any. */
  readonly idempotencyKey: string | undefined;
  /** True when the server answered from its idempotency store (`Idempotent-Replayed: true`). */
  readonly replayed: boolean;
  /** Set when the answer was transient but the client could not retry it, and why. */
  readonly notRetried: NotRetried | undefined;
  private readonly stream: Readable | undefined;
  private buffered: Buffer | undefined;
  private used = false;

  /** @internal Built by the client. */
  constructor(init: ResponseInit, body: Readable | Buffer) {
    this.status = init.status;
    this.headers = init.headers;
    this.url = init.url;
    this.attempts = init.attempts;
    this.idempotencyKey = init.idempotencyKey;
    this.notRetried = init.notRetried;
    const replayed = init.headers['idempotent-replayed'];
    this.replayed = replayed !== undefined && String(replayed).toLowerCase() === 'true';
    if (Buffer.isBuffer(body)) this.buffered = body;
    else this.stream = body;
  }

  /** True once the body was read or handed out as a stream. */
  get bodyUsed(): boolean {
    return this.used;
  }

  /** The body as a Node stream. Marks the body used. */
  get body(): Readable {
    this.use();
    if (this.stream) return this.stream;
    const buffered = this.buffered ?? Buffer.alloc(0);
    this.buffered = undefined;
    return Readable.from([buffered]);
  }

  // The readers hand back undici's own promise when they can: an `async` wrapper would cost
  // every call extra microtask turns. A second read still rejects, never throws.

  /** Reads the whole body as UTF-8 text. */
  text(): Promise<string> {
    const s = this.stream;
    if (this.used || !s) return this.readBuffered((b) => b.toString('utf8'));
    this.used = true;
    return isUndiciBody(s) ? s.text() : consumers.text(s);
  }

  /** Reads the whole body and parses it as JSON. */
  json<T = unknown>(): Promise<T> {
    const s = this.stream;
    if (this.used || !s) return this.readBuffered((b) => JSON.parse(b.toString('utf8')) as T);
    this.used = true;
    return (isUndiciBody(s) ? s.json() : consumers.json(s)) as Promise<T>;
  }

  /** Reads the whole body as bytes. */
  arrayBuffer(): Promise<ArrayBuffer> {
    const s = this.stream;
    if (this.used || !s) {
      return this.readBuffered(
        (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
      );
    }
    this.used = true;
    return isUndiciBody(s) ? s.arrayBuffer() : consumers.arrayBuffer(s);
  }

  /** Discards the body so that the connection can be reused. */
  async dump(): Promise<void> {
    if (this.used) return;
    this.used = true;
    const s = this.stream;
    if (!s) return;
    if (isUndiciBody(s)) await s.dump().catch(() => undefined);
    else s.destroy();
  }

  /** A buffered body (or none), read once; a second read rejects. */
  private async readBuffered<T>(read: (body: Buffer) => T): Promise<T> {
    this.use();
    return read(this.buffered ?? Buffer.alloc(0));
  }

  private use(): void {
    if (this.used) throw new TypeError('the response body was already read');
    this.used = true;
  }
}
