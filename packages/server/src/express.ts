/**
 * `@unfazed/server/express` — the Idempotency-Key middleware for Express 4 and 5.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HEADERS } from '@unfazed/contract';
import {
  IdempotencyCore,
  payloadTooLarge,
  type Execution,
  type PreparedResponse,
} from './core/idempotency-core.js';
import type { IdempotencyMiddlewareOptions } from './core/options.js';
import { readRawBody } from './core/read-body.js';
import { ParsedBody } from './core/fingerprint.js';

export type { IdempotencyMiddlewareOptions } from './core/options.js';

/** Options of the Express middleware; `scope` and `fingerprint` receive the Express request. */
export type ExpressIdempotencyOptions = IdempotencyMiddlewareOptions<Request>;

/**
 * Keeps the raw body bytes when a body parser runs before `idempotency()`:
 * `app.use(express.json({ verify: rawBodySaver }))`. The middleware then fingerprints these
 * bytes instead of the parsed body's canonical form.
 */
export function rawBodySaver(req: IncomingMessage, _res: ServerResponse, buf: Buffer): void {
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buf;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- how Express types are extended
  namespace Express {
    interface Request {
      /**
       * The request's Idempotency-Key, parsed (no sf-string quotes), set by `idempotency()`
       * on the requests it covers; `undefined` on the others.
       */
      idempotencyKey?: string;
    }
  }
}

/**
 * The Idempotency-Key middleware. Mount it globally or per route, before or after the body
 * parsers: `app.use(express.json())` then `app.post('/charges', idempotency({ store }), handler)`.
 * It fingerprints the raw body bytes when it can see them (mounted before the parser, or the
 * parser keeps them with {@link rawBodySaver}), else a canonical form of the parsed `req.body`.
 * A first request runs the handler and its response is stored; a retry with the same key gets
 * the stored response; see the README for the full status table. The handler finds the parsed
 * key in `req.idempotencyKey`.
 */
export function idempotency(options: ExpressIdempotencyOptions): RequestHandler {
  const core = new IdempotencyCore<Request>(options);

  return (req: Request, res: Response, next: NextFunction): void => {
    const decision = core.decideKey(req.method, keyHeader(req));
    if (decision.action === 'skip') return next();
    if (decision.action === 'respond') return send(res, decision.response);
    req.idempotencyKey = decision.key;
    handleKeyed(core, req, res, next, decision.key).catch(next);
  };
}

/** The Idempotency-Key header, one string per header line when there are several. */
function keyHeader(req: Request): string | string[] | undefined {
  const joined = req.headers[HEADERS.idempotencyKey];
  // Node joins repeated lines with ", ": only a value with a comma can hide several of them
  // (headersDistinct builds every header again).
  if (typeof joined !== 'string' || !joined.includes(',')) return joined;
  return req.headersDistinct?.[HEADERS.idempotencyKey] ?? joined;
}

/** The body as the fingerprint sees it, or `null` after a 413 was answered. */
async function requestBody(
  req: Request,
  res: Response,
  maxBodyBytes: number,
): Promise<Buffer | ParsedBody | null> {
  const saved = (req as Request & { rawBody?: unknown }).rawBody;
  if (Buffer.isBuffer(saved)) {
    if (saved.length <= maxBodyBytes) return saved;
    send(res, payloadTooLarge(maxBodyBytes));
    return null;
  }
  // A parser ran before us (body-parser 1 marks `_body`; body-parser 2 reads to the end): the
  // bytes are gone, the parsed body stands for them. The limit applies to the declared size (a
  // chunked body is bounded by the parser's own `limit`).
  if (req.readableEnded || (req as Request & { _body?: unknown })._body === true) {
    if (Number(req.headers['content-length']) > maxBodyBytes) {
      send(res, payloadTooLarge(maxBodyBytes));
      return null;
    }
    return new ParsedBody(req.body, req.headers['content-type']);
  }
  const read = await readRawBody(req, maxBodyBytes);
  if (read.ok) return read.body;
  // The request body was left unread: do not let the next request parse it.
  send(res, payloadTooLarge(maxBodyBytes), true);
  return null;
}

async function handleKeyed(
  core: IdempotencyCore<Request>,
  req: Request,
  res: Response,
  next: NextFunction,
  key: string,
): Promise<void> {
  const body = await requestBody(req, res, core.options.maxBodyBytes);
  if (body === null) return;
  // The client left while the body was read: claiming would only hold the key for nothing.
  if (connectionClosed(res)) return;
  const begun = await core.begin({
    req,
    key,
    method: req.method,
    target: req.originalUrl,
    body,
    acceptEncoding: req.headers['accept-encoding'],
  });
  if (begun.action === 'respond') return send(res, begun.response);
  // The client left during the claim: the request stream is gone (a body parser after us
  // would see no body) and nobody can receive the answer, so do not run the handler; a
  // claim is released so that the client's retry runs it.
  if (connectionClosed(res)) {
    if (begun.execution) await begun.execution.abandon();
    return;
  }
  if (begun.execution) track(res, begun.execution);
  next();
}

