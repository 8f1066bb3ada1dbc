/**
 * `@unfazed/server/fastify` — the Idempotency-Key plugin for Fastify 5.
 * @packageDocumentation
 */
import { IncomingMessage } from 'node:http';
import { Readable, Transform } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HEADERS } from '@unfazed/contract';
import {
  IdempotencyCore,
  payloadTooLarge,
  type Execution,
  type PreparedResponse,
} from './core/idempotency-core.js';
import type { IdempotencyMiddlewareOptions } from './core/options.js';
import { readRawBody } from './core/read-body.js';

export type { IdempotencyMiddlewareOptions } from './core/options.js';

/** Options of the Fastify plugin; `scope` and `fingerprint` receive the Fastify request. */
export type FastifyIdempotencyOptions = IdempotencyMiddlewareOptions<FastifyRequest>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false` turns the Idempotency-Key plugin off for this route. */
    idempotency?: boolean;
  }
  interface FastifyRequest {
    /**
     * The request's Idempotency-Key, parsed (no sf-string quotes), set by the plugin on the
     * requests it covers; `undefined` on the others.
     */
    idempotencyKey: string | undefined;
  }
}

interface KeyedRequest {
  key: string;
  body: Buffer;
  /** The body as it streams to the content-type parser, when read alongside it. */
  tap?: BodyTap | undefined;
  execution?: Execution;
  /** The whole payload went through onSend: the outcome is known. */
  bodyCaptured?: boolean;
  /** The connection closed before the response finished. */
  closed?: boolean;
}

const plugin: FastifyPluginAsync<FastifyIdempotencyOptions> = (fastify, options) => {
  let core: IdempotencyCore<FastifyRequest>;
  try {
    core = new IdempotencyCore<FastifyRequest>(options);
  } catch (error) {
    // A bad option rejects register()/ready() (a synchronous throw here escapes avvio).
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  if (!fastify.hasRequestDecorator('idempotencyKey')) {
    fastify.decorateRequest('idempotencyKey', undefined);
  }
  const maxBodyBytes = core.options.maxBodyBytes;
  // The state of a keyed request, on the request itself: a property every request of this
  // context is built with (a decorator), cheaper than a WeakMap entry per request. One symbol
  // per registration, so that two registrations never share a state.
  const kState = Symbol('unfazed idempotency state');
  fastify.decorateRequest(kState as unknown as string, null);
  const stateOf = (req: FastifyRequest): KeyedRequest | null =>
    (req as unknown as Record<symbol, KeyedRequest | null>)[kState] ?? null;
  const setState = (req: FastifyRequest, state: KeyedRequest | null): void => {
    (req as unknown as Record<symbol, KeyedRequest | null>)[kState] = state;
  };

  // Callback-style hooks: an async hook costs Fastify a promise and a microtask turn each.
  // A hook that answers (reply.send) does not call `done`.

  // onRequest: the key header alone decides whether the request takes part (400 answered here).
  fastify.addHook('onRequest', (req, reply, done) => {
    if (req.routeOptions.config.idempotency === false) return done();
    const decision = core.decideKey(req.method, keyHeader(req));
    if (decision.action === 'skip') return done();
    if (decision.action === 'respond') return void send(reply, decision.response);
    req.idempotencyKey = decision.key;
    setState(req, { key: decision.key, body: EMPTY });
    done();
  });

  // preParsing: see the raw bytes before any content-type parser does (413 answered here).
  fastify.addHook('preParsing', (req, reply, payload, done) => {
    const state = stateOf(req);
    if (!state) return done(null, payload);
    if (payload === req.raw && payload instanceof IncomingMessage) {
      const declared = Number(req.headers['content-length']);
      if (declared > maxBodyBytes) {
        setState(req, null);
        reply.header('connection', 'close');
        return void send(reply, payloadTooLarge(maxBodyBytes));
      }
      if (Number.isFinite(declared)) {
        // The socket's own request stream with a declared length within the limit (the usual
        // case): read the bytes as they stream to the content-type parser, no second read.
        // Node delivers no more than the declared length, so the limit holds.
        if (declared > 0) state.tap = new BodyTap(payload);
        return done(null, payload);
      }
      // A chunked body: read it (bounded) and put the bytes back, so that the content-type
      // parser reads the same stream. (Not app.inject()'s request: it is a plain stream, read
      // by the general path below.)
      readRawBody(req.raw, maxBodyBytes).then((read) => {
        if (!read.ok) {
          setState(req, null);
          reply.header('connection', 'close');
          return void send(reply, payloadTooLarge(maxBodyBytes));
        }
        state.body = read.body;
        done(null, payload);
      }, done);
      return;
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    const cleanup = (): void => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
      payload.off('close', onClose);
    };
    const onData = (chunk: Buffer | string): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bytes += buf.length;
      if (bytes > maxBodyBytes) {
        cleanup();
        setState(req, null);
        reply.header('connection', 'close');
        send(reply, payloadTooLarge(maxBodyBytes));
        payload.destroy();
        return;
      }
      chunks.push(buf);
    };
    const onEnd = (): void => {
      cleanup();
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      state.body = body;
      // A plain stream of the bytes read: much cheaper than Readable.from's async iteration.
      const replayed = new Readable({ read: noop });
      if (body.length > 0) replayed.push(body);
      replayed.push(null);
      const received = (payload as { receivedEncodedLength?: number }).receivedEncodedLength;
      (replayed as Readable & { receivedEncodedLength?: number }).receivedEncodedLength =
        received ?? body.length;
      done(null, replayed);
    };
    const onError = (err: Error): void => {
      cleanup();
      done(err);
    };
    const onClose = (): void => {
      // Closed without 'end' (and without 'error'): the body never arrived in full.
      onError(new Error('the client closed the request before its body ended'));
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.on('close', onClose);
  });

  // preHandler: after authentication hooks, so that `scope(req)` can see the principal.
  fastify.addHook('preHandler', (req, reply, done) => {
    const state = stateOf(req);
    if (!state) return done();
    if (connectionClosed(reply)) {
      // The client left before the claim: do not hold the key, do not run the handler.
      setState(req, null);
      reply.hijack();
      return done();
    }
    const tap = state.tap;
    if (tap !== undefined) {
      state.tap = undefined;
      // The content-type parser read the whole body (the usual case): its bytes are known.
      if (tap.ended) state.body = tap.body();
      else {
        // Not read in full by now (a parser that ignores the body): wait for the rest.
        tap.whenEnded((error) => {
          if (error) return done(error);
          state.body = tap.body();
          claim(req, reply, state, done);
        });
        return;
      }
    }
    claim(req, reply, state, done);
  });

  function claim(
    req: FastifyRequest,
    reply: FastifyReply,
    state: KeyedRequest,
    done: (error?: Error) => void,
  ): void {
    core
      .begin({
        req,
        key: state.key,
        method: req.method,
        target: req.url,
        body: state.body,
        acceptEncoding: req.headers['accept-encoding'],
      })
      .then((begun) => {
        if (begun.action === 'respond') {
          setState(req, null);
          return void send(reply, begun.response);
        }
        // The client left during the claim: the 'close' below would never fire, so the claim
        // would never settle. Nobody can receive the answer: release the key for the client's
        // retry and skip the handler.
        if (connectionClosed(reply)) {
          setState(req, null);
          reply.hijack();
          if (!begun.execution) return done();
          return void begun.execution.abandon().then(() => done());
        }
        const execution = begun.execution;
        if (execution) track(reply, state, execution);
        done();
      }, done);
  }

  // onSend: capture the serialized payload (string, Buffer or stream) of a claimed request only,
  // so the plugin's own answers are never stored.
  fastify.addHook('onSend', (req, reply, payload, done) => {
    const state = stateOf(req);
    const execution = state?.execution;
    if (!state || !execution) return done(null, payload);
    const captured = (): void => {
      state.bodyCaptured = true;
      // The client left before the handler answered: the outcome is still kept.
      if (state.closed) settle(reply, execution);
    };
    if (payload === null || payload === undefined) {
      captured();
      return done(null, payload);
    }
    // Set by now (by the handler, or a compressor whose onSend ran first), the payload is
    // encoded; a compressor whose onSend runs later encodes the replay again.
    execution.capture.noteEncoding(reply.getHeader('content-encoding'));
    if (typeof payload === 'string' || payload instanceof Uint8Array) {
      execution.capture.write(payload);
      captured();
      return done(null, payload);
    }
    if (isResponse(payload)) {
      // Fastify takes the status, headers and body of a returned fetch Response after onSend:
      // hand it a Response whose body goes through the capture.
      execution.capture.noteEncoding(
        payload.headers.get('content-encoding') ?? reply.getHeader('content-encoding'),
      );
      if (payload.body === null) {
        captured();
        return done(null, payload);
      }
      const body = payload.body.pipeThrough(webTee(execution, captured));
      const { status, statusText, headers } = payload;
      return done(null, new Response(body, { status, statusText, headers }));
    }
    if (isWebStream(payload)) {
      return done(null, payload.pipeThrough(webTee(execution, captured)));
    }
    if (payload instanceof Readable || isReadableLike(payload)) {
      const tee = new Transform({
        transform(chunk: Buffer | string, _encoding, callback) {
          execution.capture.write(chunk);
          callback(null, chunk);
        },
        flush(callback) {
          captured();
          callback();
        },
      });
      (payload as Readable).on('error', (err) => tee.destroy(err));
      return done(null, (payload as Readable).pipe(tee));
    }
    // A payload we cannot read along: its bytes are not kept.
    execution.capture.lose();
    captured();
    done(null, payload);
  });
  return Promise.resolve();
};

const EMPTY = Buffer.alloc(0);

/** The Idempotency-Key header, one string per header line when there are several. */
function keyHeader(req: FastifyRequest): string | string[] | undefined {
  const joined = req.headers[HEADERS.idempotencyKey];
  // Node joins repeated lines with ", ": only a value with a comma can hide several of them
  // (headersDistinct builds every header again; app.inject's request lacks it).
  if (typeof joined !== 'string' || !joined.includes(',')) return joined;
  return req.raw.headersDistinct?.[HEADERS.idempotencyKey] ?? joined;
}

/**
 * The bytes of a request body as they stream past, to whoever reads them (the content-type
 * parser): a `data` listener sees every chunk read, by events or by `read()`. One listener per
 * request; the end is read off the stream (`readableEnded`) instead of a second listener.
 */
class BodyTap {
  private readonly chunks: Buffer[] = [];

  constructor(private readonly stream: IncomingMessage) {
    // Paused first, so that the listener does not start the flow: until the parser reads, the
    // bytes wait in the stream. Started here, they would flow to this listener alone while a
    // later async preParsing hook runs, and the parser would wait for a body already gone.
    stream.pause();
    stream.on('data', this.onData);
    // A parser that only listens for `data` (no resume) expects that to start the flow.
    stream.on('newListener', this.onNewListener);
  }

  private readonly onNewListener = (event: string | symbol): void => {
    if (event !== 'data') return;
    this.stream.off('newListener', this.onNewListener);
    process.nextTick(() => this.stream.resume());
  };

  private readonly onData = (chunk: Buffer | string): void => {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  };

  /** The whole body went past. */
  get ended(): boolean {
    return this.stream.readableEnded;
  }

  /** Calls `then` once the body has ended, or with an error if the request closes before. */
  whenEnded(then: (error?: Error) => void): void {
    const { stream } = this;
    if (stream.readableEnded) return then();
    const onEnd = (): void => {
      stream.off('close', onClose);
      then();
    };
    const onClose = (): void => {
      stream.off('end', onEnd);
      then(new Error('the client closed the request before its body ended'));
    };
    stream.once('end', onEnd);
    stream.once('close', onClose);
    // Nobody else reads the rest of it: let it flow to the `data` listener.
    stream.resume();
  }

  body(): Buffer {
    const { chunks } = this;
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  }
}
const noop = (): void => undefined;
const { toString } = Object.prototype;

/**
 * Settles the record when the response closes: sent in full (`close` follows `finish`), or cut
 * off once the whole payload went through onSend. One listener per response.
 */
function track(reply: FastifyReply, state: KeyedRequest, execution: Execution): void {
  state.execution = execution;
  reply.raw.once('close', () => {
    if (reply.raw.writableFinished) {
      // The response ended without its payload going through onSend (a hijacked reply written
      // on reply.raw): its bytes were never seen, so none are kept.
      if (!state.bodyCaptured) execution.capture.lose();
      return settle(reply, execution);
    }
    state.closed = true;
    if (state.bodyCaptured) settle(reply, execution);
    else execution.clientGone();
  });
}

function settle(reply: FastifyReply, execution: Execution): void {
  // Fastify hands its own headers to writeHead: reply.getHeader() looks in both sets.
  void execution.finish(reply.raw.statusCode, (name) => reply.getHeader(name));
}

function connectionClosed(reply: FastifyReply): boolean {
  const res = reply.raw;
  return res.destroyed || res.closed || res.socket?.destroyed === true;
}

function isResponse(value: unknown): value is Response {
  return (
    typeof value === 'object' && value !== null && toString.call(value) === '[object Response]'
  );
}

function isWebStream(value: unknown): value is ReadableStream<Uint8Array> {
  return typeof (value as { getReader?: unknown } | null)?.getReader === 'function';
}

/** A web stream stage that feeds every chunk to the capture and reports the end. */
function webTee(
  execution: Execution,
  captured: () => void,
): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      execution.capture.write(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      captured();
    },
  });
}

function isReadableLike(value: unknown): boolean {
  return typeof (value as { pipe?: unknown } | null)?.pipe === 'function';
}

function send(reply: FastifyReply, response: PreparedResponse): FastifyReply {
  return reply.code(response.status).headers(response.headers).send(response.body);
}

/**
 * The Idempotency-Key plugin. Wrapped with fastify-plugin, so its hooks apply to the context it
 * is registered in and that context's children: register it at the root to cover every route,
 * or inside an encapsulated plugin to cover only that plugin's routes. A route opts out with
 * `config: { idempotency: false }`.
 *
 * `await app.register(idempotency, { store: redisIdempotencyStore(redis) })`
 */
export const idempotency = fp(plugin, { fastify: '5.x', name: '@unfazed/server/fastify' });
export {
  operationStatusRoutes,
  replyOutcome,
  type FastifyOperationStatusOptions,
} from './fastify-operation-status.js';
