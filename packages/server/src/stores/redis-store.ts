import { option, validateOptions, type ShapeFor } from '@unfazed/contract';
import type { Cluster, Redis } from 'ioredis';

/**
 * What {@link redisIdempotencyStore} accepts: any ioredis `Redis` or `Cluster`, of the user's
 * own ioredis 5 or 6 copy. Typed by shape, not by ioredis's classes (their private members make
 * two installed copies, or two majors, unassignable to each other).
 */
export interface IdempotencyRedisClient {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
}
import type {
  ClaimInput,
  ClaimResult,
  CompleteInput,
  IdempotencyStore,
  OwnerInput,
} from '../core/store.js';
import { loadLuaScript } from '@unfazed/contract/internal';

/** Options of {@link redisIdempotencyStore}. */
export interface RedisIdempotencyStoreOptions {
  /** Prepended to every key name; no `{` or `}` (the record's hash tag). Default `'unfazed:idem:'`. */
  prefix?: string;
}

const redisRule = option.instance<IdempotencyRedisClient>(
  'an ioredis Redis or Cluster client (pass the client, not a URL: redisIdempotencyStore(new Redis(url)))',
  ['defineCommand'],
);

const optionsRule = option
  .object(
    {
      prefix: option
        .string({
          test: {
            check: /^[^{}]*$/,
            rule: 'a string without "{" or "}" (the store adds the Cluster hash tag itself)',
          },
        })
        .default('unfazed:idem:'),
    } satisfies ShapeFor<RedisIdempotencyStoreOptions>,
    { aliases: { keyPrefix: 'prefix' } },
  )
  .default({});

/** Each command with its script, one key each (`lua/<name>-1.lua`). */
const SCRIPTS = [
  ['unfazedIdemClaim', new URL('./lua/claim-1.lua', import.meta.url)],
  ['unfazedIdemComplete', new URL('./lua/complete-1.lua', import.meta.url)],
  ['unfazedIdemRelease', new URL('./lua/release-1.lua', import.meta.url)],
  ['unfazedIdemRenew', new URL('./lua/renew-1.lua', import.meta.url)],
] as const;

type Reply = Buffer | number | null | Reply[];

const EMPTY = Buffer.alloc(0);

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

interface IdempotencyCommands {
  unfazedIdemClaimBuffer(
    key: string,
    fingerprint: string,
    owner: string,
    leaseMs: number,
  ): Promise<Reply[]>;
  unfazedIdemComplete(
    key: string,
    owner: string,
    status: number,
    headers: string,
    body: Buffer,
    retained: string,
    retentionMs: number,
    fingerprint: string,
  ): Promise<number>;
  unfazedIdemRelease(key: string, owner: string): Promise<number>;
  unfazedIdemRenew(key: string, owner: string, leaseMs: number): Promise<number>;
}

/**
 * An idempotency store on Redis, through an ioredis `Redis` or `Cluster` client. Each store
 * operation is one Lua script, so one round trip: claim (which also returns a completed
 * record's response, making a replay one round trip), complete, release and renew. A record is
 * one hash at `<prefix>{<sha256 of scope and key>}`; its braces make it a Cluster hash tag.
 * In-flight records expire at twice their lease (their lease end is checked against the
 * Redis clock), completed ones after the retention time.
 *
 * Give the client a bounded `maxRetriesPerRequest` (or rely on `storeTimeoutMs`): the
 * middleware never waits longer than `storeTimeoutMs` for an answer either way.
 */
export function redisIdempotencyStore(
  client: IdempotencyRedisClient,
  options?: RedisIdempotencyStoreOptions,
): IdempotencyStore {
  const where = { name: 'redisIdempotencyStore' };
  validateOptions(redisRule, client, { ...where, path: 'redis' });
  const { prefix } = validateOptions(optionsRule, options, where);
  // Written against the workspace's own ioredis types; the user's client is the same object
  // at run time (ioredis 5 and 6 share these commands).
  const redis = client as unknown as Redis | Cluster;
  for (const [name, file] of SCRIPTS) {
    redis.defineCommand(name, {
      numberOfKeys: 1,
      lua: loadLuaScript(file),
    });
  }
  const commands = redis as unknown as IdempotencyCommands;
  const name = (key: string): string => `${prefix}{${key}}`;

  return {
    async claim(input: ClaimInput): Promise<ClaimResult> {
      const reply = await commands.unfazedIdemClaimBuffer(
        name(input.key),
        input.fingerprint,
        input.owner,
        input.leaseMs,
      );
      switch (reply[0]) {
        case 1:
          return { outcome: 'claimed', recovered: reply[1] === 1 };
        case 2:
          return { outcome: 'mismatch' };
        case 3:
          return { outcome: 'in-flight', leaseRemainingMs: Number(reply[1]) };
        case 4: {
          const retained = String(reply[4]) === '1';
          return {
            outcome: 'completed',
            response: {
              status: Number(String(reply[1])),
              headers: JSON.parse(String(reply[2])) as Record<string, string>,
              body: retained ? (reply[3] as Buffer) : null,
            },
          };
        }
        default:
          throw new Error(`unexpected reply from the claim script: ${String(reply[0])}`);
      }
    },

    async complete(input: CompleteInput): Promise<boolean> {
      const { response } = input;
      const stored = await commands.unfazedIdemComplete(
        name(input.key),
        input.owner,
        response.status,
        JSON.stringify(response.headers),
        // The captured bytes as they are (a view, no copy): ioredis copies them into the command.
        response.body ? asBuffer(response.body) : EMPTY,
        response.body ? '1' : '0',
        input.retentionMs,
        input.fingerprint,
      );
      return stored === 1;
    },

    async release(input: OwnerInput): Promise<boolean> {
      return (await commands.unfazedIdemRelease(name(input.key), input.owner)) === 1;
    },

    async renew(input: OwnerInput & { leaseMs: number }): Promise<boolean> {
      return (await commands.unfazedIdemRenew(name(input.key), input.owner, input.leaseMs)) === 1;
    },
  };
}
