import type { Redis } from 'ioredis';
import { callsOf, commandStats, countCommands, statsDelta } from '../redis-env.js';

/** Redis commands per request in one counting window. */
export interface CommandWindow {
  /** EVALSHA + EVAL calls per request, from INFO commandstats: the store's round trips. */
  readonly topLevel: number;
  /** Every command Redis executed per request, including those inside the Lua scripts. */
  readonly all: number;
  /** Commands the store's own connection sent per request, counted in this process. */
  readonly clientSent: number;
  /** True when the server counted more script calls than this store sent: others were busy. */
  readonly noisy: boolean;
  /** `evalsha 1.00, hmget 1.00, …` per request. */
  readonly breakdown: string;
}

const SCRIPT_CALLS = ['evalsha', 'eval'];

/**
 * What `send` throws when the middleware answered 503 (its store call outlived
 * `storeTimeoutMs`, as a stalled machine can make it): the window is measured again.
 */
export class StoreStalledError extends Error {}

/** Windows measured again after a {@link StoreStalledError}, at most. */
const RETRIES = 3;

/**
 * Sends `requests` first requests one at a time, then replays of the same keys, `windows`
 * times, reading INFO commandstats before and after each batch.
 */
export async function redisCommandsPerRequest(options: {
  admin: Redis;
  connection: Redis;
  windows: number;
  requests: number;
  keyPrefix: string;
  /** Sends one request with `key`; resolves true when it was answered as a replay. */
  send: (key: string) => Promise<boolean>;
}): Promise<{ first: CommandWindow[]; replay: CommandWindow[]; retried: number }> {
  const { admin, connection, requests, send } = options;
  const counter = countCommands(connection);
  // Warm up: scripts are loaded (NOSCRIPT → EVAL) and the connection is ready.
  for (let i = 0; i < 3; i++) {
    for (let attempt = 0; ; attempt++) {
      try {
        await send(`${options.keyPrefix}-warm-${i}.${attempt}`);
        await send(`${options.keyPrefix}-warm-${i}.${attempt}`);
        break;
      } catch (error) {
        if (!(error instanceof StoreStalledError) || attempt >= RETRIES) throw error;
      }
    }
  }
  const measure = async (keys: readonly string[], replay: boolean): Promise<CommandWindow> => {
    const before = await commandStats(admin);
    counter.reset();
    for (const key of keys) {
      if ((await send(key)) !== replay) {
        throw new Error(`counting: ${key} was ${replay ? 'not ' : ''}answered as a replay`);
      }
    }
    const sent = counter.total();
    const delta = statsDelta(before, await commandStats(admin));
    delta.delete('info');
    const scripts = callsOf(delta, SCRIPT_CALLS);
    const breakdown = [...delta]
      .sort((a, b) => b[1] - a[1])
      .map(([name, calls]) => `${name} ${(calls / keys.length).toFixed(2)}`)
      .join(', ');
    return {
      topLevel: scripts / keys.length,
      all: callsOf(delta) / keys.length,
      clientSent: sent / keys.length,
      noisy: scripts !== sent,
      breakdown,
    };
  };
  const first: CommandWindow[] = [];
  const replay: CommandWindow[] = [];
  let retried = 0;
  for (let w = 0; w < options.windows; w++) {
    for (let attempt = 0; ; attempt++) {
      const keys = Array.from(
        { length: requests },
        (_, i) => `${options.keyPrefix}-${w}.${attempt}-${i}`,
      );
      try {
        const f = await measure(keys, false);
        const r = await measure(keys, true);
        first.push(f);
        replay.push(r);
        break;
      } catch (error) {
        if (!(error instanceof StoreStalledError) || attempt >= RETRIES) throw error;
        retried++;
      }
    }
  }
  return { first, replay, retried };
}
