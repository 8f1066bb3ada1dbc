export {
  redisTestContext,
  type RedisTestContext,
  type RedisTestContextOptions,
  type RedisSource,
} from './redis/redis-test-context.js';
export {
  startRedisServer,
  type RedisServerHandle,
  type RedisServerOptions,
  type KillClientsFilter,
} from './redis/redis-server.js';
export {
  startRedisCluster,
  type RedisClusterHandle,
  type RedisClusterOptions,
} from './redis/redis-cluster.js';
export { type RedisAddress } from './redis/resp.js';
export {
  RedisUnavailableError,
  isRedisUnavailableError,
  RedisStartError,
  isRedisStartError,
} from './redis/errors.js';
