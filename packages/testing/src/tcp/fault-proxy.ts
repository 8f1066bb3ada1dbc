import { createServer, connect, type Server, type Socket } from 'node:net';
import { InvalidOptionError, option, validateOptions, type ShapeFor } from '@unfazed/contract';
import { UnsupportedFaultError } from '../faults/errors.js';
import { describeFault, type Fault } from '../faults/fault.js';
import { FaultPlan, formatEvents, type FaultEvent } from '../faults/plan.js';
import { seededRandom, type SeededRandom } from '../faults/prng.js';
import { defaultSeed, parseSeed, replayHint } from '../faults/seed.js';
import { listenPortRule, onFaultRule, planRule, seedRule } from '../faults/option-rules.js';
import {
  normalizeToxic,
  toxicSpecRule,
  type Toxic,
  type ToxicSpec,
  type ToxicStream,
} from './toxics.js';

/** Options of {@link faultProxy}. */
export interface FaultProxyOptions {
  /** Where to forward: `"host:port"`, a URL such as `redis://127.0.0.1:6379`, or `{ host, port }`. */
  upstream: string | { host: string; port: number };
  /** Port to listen on, default 0 (a free one). The proxy listens on 127.0.0.1. */
  port?: number;
  /** Per-connection plan (a call = a connection). Status faults are HTTP-only and rejected. */
  plan?: FaultPlan;
  /** Toxics in force from the start. */
  toxics?: ToxicSpec[];
  /** Seed for jitter, slicing and toxicity; default `UNFAZED_SEED` or one per test file. */
  seed?: number;
  /** Called with each fault the plan injects, as it happens. */
  onFault?: (event: FaultEvent) => void;
}

/** A running TCP fault proxy. */
export interface FaultProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** `<scheme>://127.0.0.1:<port>`, e.g. `proxy.url('redis')`; default `http`. */
  url(scheme?: string): string;
  /** Adds a toxic; it applies to open connections too. Returns it with its name and defaults. */
  addToxic(spec: ToxicSpec): Toxic;
  /** Removes a toxic by name; false when there was none. */
  removeToxic(name: string): boolean;
  /** Removes every toxic. */
  clearToxics(): void;
  /** The toxics in force. */
  readonly toxics: readonly Toxic[];
  /** Drops every open connection at once (reset to the client); returns how many. New ones still work. */
  cut(): number;
  /** Stops listening (new connections are refused: ECONNREFUSED) and cuts the open ones. */
  disable(): Promise<void>;
  /** Listens again on the same port. */
  enable(): Promise<void>;
  /** Open connections: those with a socket not yet closed (0 once `close()` has resolved). */
  readonly connections: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Faults injected by the plan (one call = one connection). */
  readonly events: readonly FaultEvent[];
  /** Planned faults that have not fired yet. */
  pendingFaults(): Fault[];
  /** Throws `FaultsNotFiredError` listing the planned faults that did not fire. */
  assertAllFaultsFired(): void;
  /** One-line `replay with seed=...` hint (the proxy's seed and the plan's). */
  replayHint(): string;
  /** The plan's event log. */
  formatEvents(): string;
  /**
   * Stops listening and closes every connection (a FIN, not the RST of `cut()`), whatever its
   * state (half-closed after a Redis `QUIT` or an HTTP `Connection: close` included); resolves
   * once every socket has closed, so nothing of the proxy keeps the process alive.
   */
  close(): Promise<void>;
}

/** The options of a proxy whose upstream is given elsewhere (the Redis harness's `proxy()`). */
export const proxyShape = {
  port: listenPortRule.optional(),
  plan: planRule.optional(),
  toxics: option.array(toxicSpecRule).optional(),
  seed: seedRule.optional(),
  onFault: onFaultRule.optional(),
} satisfies ShapeFor<Omit<FaultProxyOptions, 'upstream'>>;

const optionsSchema = option.object({
  upstream: option.union(
    option.string({ nonEmpty: true }),
    option.object({
      host: option.string({ nonEmpty: true }),
      port: option.number({ integer: true, min: 1, max: 65_535 }),
    }),
  ),
  ...proxyShape,
} satisfies ShapeFor<FaultProxyOptions>);

interface Item {
  at: number;
  chunk?: Buffer;
  action?: 'end' | 'close' | 'reset';
}

