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
}): Promise<{ first: CommandWindow[]; replay: CommandWindow[] }> {
  const { admin, connection, requests, send } = options;
  const counter = countCommands(connection);
  // Warm up: scripts are loaded (NOSCRIPT → EVAL) and the connection is ready.
  for (let i = 0; i < 3; i++) {
    await send(`${options.keyPrefix}-warm-${i}`);
    await send(`${options.keyPrefix}-warm-${i}`);
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
  for (let w = 0; w < options.windows; w++) {
    const keys = Array.from({ length: requests }, (_, i) => `${options.keyPrefix}-${w}-${i}`);
    first.push(await measure(keys, false));
    replay.push(await measure(keys, true));
  }
  return { first, replay };
}
