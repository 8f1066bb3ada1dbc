import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { option, validateOptions, type ShapeFor } from '@unfazed/contract';
import { encodeFaultBody, type Fault, type FaultBody, type FaultLabel } from '../faults/fault.js';
import {
  keyRule,
  listenPortRule,
  onFaultRule,
  planRule,
  routesRule,
} from '../faults/option-rules.js';
import type { FaultEvent, FaultPlan } from '../faults/plan.js';
import type { RouteRequest } from '../faults/route.js';
import { FaultRouter, type RoutesOption } from '../faults/router.js';

/** A request as a {@link FaultyHandler} sees it: fully read. */
export interface FaultyRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** Path with the query string, as sent. */
  readonly url: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON. */
  json<T = unknown>(): T;
  /** The attempt key (`Idempotency-Key`, else `METHOD /path`) and its 1-based attempt number. */
  readonly key: string;
  readonly attempt: number;
  /** The route pattern that matched, if any. */
  readonly route: string | undefined;
}

/** What a handler answers. Every field is optional: the default is `200` with an empty body. */
export interface FaultyResponse {
  status?: number;
  headers?: Record<string, string>;
  /** Text, bytes, or a value sent as JSON. */
  body?: FaultBody;
}

/**
 * The normal behaviour of a route for calls that pass, and for the faults that run the handler
 * (`afterSend`, `midBody`). It can be user code, e.g. one that records a side effect in a ledger.
 */
export type FaultyHandler = (
  request: FaultyRequest,
) => FaultyResponse | undefined | Promise<FaultyResponse | undefined>;

/** A route of a {@link faultyServer}: its plan and its handler. */
export interface FaultyRoute {
  plan?: FaultPlan;
  handler?: FaultyHandler;
}

/** Options of {@link faultyServer}. */
export interface FaultyServerOptions {
  /** Per-route plans and handlers: `{ 'POST /charges': plan }` or `{ 'POST /charges': { plan, handler } }`, or a list with `match`. */
  routes?: RoutesOption<FaultyRoute>;
  /** Plan for requests that match no route. */
  plan?: FaultPlan;
  /**
   * Handler for routes without their own and for requests no route matches (so
   * `handler: forwardTo(appUrl)` passes everything else through to the app). Default:
   * `200 {"ok":true}`; with routes and no `handler`, unmatched requests get `404`.
   */
  handler?: FaultyHandler;
  /** How attempts are grouped; default the `Idempotency-Key` header, else `METHOD /path`. */
  key?: (request: RouteRequest) => string;
  /** Port to listen on (default 0: a free one). The host is always 127.0.0.1. */
  port?: number;
  /** Called with each injected fault as it happens, e.g. `(e) => console.log(formatEvent(e))`. */
  onFault?: (event: FaultEvent) => void;
}

/** How a recorded request ended, as the server saw it. */
export type RequestOutcome =
  'pending' | 'answered' | 'reset' | 'hung' | 'closed-mid-body' | 'caller-gone' | 'server-closed';

/** One request the server received, for assertions. */
export interface RecordedRequest {
  /** 1-based arrival order. */
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The request body; empty when a `reset` fault dropped the connection before reading it. */
  readonly body: Buffer;
  readonly key: string;
  readonly attempt: number;
  readonly route: string | undefined;
  /** The injected fault, or `undefined` when the call passed. */
  readonly fault: Fault | undefined;
  readonly label: FaultLabel | undefined;
  /** True once the handler ran: the side effect happened. */
  handled: boolean;
  /** The status the server wrote (or started to write), if any. */
  status: number | undefined;
  outcome: RequestOutcome;
  /** The error the handler threw, answered as 500. */
  handlerError: unknown;
}

/** A running {@link faultyServer}. */
export interface FaultyServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Every request received, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Requests matching a route pattern or `"METHOD /path"`. */
  requestsTo(route: string): RecordedRequest[];
  /** Requests with this attempt key, in order: the per-attempt history. */
  attempts(key: string): RecordedRequest[];
  /** Requests whose handler ran. */
  handled(): RecordedRequest[];
  /** Every injected fault, in time order. */
  readonly events: readonly FaultEvent[];
  /** Planned faults that have not fired yet. */
  pendingFaults(): Fault[];
  /** Throws `FaultsNotFiredError` listing the planned faults that did not fire. */
  assertAllFaultsFired(): void;
  /** One-line `replay with seed=...` hint for failure messages. */
  replayHint(): string;
  /** The event log, one line per injected fault. */
  formatEvents(): string;
  /**
   * Adds routes that take precedence until {@link resetRoutes} (like msw's `server.use()`): give
   * a test its own plan on a server shared by the file. A route without a `handler` keeps the
   * handler of the route it shadows, so `use({ 'POST /charges': plan })` changes the faults only.
   */
  use(routes: RoutesOption<FaultyRoute>): void;
  /**
   * Drops the routes added by {@link use} (like msw's `resetHandlers()`); with `routes`, they
   * replace the routes given at creation as well.
   */
  resetRoutes(routes?: RoutesOption<FaultyRoute>): void;
  /** Empties the request log and the attempt counts: the next request is `seq` 1, attempt 1. */
  clearRequests(): void;
  /** `resetRoutes()` and `clearRequests()`: the server as created, for the next test (`afterEach`). */
  reset(): void;
  /** Stops listening and destroys every open socket, hung ones included. Never hangs. */
  close(): Promise<void>;
}

