import { randomUUID } from 'node:crypto';
import {
  ExponentialBackoff,
  SamplingBreaker,
  TimeoutStrategy,
  circuitBreaker,
  handleAll,
  retry,
  timeout,
  wrap,
} from 'cockatiel';
import CircuitBreaker from 'opossum';
import type { Pool } from 'undici';

/**
 * What a user builds without Unfazed, around the same undici `Pool.request`: the client suite's
 * peers. Each sends the POST the client sends (same body, content type and a fresh
 * `Idempotency-Key` per call, kept across its retries), with the client's default policy figures
 * where the library has them (30 s total, 10 s per attempt, 3 retries from 500 ms doubling up to
 * 30 s, a breaker opening at a 50 % failure ratio over 30 s, probing after 5 s).
 */
export interface ClientPeer {
  readonly name: string;
  /** One call; throws on a failure (a 5xx is one, so that the policies see it). */
  call(path: string, body: string): Promise<number>;
  close(): Promise<void>;
}

async function send(
  pool: Pool,
  path: string,
  body: string,
  key: string,
  signal?: AbortSignal,
): Promise<number> {
  const res = await pool.request({
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body,
    ...(signal ? { signal } : {}),
  });
  await res.body.text();
  if (res.statusCode >= 500) throw new Error(`status ${res.statusCode}`);
  return res.statusCode;
}

/**
 * cockatiel 3 (the library under `@unfazed/client`), wrapped by hand as its README composes
 * policies: `wrap(total timeout, retry, circuit breaker, attempt timeout)`, the timeouts
 * aborting the undici request through the signal.
 */
export function cockatielPeer(pool: Pool): ClientPeer {
  const policy = wrap(
    timeout(30_000, TimeoutStrategy.Aggressive),
    retry(handleAll, {
      maxAttempts: 3,
      backoff: new ExponentialBackoff({ initialDelay: 500, maxDelay: 30_000, exponent: 2 }),
    }),
    circuitBreaker(handleAll, {
      halfOpenAfter: 5_000,
      breaker: new SamplingBreaker({ threshold: 0.5, duration: 30_000, minimumRps: 1 }),
    }),
    timeout(10_000, TimeoutStrategy.Aggressive),
  );
  return {
    name: 'undici + cockatiel (retry, breaker, timeouts)',
    call(path, body) {
      const key = randomUUID();
      return policy.execute(({ signal }) => send(pool, path, body, key, signal));
    },
    async close() {
      // Policies hold no timers between calls.
    },
  };
}

/**
 * opossum 9 around the undici call, as its README shows (`new CircuitBreaker(fn, options)`,
 * `breaker.fire(...)`): a 10 s timeout, 50 % error threshold over a 30 s rolling window, reset
 * after 5 s. opossum has no retry.
 */
export function opossumPeer(pool: Pool): ClientPeer {
  const breaker = new CircuitBreaker(
    (path: string, body: string) => send(pool, path, body, randomUUID()),
    {
      timeout: 10_000,
      errorThresholdPercentage: 50,
      rollingCountTimeout: 30_000,
      resetTimeout: 5_000,
      volumeThreshold: 20,
    },
  );
  return {
    name: 'undici + opossum (breaker, timeout)',
    call: (path, body) => breaker.fire(path, body),
    async close() {
      // An open circuit would have failed calls, which the load run reports as errors.
      breaker.shutdown();
    },
  };
}
