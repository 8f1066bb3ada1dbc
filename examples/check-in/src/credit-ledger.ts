import type { Redis } from 'ioredis';

/** One movement of customer credit, as the payment service's credit ledger keeps it. */
export interface CreditMovement {
  readonly paymentId: string;
  readonly customerId: string;
  readonly kind: 'deduct' | 'restore';
  /** Euros taken (deduct) or given back (restore); a deduct may take 0 when the credit is spent. */
  readonly amount: number;
  /** The key it was applied for: the saga step's key, or its compensation's. */
  readonly key: string;
  /** Epoch ms, by the clock of the process that applied it. */
  readonly at: number;
}

/** What a deduct did. `replayed`: the key was seen before, nothing moved this time. */
export interface DeductResult {
  readonly taken: number;
  readonly balance: number;
  readonly replayed: boolean;
  /**
   * The deduct arrived after its payment was compensated (a stalled holder of the step): it took
   * nothing, and never will for this key.
   */
  readonly refused: boolean;
}

/** What a restore did. `replayed`: the compensation key was seen before, nothing moved. */
export interface RestoreResult {
  readonly restored: number;
  readonly balance: number;
  readonly replayed: boolean;
}

/** What the ledger holds at the end, for the summary. */
export interface CreditSnapshot {
  readonly movements: readonly CreditMovement[];
  /** Credit now, of every customer a movement touched. */
  readonly balances: ReadonlyMap<string, number>;
}

/**
 * The payment service's credit ledger: its own database, which the payment saga's local steps
 * write. Every write is idempotent by a key — a local step runs at least once — and atomic, so
 * two processes running the same step at once (a stalled worker and its successor) move the
 * credit once.
 */
export interface CreditLedger {
  /**
   * Takes up to `wanted` € of the customer's credit, once per `key` (the step key): a repeat
   * answers what the first took. A key already compensated ({@link restore}) takes nothing.
   */
  deduct(
    key: string,
    d: { paymentId: string; customerId: string; wanted: number },
  ): Promise<DeductResult>;
  /**
   * Gives back what the deduct keyed `deductKey` took, once per `key` (the compensation key).
   * When that deduct never happened (the saga gave up while the step's outcome was unknown) it
   * gives nothing back, and makes sure a late deduct with that key takes nothing either.
   */
  restore(
    key: string,
    deductKey: string,
    r: { paymentId: string; customerId: string },
  ): Promise<RestoreResult>;
  snapshot(): Promise<CreditSnapshot>;
}

/** The in-memory ledger (one process: memory mode). */
export function memoryCreditLedger(initialCredit: number): CreditLedger {
  const balances = new Map<string, number>();
  /** Applied keys: a deduct's amount, a restore's, or a tombstone for a deduct that may not run. */
  const applied = new Map<string, { amount: number; voided?: true }>();
  const movements: CreditMovement[] = [];
  const balanceOf = (c: string): number => balances.get(c) ?? initialCredit;
  return {
    deduct(key, d) {
      const seen = applied.get(key);
      if (seen)
        return Promise.resolve({
          taken: seen.amount,
          balance: balanceOf(d.customerId),
          replayed: true,
          refused: seen.voided === true,
        });
      const balance = balanceOf(d.customerId);
      const taken = Math.min(balance, d.wanted);
      balances.set(d.customerId, balance - taken);
      applied.set(key, { amount: taken });
      movements.push({ ...d, kind: 'deduct', amount: taken, key, at: Date.now() });
      return Promise.resolve({
        taken,
        balance: balance - taken,
        replayed: false,
        refused: false,
      });
    },
    restore(key, deductKey, r) {
      const seen = applied.get(key);
      if (seen)
        return Promise.resolve({
          restored: seen.amount,
          balance: balanceOf(r.customerId),
          replayed: true,
        });
      const deducted = applied.get(deductKey);
      const amount = deducted?.voided ? 0 : (deducted?.amount ?? 0);
      if (deducted === undefined) applied.set(deductKey, { amount: 0, voided: true });
      const balance = balanceOf(r.customerId) + amount;
      if (amount > 0) balances.set(r.customerId, balance);
      applied.set(key, { amount });
      if (amount > 0) movements.push({ ...r, kind: 'restore', amount, key, at: Date.now() });
      return Promise.resolve({ restored: amount, balance, replayed: false });
    },
    snapshot: () => Promise.resolve({ movements: [...movements], balances: new Map(balances) }),
  };
}