const DEFAULT_RESPONSE: FaultyResponse = { status: 200, body: { ok: true } };

const handlerRule = option.function<FaultyHandler>('a function of the request');
const faultyRoutesRule = routesRule({ handler: handlerRule.optional() });
const optionsSchema = option.object({
  routes: faultyRoutesRule.optional(),
  plan: planRule.optional(),
  handler: handlerRule.optional(),
  key: keyRule.optional(),
  port: listenPortRule.optional(),
  onFault: onFaultRule.optional(),
} satisfies ShapeFor<FaultyServerOptions>);

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function toAnswer(response: FaultyResponse | undefined): Answer {
  const status = response?.status ?? 200;
  const body = response?.body;
  const encoded =
    body === undefined ? { bytes: Buffer.alloc(0), contentType: '' } : encodeFaultBody(body, '');
  const headers: Record<string, string> = {};
  if (encoded.contentType) headers['content-type'] = encoded.contentType;
  for (const [name, value] of Object.entries(response?.headers ?? {}))
    headers[name.toLowerCase()] = value;
  return { status, headers, body: encoded.bytes };
}

function headerObject(
  headers: IncomingMessage['headers'],
): Record<string, string | string[] | undefined> {
  return { ...headers };
}

/**
 * Starts a real `node:http` server on 127.0.0.1 (a free port by default) whose routes answer
 * by plan: each call either passes to the route's handler or gets the planned fault. Records
 * every request. Always `await server.close()` (e.g. in `afterAll`).
 *
 * @example
 * const server = await faultyServer({
 *   routes: { 'POST /charges': { plan: plans.times(1, faults.lostResponse()), handler: charge } },
 * });
 */
