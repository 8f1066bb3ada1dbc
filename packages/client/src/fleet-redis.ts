import { loadLuaScript } from '@unfazed/contract/internal';

/**
 * The part of an ioredis `Redis` client the fleet-wide circuit and retry budget use (ioredis 5
 * and 6 fit). The client is the user's: it is never closed here; the shared circuit duplicates it
 * once for its subscriber connection, and closes that one.
 */
export interface FleetRedis {
  /** ioredis's connection state: `reconnecting`, `close` and `end` mean "do not wait for Redis". */
  readonly status: string;
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  duplicate(): FleetRedis;
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  get(key: string): Promise<string | null>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** ioredis states in which a command would wait for a reconnection. */
const OUT: ReadonlySet<string> = new Set(['reconnecting', 'close', 'end']);

/** @internal Why a fleet call did not get an answer: Redis is not connected or too slow. */
export class FleetUnavailable {
  constructor(readonly reason: 'not-connected' | 'timeout' | 'error') {}
}

/**
 * @internal Runs `command` unless the client is not connected (ioredis would queue it until it
 * reconnects), with a timeout: a Redis that does not answer is an outage, answered at once
 * with {@link FleetUnavailable}, never a thrown Redis error.
 */
export function fleetCall<T>(
  redis: FleetRedis,
  timeoutMs: number,
  command: () => Promise<T>,
): Promise<T | FleetUnavailable> {
  // A client that lost its connection answers at once; one still making its first connection
  // (or reconnecting right now) gets the timeout to answer.
  if (OUT.has(redis.status)) return Promise.resolve(new FleetUnavailable('not-connected'));
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(new FleetUnavailable('timeout')), timeoutMs);
    timer.unref();
    let pending: Promise<T>;
    try {
      pending = command();
    } catch {
      clearTimeout(timer);
      return resolve(new FleetUnavailable('error'));
    }
    pending.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(new FleetUnavailable('error'));
      },
    );
  });
}

/** @internal Defines the script `name` (`lua/<file>`) on the user's client, once. */
export function defineScript(
  redis: FleetRedis,
  name: string,
  numberOfKeys: number,
  file: URL,
): (...args: (string | number)[]) => Promise<unknown> {
  const defined = redis as unknown as Record<string, unknown>;
  if (typeof defined[name] !== 'function') {
    redis.defineCommand(name, { numberOfKeys, lua: loadLuaScript(file) });
  }
  return (...args) => (defined[name] as (...a: unknown[]) => Promise<unknown>).apply(redis, args);
}
