import type { Cluster, Redis } from 'ioredis';
import { DurableStoreUnavailableError } from './errors.js';

/** A script waiting for the next batched write. */
interface Pending {
  readonly name: string;
  readonly args: (string | number)[];
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type ScriptCall = (...args: unknown[]) => unknown;

/** @internal The name the batch script is defined under (see {@link batchScript}). */
export const BATCH_COMMAND = 'unfazedDurableBatch';

/**
 * @internal The source of the batch script, from each script's expanded source: every body
 * becomes a function of its own KEYS and ARGV, run in turn under `pcall`, so one call's error
 * (a refused argument) is that call's error reply and the others still run, exactly as when
 * each was its own script (whose writes Redis does not roll back either). Only for a standalone
 * Redis: the calls' keys may live in different cluster slots. The calls share one reading of
 * Redis's clock (TIME), taken by the first that asks: they run at one instant anyway.
 *
 *   KEYS    the keys of every call, in order
 *   ARGV    per call: its command name, its number of keys, its number of arguments, then
 *           its arguments
 *   Output  one reply per call, in order (an error reply for a call that raised)
 */
export function batchScript(scripts: ReadonlyMap<string, string>): string {
  // The calls of one batch run at one instant (a script is atomic): one TIME for all of them.
  const bodies = [...scripts]
    .map(([name, lua]) => {
      const body = lua.replaceAll("redis.call('TIME')", 'batchTime()');
      return `bodies['${name}'] = function(KEYS, ARGV)\n${body}\nend`;
    })
    .join('\n');
  return `local time
local function batchTime()
  if time == nil then time = redis.call('TIME') end
  return time
end
local bodies = {}
${bodies}
local out = {}
local calls = 0
local k = 0
local i = 1
local n = #ARGV
while i <= n do
  local body = bodies[ARGV[i]]
  local nk = tonumber(ARGV[i + 1])
  local na = tonumber(ARGV[i + 2])
  if body == nil or nk == nil or na == nil or k + nk > #KEYS or i + 2 + na > n then
    error({ err = 'ERR unfazed durable: malformed batch at ARGV[' .. i .. ']' })
  end
  -- Built by unpack in a constructor: sized once, not grown element by element.
  local keys = { unpack(KEYS, k + 1, k + nk) }
  local args = { unpack(ARGV, i + 3, i + 2 + na) }
  k = k + nk
  i = i + 3 + na
  calls = calls + 1
  local ok, reply = pcall(body, keys, args)
  if ok then
    out[calls] = reply
  elseif type(reply) == 'table' and reply.err then
    out[calls] = reply
  else
    out[calls] = { err = 'ERR unfazed durable: ' .. tostring(reply) }
  end
end
return out
`;
}

/**
 * @internal Sends the store's scripts. On a standalone Redis the scripts asked for in one turn
 * of the event loop (e.g. the settles of every attempt whose response arrived in one poll phase,
 * and the claim that refills their slots) go out as one call of the batch script
 * ({@link batchScript}), which runs each of them in turn: one command to build, send and parse,
 * and one script for Redis to start, instead of one per script. Each call keeps its own reply or
 * error. A lone script is sent as is. On a cluster every script goes out at once.
 */
export class ScriptBatch {
  #pending: Pending[] = [];
  #flushing: NodeJS.Immediate | undefined;
  /** Scripts sent and not yet answered, so that `close()` can wait for them. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;

  /**
   * `batched`: one script per batch (a standalone Redis; it must have {@link BATCH_COMMAND}
   * defined). `keyCounts`: the number of keys of each script, absent for those whose first
   * argument is it.
   */
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly batched: boolean,
    private readonly keyCounts: ReadonlyMap<string, number> = new Map(),
  ) {}

  /** Runs the script `name` (defined with `defineCommand`) with `args`. */
  send<T>(name: string, ...args: (string | number)[]): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    const reply = !this.batched
      ? (this.#direct(name)(...args) as Promise<T>)
      : new Promise<T>((resolve, reject) => {
          if (this.#pending.length === 0) this.#flushing = setImmediate(() => this.flush());
          this.#pending.push({ name, args, resolve: resolve as (v: unknown) => void, reject });
        });
    const tracked = reply.then(
      () => undefined,
      () => undefined,
    );
    this.#inFlight.add(tracked);
    void tracked.finally(() => this.#inFlight.delete(tracked));
    return reply;
  }

  /**
   * Sends what waits for the next batch at once, refuses every later script, and resolves when
   * every script sent has been answered (or failed).
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.flush();
    await Promise.all([...this.#inFlight]);
  }

  /** Sends the scripts waiting for the next batch now (also what `close()` of the store does). */
  flush(): void {
    clearImmediate(this.#flushing);
    this.#flushing = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const lone = batch.length === 1 ? batch[0] : undefined;
    if (lone) {
      (this.#direct(lone.name)(...lone.args) as Promise<unknown>).then(lone.resolve, lone.reject);
      return;
    }
    // One script for the whole batch: each call's body runs in turn (see batchScript), so Redis
    // runs one script instead of one per call, and this process builds one command.
    const keys: (string | number)[] = [];
    const args: (string | number)[] = [];
    for (const q of batch) {
      const declared = this.keyCounts.get(q.name);
      const numberOfKeys = declared ?? Number(q.args[0]);
      const rest = declared === undefined ? q.args.slice(1) : q.args;
      for (let i = 0; i < numberOfKeys; i++) keys.push(rest[i] as string | number);
      args.push(q.name, numberOfKeys, rest.length - numberOfKeys);
      for (let i = numberOfKeys; i < rest.length; i++) args.push(rest[i] as string | number);
    }
    (this.#direct(BATCH_COMMAND)(keys.length, ...keys, ...args) as Promise<unknown[]>).then(
      (replies) => {
        batch.forEach((q, i) => {
          const reply = replies[i];
          if (reply instanceof Error) q.reject(reply);
          else q.resolve(reply);
        });
      },
      (error: unknown) => {
        for (const q of batch) q.reject(error);
      },
    );
  }

  #direct(name: string): ScriptCall {
    const redis = this.redis as unknown as Record<string, ScriptCall>;
    return (...args) => (redis[name] as ScriptCall).apply(this.redis, args);
  }
}

/** What a script asked for after `close()` fails with. */
export function closedError(): DurableStoreUnavailableError {
  return new DurableStoreUnavailableError('The durable store was closed');
}
