import { UnfazedError, errorGuard } from '@unfazed/contract';

/**
 * No Redis could be found or started: `REDIS_URL` does not answer, or nothing answers on
 * 127.0.0.1:6379 and `redis-server` (or `redis-cli`) is not on the PATH. The message says how
 * to get one; the harness never skips silently.
 */
export class RedisUnavailableError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_TESTING_REDIS_UNAVAILABLE';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(RedisUnavailableError.code, message, options);
  }
}

/** Guard for {@link RedisUnavailableError}. */
export const isRedisUnavailableError = errorGuard<RedisUnavailableError>(
  RedisUnavailableError.code,
);

/**
 * A `redis-server` (or the cluster built from several) was spawned but did not become ready:
 * it exited, or did not answer `PING` / reach `cluster_state:ok` in time. The message carries
 * the tail of its output.
 */
export class RedisStartError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_TESTING_REDIS_START';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(RedisStartError.code, message, options);
  }
}

/** Guard for {@link RedisStartError}. */
export const isRedisStartError = errorGuard<RedisStartError>(RedisStartError.code);

/** How to get Redis, appended to every {@link RedisUnavailableError}. */
export const HOW_TO_GET_REDIS =
  'Install Redis (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`) ' +
  'so that `redis-server` is on the PATH, or point REDIS_URL at a running server ' +
  '(e.g. REDIS_URL=redis://127.0.0.1:6379).';