/*
 * The Redis ledger: one hash of balances, one of applied keys, one list of movements, each
 * write one script (atomic). KEYS: applied, balances, movements.
 */
const DEDUCT = `
local seen = redis.call('HGET', KEYS[1], ARGV[1])
local balance = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or ARGV[5])
if seen then
  local s = cjson.decode(seen)
  return cjson.encode({ taken = s.amount, balance = balance, replayed = true, refused = s.voided == true })
end
local taken = math.min(balance, tonumber(ARGV[4]))
redis.call('HSET', KEYS[2], ARGV[3], balance - taken)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({ amount = taken }))
redis.call('RPUSH', KEYS[3], cjson.encode({ paymentId = ARGV[2], customerId = ARGV[3], kind = 'deduct',
  amount = taken, key = ARGV[1], at = tonumber(ARGV[6]) }))
return cjson.encode({ taken = taken, balance = balance - taken, replayed = false, refused = false })
`;

const RESTORE = `
local seen = redis.call('HGET', KEYS[1], ARGV[1])
local balance = tonumber(redis.call('HGET', KEYS[2], ARGV[4]) or ARGV[5])
if seen then
  return cjson.encode({ restored = cjson.decode(seen).amount, balance = balance, replayed = true })
end
local deducted = redis.call('HGET', KEYS[1], ARGV[2])
local amount = 0
if deducted then
  local d = cjson.decode(deducted)
  if d.voided ~= true then amount = d.amount end
else
  redis.call('HSET', KEYS[1], ARGV[2], cjson.encode({ amount = 0, voided = true }))
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({ amount = amount }))
if amount > 0 then
  balance = balance + amount
  redis.call('HSET', KEYS[2], ARGV[4], balance)
  redis.call('RPUSH', KEYS[3], cjson.encode({ paymentId = ARGV[3], customerId = ARGV[4], kind = 'restore',
    amount = amount, key = ARGV[1], at = tonumber(ARGV[6]) }))
end
return cjson.encode({ restored = amount, balance = balance, replayed = false })
`;

/** The Redis ledger (Redis mode: the payment saga's steps run in any worker process). */
export function redisCreditLedger(
  redis: Redis,
  prefix: string,
  initialCredit: number,
): CreditLedger {
  const keys = [`${prefix}applied`, `${prefix}balances`, `${prefix}movements`];
  const run = async <T>(script: string, args: (string | number)[]): Promise<T> =>
    JSON.parse(String(await redis.eval(script, keys.length, ...keys, ...args))) as T;
  return {
    deduct: (key, d) =>
      run<DeductResult>(DEDUCT, [
        key,
        d.paymentId,
        d.customerId,
        d.wanted,
        initialCredit,
        Date.now(),
      ]),
    restore: (key, deductKey, r) =>
      run<RestoreResult>(RESTORE, [
        key,
        deductKey,
        r.paymentId,
        r.customerId,
        initialCredit,
        Date.now(),
      ]),
    async snapshot() {
      const [raw, balances] = await Promise.all([
        redis.lrange(keys[2] as string, 0, -1),
        redis.hgetall(keys[1] as string),
      ]);
      return {
        movements: raw.map((m) => JSON.parse(m) as CreditMovement),
        balances: new Map(Object.entries(balances).map(([c, b]) => [c, Number(b)])),
      };
    },
  };
}