/** The connection of `res` is closed: nothing written to it reaches the client. */
function connectionClosed(res: ServerResponse): boolean {
  return res.destroyed || res.closed || res.socket?.destroyed === true;
}

function send(res: ServerResponse, response: PreparedResponse, closeConnection = false): void {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.setHeader('content-length', response.body.length);
  // The request body was left unread: do not let the next request parse it.
  if (closeConnection) res.setHeader('connection', 'close');
  res.end(response.body);
}

/** What a tracked response needs, kept in {@link trackedResponses}. */
interface Tracked {
  execution: Execution;
  write: ServerResponse['write'];
  end: ServerResponse['end'];
  writeHead: ServerResponse['writeHead'];
  ended: boolean;
  closed: boolean;
  /** Headers given to writeHead() alone are written straight out: getHeader() never sees them. */
  headed: Record<string, unknown> | undefined;
}

/**
 * The state of each tracked response. Not a property of the response: Express re-prototypes
 * every response (app.response), after which each property added to it copies its hidden class
 * (~3 µs each on Node 20); a WeakMap entry costs a tenth of that.
 */
const trackedResponses = new WeakMap<ServerResponse, Tracked>();

/**
 * Captures what the handler writes, and settles the record: when the response closes after it
 * was sent in full, or when the handler ends its response after the client has gone (the
 * outcome is kept either way). The wrappers and the listener are shared functions that look the
 * state up: no closures per request.
 */
function track(res: ServerResponse, execution: Execution): void {
  trackedResponses.set(res, {
    execution,
    write: res.write,
    end: res.end,
    writeHead: res.writeHead,
    ended: false,
    closed: false,
    headed: undefined,
  });
  res.writeHead = trackedWriteHead as ServerResponse['writeHead'];
  res.write = trackedWrite as ServerResponse['write'];
  res.end = trackedEnd as ServerResponse['end'];
  // `close` follows `finish` (or comes alone when the connection dropped): one listener.
  res.once('close', trackedClose);
}

function trackedHeader(res: ServerResponse, t: Tracked, name: string): unknown {
  return res.getHeader(name) ?? t.headed?.[name];
}

function settleTracked(res: ServerResponse, t: Tracked): void {
  void t.execution.finish(res.statusCode, (name) => trackedHeader(res, t, name));
}

function captureTracked(res: ServerResponse, t: Tracked, chunk: unknown, encoding: unknown): void {
  const captured = t.execution.capture;
  // Set by now, the bytes are encoded already; set later, by a compressor mounted before us.
  if (!captured.encodingNoted) captured.noteEncoding(trackedHeader(res, t, 'content-encoding'));
  captured.write(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined);
}

function trackedWriteHead(this: ServerResponse, ...args: unknown[]): ServerResponse {
  const t = trackedResponses.get(this) as Tracked;
  t.headed = writeHeadHeaders(args);
  return (t.writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
}

function trackedWrite(this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
  const t = trackedResponses.get(this) as Tracked;
  captureTracked(this, t, chunk, rest[0]);
  return (t.write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
}

function trackedEnd(this: ServerResponse, ...args: unknown[]): ServerResponse {
  const t = trackedResponses.get(this) as Tracked;
  if (typeof args[0] !== 'function') captureTracked(this, t, args[0], args[1]);
  t.ended = true;
  const result = (t.end as (...a: unknown[]) => ServerResponse).apply(this, args);
  if (t.closed) settleTracked(this, t);
  return result;
}

function trackedClose(this: ServerResponse): void {
  const t = trackedResponses.get(this) as Tracked;
  if (this.writableFinished) return settleTracked(this, t);
  t.closed = true;
  if (t.ended) settleTracked(this, t);
  else t.execution.clientGone();
}

/** The headers argument of `writeHead(status, [message], [headers])`, by lower-case name. */
function writeHeadHeaders(args: readonly unknown[]): Record<string, unknown> | undefined {
  const given = args[args.length - 1];
  if (typeof given !== 'object' || given === null) return undefined;
  const out: Record<string, unknown> = {};
  if (Array.isArray(given)) {
    // [[name, value], ...] or the flat [name, value, name, value, ...]
    const pairs: unknown[][] = Array.isArray(given[0])
      ? (given as unknown[][])
      : Array.from({ length: given.length / 2 }, (_, i) => [given[2 * i], given[2 * i + 1]]);
    for (const [name, value] of pairs)
      if (typeof name === 'string') out[name.toLowerCase()] = value;
  } else {
    for (const [name, value] of Object.entries(given)) out[name.toLowerCase()] = value;
  }
  return out;
}

export {
  operationStatusRoute,
  sendOutcome,
  type ExpressOperationStatusOptions,
} from './express-operation-status.js';