function parseUpstream(upstream: FaultProxyOptions['upstream']): { host: string; port: number } {
  let host: string | undefined;
  let port: number | undefined;
  if (typeof upstream === 'object' && upstream !== null) {
    ({ host, port } = upstream);
  } else if (typeof upstream === 'string') {
    const text = upstream.includes('://') ? upstream : `tcp://${upstream}`;
    try {
      const url = new URL(text);
      host = url.hostname.replace(/^\[|\]$/g, '');
      port = Number(url.port);
    } catch {
      host = undefined;
    }
  }
  if (!host || !Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
    throw new InvalidOptionError(
      'upstream',
      'must be "host:port", a URL with a port, or { host, port }',
      upstream,
    );
  }
  return { host, port: port as number };
}

/** One direction of a connection: data from `source` goes through the toxics to `sink`, in order. */
class Link {
  readonly #queue: Item[] = [];
  #lastAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #passed = 0;
  #limited = false;
  #firstSeen = false;
  readonly #cursors = new Map<string, number>();

  constructor(
    readonly conn: Connection,
    readonly stream: ToxicStream,
    readonly source: Socket,
    readonly sink: Socket,
  ) {}

  push(chunk: Buffer): void {
    const conn = this.conn;
    if (conn.closed || this.#limited) return;
    const now = Date.now();
    let pieces: Item[] = [{ chunk, at: now }];
    if (this.stream === 'downstream') pieces = this.#planFault(pieces, now);
    for (const toxic of conn.activeToxics(this.stream)) {
      pieces = this.#toxic(toxic, pieces);
    }
    for (const piece of pieces) this.#enqueue(piece);
  }

  end(): void {
    if (this.conn.closed) return;
    const toxics = this.conn.activeToxics(this.stream);
    // A timeout toxic holds the close too: the connection ends when its timer fires.
    if (toxics.some((t) => t.type === 'timeout')) return;
    const slow = toxics.find((t) => t.type === 'slowClose');
    this.#enqueue({
      action: 'end',
      at: Date.now() + (slow?.type === 'slowClose' ? slow.delay : 0),
    });
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#queue.length = 0;
  }

  #planFault(pieces: Item[], now: number): Item[] {
    const fault = this.conn.fault;
    if (fault === undefined) return pieces;
    switch (fault.kind) {
      case 'lostResponse':
        // The server answered: the client gets a reset instead.
        return this.#firstSeen ? [] : ((this.#firstSeen = true), [{ action: 'reset', at: now }]);
      case 'hang':
        return [];
      case 'delay':
        return fault.label === 'afterSend'
          ? pieces.map((p) => ({ ...p, at: p.at + fault.ms }))
          : pieces;
      case 'slowBody': {
        const out: Item[] = [];
        let at = Math.max(now, this.#lastAt);
        for (const piece of pieces) {
          const data = piece.chunk ?? Buffer.alloc(0);
          for (let i = 0; i < data.length; i += fault.chunkSize) {
            at += this.#firstSeen || i > 0 ? fault.intervalMs : 0;
            this.#firstSeen = true;
            out.push({ chunk: data.subarray(i, i + fault.chunkSize), at });
          }
        }
        return out;
      }
      case 'closeMidBody': {
        const first = pieces[0]?.chunk ?? Buffer.alloc(0);
        const budget = (this.conn.midBodyBudget ??=
          fault.afterBytes ?? Math.floor(first.length / 2));
        const out: Item[] = [];
        for (const piece of pieces) {
          const data = piece.chunk ?? Buffer.alloc(0);
          const room = budget - this.#passed;
          if (data.length < room) {
            this.#passed += data.length;
            out.push(piece);
            continue;
          }
          if (room > 0) out.push({ chunk: data.subarray(0, room), at: piece.at });
          this.#passed = budget;
          this.#limited = true;
          out.push({ action: 'close', at: piece.at });
          break;
        }
        return out;
      }
      default:
        return pieces;
    }
  }

  #toxic(toxic: Toxic, pieces: Item[]): Item[] {
    const random = this.conn.random;
    switch (toxic.type) {
      case 'latency': {
        const jitter = toxic.jitter ?? 0;
        return pieces.map((p) => ({
          ...p,
          at:
            p.at + Math.max(0, toxic.latency + (jitter > 0 ? (random.next() * 2 - 1) * jitter : 0)),
        }));
      }
      case 'bandwidth': {
        const bytesPerMs = (toxic.rate * 1024) / 1000;
        let cursor = this.#cursors.get(toxic.name) ?? 0;
        const out = pieces.map((p) => {
          cursor = Math.max(cursor, p.at) + (p.chunk?.length ?? 0) / bytesPerMs;
          return { ...p, at: cursor };
        });
        this.#cursors.set(toxic.name, cursor);
        return out;
      }
      case 'slicer': {
        const out: Item[] = [];
        for (const p of pieces) {
          if (!p.chunk) {
            out.push(p);
            continue;
          }
          let at = p.at;
          const variation = toxic.sizeVariation ?? 0;
          for (let i = 0; i < p.chunk.length;) {
            const size = Math.max(
              1,
              toxic.averageSize + (variation ? random.int(-variation, variation) : 0),
            );
            out.push({ chunk: p.chunk.subarray(i, i + size), at });
            i += size;
            at += toxic.delay ?? 0;
          }
        }
        return out;
      }
      case 'limitData': {
        const out: Item[] = [];
        for (const p of pieces) {
          if (this.#limited) break;
          if (!p.chunk) {
            out.push(p);
            continue;
          }
          const room = toxic.bytes - this.#passed;
          if (p.chunk.length < room) {
            this.#passed += p.chunk.length;
            out.push(p);
            continue;
          }
          if (room > 0) out.push({ chunk: p.chunk.subarray(0, room), at: p.at });
          this.#passed = toxic.bytes;
          this.#limited = true;
          out.push({ action: 'close', at: p.at });
        }
        return out;
      }
      case 'timeout':
        return pieces.filter((p) => p.action !== undefined);
      default:
        return pieces;
    }
  }

  #enqueue(item: Item): void {
    item.at = Math.max(item.at, this.#lastAt);
    this.#lastAt = item.at;
    this.#queue.push(item);
    if (this.#queue.length === 1) this.#pump();
  }

  #pump(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#queue.length > 0) {
      const item = this.#queue[0] as Item;
      const wait = item.at - Date.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => this.#pump(), wait);
        return;
      }
      this.#queue.shift();
      if (this.conn.closed) return;
      if (item.chunk) {
        if (!this.sink.destroyed && !this.sink.write(item.chunk)) {
          this.source.pause();
          this.sink.once('drain', () => this.source.resume());
        }
      } else if (item.action === 'end') {
        this.sink.end();
      } else {
        this.conn.destroy(item.action === 'reset');
        return;
      }
    }
  }
}

