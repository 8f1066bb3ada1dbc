import { randomUUID } from 'node:crypto';
import type { Events } from './events.js';
import { defineScript, fleetCall, FleetUnavailable, type FleetRedis } from './fleet-redis.js';

const BRAND = Symbol.for('unfazed.sharedCircuit');

/** Options of {@link sharedCircuit}. */
export interface SharedCircuitOptions {
  /** Prefix of the Redis keys and of the pub/sub channel. Default `unfazed:`. */
  prefix?: string;
  /** A Redis call slower than this is an outage (the local breaker decides). Default 250 ms. */
  timeoutMs?: number;
}

/** Fleet-wide circuit state in Redis, for `breaker.shared`; made by {@link sharedCircuit}. */
export interface SharedCircuit {
  readonly [BRAND]: true;
  readonly redis: FleetRedis;
  readonly prefix: string;
  readonly timeoutMs: number;
}

/**
 * Shares circuit state changes across every client given it, in any process: "key opened until
 * T" is published on `<prefix>circuit` and stored with an expiry, so the others open at once;
 * one instance holds the probe lease when the break ends and the others stay open until its
 * verdict. Decisions stay local: no Redis call per request. A Redis outage leaves each client
 * with its local breaker. `redis` is the user's ioredis client; each client duplicates it once
 * for its subscriber and closes that connection in `close()`.
 */
export function sharedCircuit(
  redis: FleetRedis,
  options: SharedCircuitOptions = {},
): SharedCircuit {
  return Object.freeze({
    [BRAND]: true as const,
    redis,
    prefix: options.prefix ?? 'unfazed:',
    timeoutMs: options.timeoutMs ?? 250,
  });
}

/** @internal True for a value made by {@link sharedCircuit} (any copy of the package). */
export function isSharedCircuit(value: unknown): value is SharedCircuit {
  return typeof value === 'object' && value !== null && BRAND in value;
}

/** @internal What a circuit does with the fleet's news. */
export interface FleetListener {
  /** Another instance opened `key` until `until` (epoch ms). */
  remoteOpen(key: string, until: number, from: string): void;
  /** Another instance's probe of `key` succeeded. */
  remoteClose(key: string, from: string): void;
}

/** @internal The probe lease: held here, held elsewhere (for `leftMs`), or Redis is out. */
export type ProbeLease =
  | { readonly kind: 'owner' }
  | { readonly kind: 'elsewhere'; readonly leftMs: number }
  | { readonly kind: 'unavailable' };

interface Message {
  /** Circuit key. */
  readonly k: string;
  /** Open until (epoch ms); 0 when it closed. */
  readonly u: number;
  /** Sender's instance id. */
  readonly i: string;
}

/** @internal One client's link to the fleet: its subscriber connection, publishes and leases. */
export class SharedCircuitLink {
  readonly id = randomUUID();
  readonly channel: string;
  #sub: FleetRedis | undefined;
  #connected = true;
  readonly #acquire: (...args: (string | number)[]) => Promise<unknown>;
  readonly #share: (...args: (string | number)[]) => Promise<unknown>;

  constructor(
    readonly shared: SharedCircuit,
    private readonly listener: FleetListener,
    private readonly events: Events,
  ) {
    this.channel = `${shared.prefix}circuit`;
    const redis = shared.redis;
    this.#acquire = defineScript(
      redis,
      'unfazedAcquireProbe',
      1,
      new URL('./lua/acquire-probe-1.lua', import.meta.url),
    );
    this.#share = defineScript(
      redis,
      'unfazedShareVerdict',
      2,
      new URL('./lua/share-verdict-2.lua', import.meta.url),
    );
    const sub = redis.duplicate();
    this.#sub = sub;
    // The subscriber reconnects by itself; its errors are an outage, not the caller's.
    sub.on('error', () => this.#unavailable('subscriber'));
    sub.on('message', ((channel: string, text: string) => this.#receive(channel, text)) as never);
    sub.subscribe(this.channel).catch(() => this.#unavailable('subscriber'));
  }

  /** True while the last Redis call answered. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Looks up whether the fleet holds `key` open (once, when this client first meets `key`). */
  load(key: string): void {
    void fleetCall(this.shared.redis, this.shared.timeoutMs, () =>
      this.shared.redis.get(this.#stateKey(key)),
    ).then((answer) => {
      if (answer instanceof FleetUnavailable) return this.#unavailable(key);
      const until = Number(answer);
      if (answer !== null && until > Date.now()) this.listener.remoteOpen(key, until, 'stored');
    });
  }

  /** Shares that `key` opened until `until`, or closed (`until` 0). Never waits, never throws. */
  publish(key: string, until: number): void {
    const message = JSON.stringify({ k: key, u: until, i: this.id } satisfies Message);
    void fleetCall(this.shared.redis, this.shared.timeoutMs, () =>
      this.#share(
        this.#stateKey(key),
        this.#leaseKey(key),
        this.id,
        until,
        Math.max(1, until - Date.now()),
        this.channel,
        message,
      ),
    ).then((answer) => {
      if (answer instanceof FleetUnavailable) return this.#unavailable(key);
      this.#connected = true;
      if (this.events.has('shared-circuit')) {
        this.events.emit('shared-circuit', {
          key,
          action: until === 0 ? 'published-close' : 'published-open',
          instance: this.id,
          ...(until === 0 ? {} : { nextProbeAt: until }),
        });
      }
    });
  }

  /** Takes the fleet's probe lease of `key` for `ms`. */
  async acquireProbe(key: string, ms: number): Promise<ProbeLease> {
    const answer = await fleetCall(this.shared.redis, this.shared.timeoutMs, () =>
      this.#acquire(this.#leaseKey(key), this.id, ms),
    );
    if (answer instanceof FleetUnavailable) {
      this.#unavailable(key);
      return { kind: 'unavailable' };
    }
    this.#connected = true;
    const left = Number(answer);
    const lease: ProbeLease = left < 0 ? { kind: 'owner' } : { kind: 'elsewhere', leftMs: left };
    if (this.events.has('shared-circuit')) {
      this.events.emit('shared-circuit', {
        key,
        action: lease.kind === 'owner' ? 'probe-owner' : 'probe-elsewhere',
        instance: this.id,
      });
    }
    return lease;
  }

  async close(): Promise<void> {
    const sub = this.#sub;
    this.#sub = undefined;
    if (sub === undefined) return;
    try {
      await sub.quit();
    } catch {
      sub.disconnect();
    }
  }

  #receive(channel: string, text: string): void {
    if (channel !== this.channel) return;
    let message: Message;
    try {
      message = JSON.parse(text) as Message;
    } catch {
      return;
    }
    if (message.i === this.id || typeof message.k !== 'string') return;
    this.#connected = true;
    if (message.u === 0) this.listener.remoteClose(message.k, message.i);
    else this.listener.remoteOpen(message.k, message.u, message.i);
  }

  #unavailable(key: string): void {
    if (!this.#connected) return;
    this.#connected = false;
    if (this.events.has('shared-circuit'))
      this.events.emit('shared-circuit', { key, action: 'unavailable', instance: this.id });
  }

  #stateKey(key: string): string {
    return `${this.shared.prefix}{circuit:${key}}:open`;
  }

  #leaseKey(key: string): string {
    return `${this.shared.prefix}{circuit:${key}}:probe`;
  }
}