export async function faultyServer(options: FaultyServerOptions = {}): Promise<FaultyServer> {
  validateOptions(optionsSchema, options, { name: 'faultyServer' });
  const router = new FaultRouter<FaultyRoute>(
    'server',
    options.routes,
    options.plan,
    options.key,
    options.onFault,
  );
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closing = false;

  const wait = (ms: number, req: IncomingMessage): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        req.socket.off('close', onClose);
        resolve(!req.socket.destroyed);
      }, ms);
      timers.add(timer);
      const onClose = (): void => {
        clearTimeout(timer);
        timers.delete(timer);
        resolve(false);
      };
      req.socket.once('close', onClose);
    });

  const readBody = (req: IncomingMessage): Promise<Buffer> =>
    new Promise((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', () => resolve(Buffer.concat(chunks)));
      req.on('close', () => resolve(Buffer.concat(chunks)));
    });

  const runHandler = async (
    record: RecordedRequest,
    handler: FaultyHandler | undefined,
    request: FaultyRequest,
  ): Promise<Answer> => {
    record.handled = true;
    if (handler === undefined) {
      if (router.hasRoutes && record.route === undefined) {
        return toAnswer({ status: 404, body: `no route for ${record.method} ${record.path}` });
      }
      return toAnswer(DEFAULT_RESPONSE);
    }
    try {
      return toAnswer(await handler(request));
    } catch (error) {
      record.handlerError = error;
      return toAnswer({ status: 500, body: `handler failed: ${String(error)}` });
    }
  };

  const send = (res: ServerResponse, record: RecordedRequest, answer: Answer): void => {
    if (res.destroyed || res.socket?.destroyed) {
      record.outcome = 'caller-gone';
      return;
    }
    record.status = answer.status;
    res.writeHead(answer.status, {
      ...answer.headers,
      'content-length': String(answer.body.length),
    });
    res.end(answer.body);
    record.outcome = 'answered';
  };

  const reset = (req: IncomingMessage, record: RecordedRequest): void => {
    record.outcome = 'reset';
    const socket = req.socket as Socket & { resetAndDestroy?: () => void };
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  };

  const slowSend = async (
    res: ServerResponse,
    req: IncomingMessage,
    record: RecordedRequest,
    answer: Answer,
    chunkSize: number,
    intervalMs: number,
  ): Promise<void> => {
    record.status = answer.status;
    res.writeHead(answer.status, {
      ...answer.headers,
      'content-length': String(answer.body.length),
    });
    res.flushHeaders();
    for (let offset = 0; offset < answer.body.length; offset += chunkSize) {
      if (offset > 0 && !(await wait(intervalMs, req))) {
        record.outcome = 'caller-gone';
        return;
      }
      res.write(answer.body.subarray(offset, offset + chunkSize));
    }
    res.end();
    record.outcome = 'answered';
  };

  const closeMidBody = (
    res: ServerResponse,
    req: IncomingMessage,
    record: RecordedRequest,
    answer: Answer,
    afterBytes: number | undefined,
  ): void => {
    record.status = answer.status;
    const cut = Math.min(
      afterBytes ?? Math.floor(answer.body.length / 2),
      Math.max(answer.body.length - 1, 0),
    );
    // A declared length the body never reaches (or an unterminated chunked body when empty)
    // makes the truncation visible to the caller.
    const headers: Record<string, string> = { ...answer.headers };
    if (answer.body.length > 0) headers['content-length'] = String(answer.body.length);
    res.writeHead(answer.status, headers);
    res.flushHeaders();
    const done = (): void => {
      record.outcome = 'closed-mid-body';
      req.socket.destroy();
    };
    if (cut > 0) res.write(answer.body.subarray(0, cut), done);
    else if (answer.body.length === 0) res.write(Buffer.from(' '), done);
    else done();
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      const method = (req.method ?? 'GET').toUpperCase();
      const headers = headerObject(req.headers);
      const routed = router.route({ method, path, headers });
      const fault = routed.fault;
      const record: RecordedRequest = {
        seq: requests.length + 1,
        method,
        path,
        url,
        headers,
        body: Buffer.alloc(0),
        key: routed.key,
        attempt: routed.attempt,
        route: routed.route,
        fault,
        label: fault?.label,
        handled: false,
        status: undefined,
        outcome: 'pending',
        handlerError: undefined,
      };
      requests.push(record);
      if (fault?.kind === 'reset') {
        reset(req, record);
        return;
      }
      const body = await readBody(req);
      (record as { body: Buffer }).body = body;
      const request: FaultyRequest = {
        method,
        path,
        url,
        query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
        headers,
        body,
        text: () => body.toString('utf8'),
        json: <T>() => JSON.parse(body.toString('utf8')) as T,
        key: routed.key,
        attempt: routed.attempt,
        route: routed.route,
      };
      const handler = routed.spec?.handler ?? routed.base?.handler ?? options.handler;
      const handle = (): Promise<Answer> => runHandler(record, handler, request);
      if (fault === undefined) {
        send(res, record, await handle());
        return;
      }
      switch (fault.kind) {
        case 'status': {
          if (fault.label === 'afterSend') await handle();
          const encoded = encodeFaultBody(
            fault.body,
            STATUS_CODES[fault.status] ?? String(fault.status),
          );
          send(res, record, {
            status: fault.status,
            headers: { 'content-type': encoded.contentType, ...fault.headers },
            body: encoded.bytes,
          });
          return;
        }
        case 'delay': {
          if (fault.label === 'beforeSend') {
            if (!(await wait(fault.ms, req))) {
              record.outcome = 'caller-gone';
              return;
            }
            send(res, record, await handle());
            return;
          }
          const answer = await handle();
          if (!(await wait(fault.ms, req))) {
            record.outcome = 'caller-gone';
            return;
          }
          send(res, record, answer);
          return;
        }
        case 'hang':
          if (fault.label === 'afterSend') await handle();
          record.outcome = 'hung';
          return;
        case 'lostResponse':
          await handle();
          reset(req, record);
          return;
        case 'slowBody':
          await slowSend(res, req, record, await handle(), fault.chunkSize, fault.intervalMs);
          return;
        case 'closeMidBody':
          closeMidBody(res, req, record, await handle(), fault.afterBytes);
          return;
      }
    })().catch(() => {
      // A write racing a socket the caller already closed: nothing left to answer.
      req.socket.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Sockets we reset on purpose report ECONNRESET/EPIPE on writes racing the reset.
  server.on('clientError', (_error, socket) => socket.destroy());

  const port = options.port ?? 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://127.0.0.1:${actualPort}`;
  let closed: Promise<void> | undefined;
  const clearRequests = (): void => {
    requests.length = 0;
    router.clearAttempts();
  };

  return {
    url,
    port: actualPort,
    requests,
    requestsTo: (route) => {
      const [a, b] = route.trim().split(/\s+/);
      return requests.filter(
        (r) =>
          r.route === route ||
          (b === undefined ? r.path === a : r.method === a?.toUpperCase() && r.path === b),
      );
    },
    attempts: (key) => requests.filter((r) => r.key === key),
    handled: () => requests.filter((r) => r.handled),
    get events() {
      return router.events();
    },
    pendingFaults: () => router.pendingFaults(),
    assertAllFaultsFired: () => router.assertAllFaultsFired(),
    replayHint: () => router.replayHint(),
    formatEvents: () => router.formatEvents(),
    use: (routes) => {
      validateOptions(faultyRoutesRule, routes, { name: 'faultyServer.use', path: 'routes' });
      router.use(routes);
    },
    resetRoutes: (routes) => {
      if (routes !== undefined) {
        validateOptions(faultyRoutesRule, routes, {
          name: 'faultyServer.resetRoutes',
          path: 'routes',
        });
      }
      router.resetRoutes(routes);
    },
    clearRequests,
    reset: () => {
      router.resetRoutes();
      clearRequests();
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const record of requests) {
          if (record.outcome === 'pending') record.outcome = 'server-closed';
        }
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