/** One proxied connection. @internal */
class Connection {
  upstream: Socket | undefined;
  up: Link | undefined;
  down: Link | undefined;
  closed = false;
  midBodyBudget: number | undefined;
  readonly #active = new Map<string, boolean>();
  readonly #toxicTimers = new Map<string, ReturnType<typeof setTimeout>>();
  #delay: ReturnType<typeof setTimeout> | undefined;
  #clientEnded = false;
  #upstreamEnded = false;

  constructor(
    readonly proxy: ProxyState,
    readonly client: Socket,
    readonly fault: Fault | undefined,
    readonly random: SeededRandom,
  ) {}

  isActive(toxic: Toxic): boolean {
    let active = this.#active.get(toxic.name);
    if (active === undefined) {
      active = this.random.chance(toxic.toxicity);
      this.#active.set(toxic.name, active);
    }
    return active;
  }

  activeToxics(stream: ToxicStream): Toxic[] {
    return this.proxy.toxics.filter((t) => t.stream === stream && this.isActive(t));
  }

  /** A toxic that acts on the connection as a whole starts its clock when it meets the connection. */
  meet(toxic: Toxic): void {
    if (this.closed || !this.isActive(toxic)) return;
    if (toxic.type === 'timeout' && toxic.timeout > 0) {
      this.#toxicTimers.set(
        toxic.name,
        setTimeout(() => this.destroy(false), toxic.timeout),
      );
    } else if (toxic.type === 'resetPeer') {
      this.#toxicTimers.set(
        toxic.name,
        setTimeout(() => this.destroy(true), toxic.timeout ?? 0),
      );
    }
  }

  forget(name: string): void {
    clearTimeout(this.#toxicTimers.get(name));
    this.#toxicTimers.delete(name);
    this.#active.delete(name);
  }

  start(): void {
    const client = this.client;
    this.watch(client);
    client.on('error', () => this.destroy(false));
    client.on('end', () => (this.#clientEnded = true));
    // A graceful close (FIN seen) waits for the other side; an abrupt one tears both down.
    client.on('close', () => (this.#clientEnded ? this.#settle() : this.destroy(false)));
    for (const toxic of this.proxy.toxics) this.meet(toxic);
    const fault = this.fault;
    if (fault?.kind === 'reset') {
      this.destroy(true);
      return;
    }
    if (fault?.kind === 'hang' && fault.label === 'beforeSend') {
      client.on('data', () => undefined);
      client.resume();
      return;
    }
    if (fault?.kind === 'delay' && fault.label === 'beforeSend') {
      // Read while waiting, so that a caller who leaves is seen and never reaches the server.
      const early: Buffer[] = [];
      const collect = (chunk: Buffer): void => void early.push(chunk);
      client.on('data', collect);
      client.resume();
      this.#delay = setTimeout(() => {
        client.off('data', collect);
        if (this.#clientEnded || client.destroyed) this.destroy(false);
        else this.connectUpstream(early);
      }, fault.ms);
      return;
    }
    this.connectUpstream();
  }

  connectUpstream(early: Buffer[] = []): void {
    if (this.closed) return;
    const upstream = connect({ ...this.proxy.upstream, allowHalfOpen: true });
    this.upstream = upstream;
    this.watch(upstream);
    const up = new Link(this, 'upstream', this.client, upstream);
    const down = new Link(this, 'downstream', upstream, this.client);
    this.up = up;
    this.down = down;
    for (const chunk of early) up.push(chunk);
    this.client.on('data', (chunk: Buffer) => up.push(chunk));
    this.client.on('end', () => up.end());
    upstream.on('data', (chunk: Buffer) => down.push(chunk));
    upstream.on('end', () => {
      this.#upstreamEnded = true;
      down.end();
    });
    // The server went away or refused: the client sees a reset, as with a dead peer.
    upstream.on('error', () => this.destroy(true));
    upstream.on('close', () => (this.#upstreamEnded ? this.#settle() : this.destroy(false)));
    this.client.resume();
  }

  #settle(): void {
    const upstreamGone = this.upstream === undefined || this.upstream.destroyed;
    if (this.client.destroyed && upstreamGone) this.destroy(false);
  }

  destroy(reset: boolean): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.#delay);
    for (const timer of this.#toxicTimers.values()) clearTimeout(timer);
    this.up?.stop();
    this.down?.stop();
    closeSocket(this.client, reset);
    if (this.upstream) closeSocket(this.upstream, false);
    this.#forgetIfGone();
  }

  /** Called on each socket's `close`: the connection leaves the count once both are closed. */
  #forgetIfGone(): void {
    if (this.closed && this.client.closed && (this.upstream?.closed ?? true)) {
      this.proxy.forget(this);
    }
  }

  /** Registers the `close` listeners that end the connection's life in the count. */
  watch(socket: Socket): void {
    socket.once('close', () => this.#forgetIfGone());
  }
}

/**
 * Closes a socket, with an RST when `reset` is asked and the socket can still send one. A socket
 * whose FIN is queued or sent (`end()` was called) cannot: libuv refuses the reset with EINVAL
 * while the shutdown is in flight, and Node then drops the handle without closing it — the file
 * descriptor stays open and keeps the process alive for good. Such a socket is closed normally:
 * its peer has seen, or is about to see, the FIN. So is one whose peer has sent its FIN: it is
 * closing the connection itself, and an RST would only give it an ECONNRESET to report.
 */
function closeSocket(socket: Socket, reset: boolean): void {
  if (socket.destroyed) return;
  const open = !socket.writableEnded && !socket.readableEnded && !socket.connecting;
  if (reset && open) socket.resetAndDestroy();
  else socket.destroy();
}

interface ProxyState {
  readonly upstream: { host: string; port: number };
  toxics: Toxic[];
  /** Connections with a socket not yet closed. */
  readonly connections: Set<Connection>;
  /** Removes a connection whose sockets have all closed. */
  forget(conn: Connection): void;
}

/**
 * Starts a TCP proxy on 127.0.0.1 in front of `upstream` (Redis, an HTTP server, anything on
 * TCP), with toxiproxy's toxics (latency with jitter, bandwidth, slowClose, timeout/black hole,
 * resetPeer, slicer, limitData) that can be added and removed while connections are open, a
 * per-connection fault plan, and `cut()` to drop every connection. Pure Node; no binary.
 *
 * @example
 * const proxy = await faultProxy({ upstream: 'redis://127.0.0.1:6379' });
 * const redis = new Redis(proxy.url('redis'));
 * proxy.addToxic({ type: 'latency', latency: 50, jitter: 10 });
 * proxy.cut();            // every client connection drops now
 * await proxy.close();
 */
export async function faultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  validateOptions(optionsSchema, options, { name: 'faultProxy' });
  const upstream = parseUpstream(options.upstream);
  const plan = options.plan;
  if (options.onFault !== undefined && typeof options.onFault !== 'function') {
    throw new InvalidOptionError(
      'onFault',
      'must be a function of the fault event',
      options.onFault,
    );
  }
  if (plan !== undefined && !(plan instanceof FaultPlan)) {
    throw new InvalidOptionError('plan', 'must be a plan built with plans.*()', plan);
  }
  const unsupported = plan?.possibleFaults()?.find((f) => f.kind === 'status');
  if (unsupported) {
    throw new UnsupportedFaultError(
      `The TCP proxy cannot inject ${describeFault(unsupported)}: HTTP statuses need faultyServer or faultInterceptor. ` +
        'It supports reset, hang, delay, lostResponse, closeMidBody and slowBody.',
    );
  }
  const seed = options.seed === undefined ? defaultSeed() : parseSeed(options.seed);
  const random = seededRandom(seed);
  // close() resolves once every socket has emitted `close`: nothing of the proxy is left then.
  let whenEmpty: (() => void) | undefined;
  const state: ProxyState = {
    upstream,
    toxics: [],
    connections: new Set(),
    forget: (conn) => {
      state.connections.delete(conn);
      if (state.connections.size === 0) whenEmpty?.();
    },
  };
  const key = `${upstream.host}:${upstream.port}`;
  let accepted = 0;
  let closing = false;

  const addToxic = (spec: ToxicSpec): Toxic => {
    validateOptions(toxicSpecRule, spec, { name: 'faultProxy.addToxic', path: 'toxic' });
    const toxic = normalizeToxic(spec);
    if (state.toxics.some((t) => t.name === toxic.name)) {
      throw new InvalidOptionError(
        'toxic.name',
        'must be unique among the toxics in force',
        toxic.name,
      );
    }
    state.toxics = [...state.toxics, toxic];
    for (const conn of state.connections) conn.meet(toxic);
    return toxic;
  };
  for (const spec of options.toxics ?? []) addToxic(spec);

  const onConnection = (client: Socket): void => {
    if (closing) {
      client.destroy();
      return;
    }
    accepted++;
    let fault = plan?.next({ transport: 'proxy', key, attempt: accepted });
    if (fault !== undefined && plan !== undefined)
      options.onFault?.(plan.events.at(-1) as FaultEvent);
    if (fault?.kind === 'status') fault = undefined;
    // One generator per connection, derived in accept order: jitter on one connection does not
    // shift the draws of the next.
    const conn = new Connection(state, client, fault, seededRandom(random.next() * 0xffffffff));
    state.connections.add(conn);
    conn.start();
  };

  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, onConnection);
  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const requested = options.port ?? 0;
  if (!Number.isSafeInteger(requested) || requested < 0 || requested > 65535) {
    throw new InvalidOptionError('port', 'must be an integer from 0 to 65535', requested);
  }
  await listen(requested);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : requested;

  /** Drops every open connection: with an RST (`cut()`), or with a FIN (`close()`). */
  const drop = (reset: boolean): number => {
    const open = [...state.connections].filter((conn) => !conn.closed);
    for (const conn of open) conn.destroy(reset);
    return open.length;
  };
  const cut = (): number => drop(true);
  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      server.close(() => resolve());
    });
  let closed: Promise<void> | undefined;

  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    url: (scheme = 'http') => `${scheme}://127.0.0.1:${port}`,
    addToxic,
    removeToxic: (name) => {
      const before = state.toxics.length;
      state.toxics = state.toxics.filter((t) => t.name !== name);
      for (const conn of state.connections) conn.forget(name);
      return state.toxics.length !== before;
    },
    clearToxics: () => {
      for (const toxic of state.toxics)
        for (const conn of state.connections) conn.forget(toxic.name);
      state.toxics = [];
    },
    get toxics() {
      return state.toxics;
    },
    cut,
    disable: async () => {
      const stopped = stopListening();
      cut();
      await stopped;
    },
    enable: async () => {
      if (!server.listening && !closing) await listen(port);
    },
    get connections() {
      return state.connections.size;
    },
    get accepted() {
      return accepted;
    },
    get events() {
      return plan?.events ?? [];
    },
    pendingFaults: () => plan?.pendingFaults() ?? [],
    assertAllFaultsFired: () => plan?.assertAllFaultsFired(),
    replayHint: () => replayHint(plan?.seed === undefined ? [seed] : [seed, plan.seed]),
    formatEvents: () => formatEvents(plan?.events ?? [], 'proxy faults'),
    close: () => {
      closed ??= (async () => {
        closing = true;
        const stopped = stopListening();
        // A teardown, not a fault: clients see the connection close, not a reset.
        drop(false);
        await stopped;
        if (state.connections.size > 0) {
          await new Promise<void>((resolve) => (whenEmpty = resolve));
        }
      })();
      return closed;
    },
  };
}
