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
export { type RedisFaultProxy, type RedisFaultProxyOptions } from './redis/redis-fault-proxy.js';
export { type RedisAddress } from './redis/resp.js';
export {
  RedisUnavailableError,
  isRedisUnavailableError,
  RedisStartError,
  isRedisStartError,
} from './redis/errors.js';
export {
  faults,
  describeFault,
  type Fault,
  type FaultKind,
  type FaultLabel,
  type FaultBody,
  type StatusFault,
  type StatusFaultOptions,
  type DelayFault,
  type SlowBodyFault,
  type HangFault,
  type ResetFault,
  type LostResponseFault,
  type CloseMidBodyFault,
} from './faults/fault.js';
export {
  plans,
  FaultPlan,
  formatEvent,
  formatEvents,
  type FaultCall,
  type FaultCallInfo,
  type FaultTransport,
  type AttemptRecord,
  type FaultEvent,
  type SequenceStep,
  type SequenceOptions,
  type RateOptions,
} from './faults/plan.js';
export { seededRandom, type SeededRandom } from './faults/prng.js';
export { SEED_ENV, defaultSeed, replayHint } from './faults/seed.js';
export { withReplayHint, type FaultExplainer } from './faults/with-replay-hint.js';
export { type RouteMatch, type RouteRequest } from './faults/route.js';
export { type RoutesOption, type RouteSpec } from './faults/router.js';
export {
  FaultsNotFiredError,
  isFaultsNotFiredError,
  UnsupportedFaultError,
  isUnsupportedFaultError,
} from './faults/errors.js';
export {
  faultyServer,
  type FaultyServer,
  type FaultyServerOptions,
  type FaultyRoute,
  type FaultyHandler,
  type FaultyRequest,
  type FaultyResponse,
  type RecordedRequest,
  type RequestOutcome,
} from './http/faulty-server.js';
export { forwardTo, type ForwardToOptions } from './http/forward-to.js';
export { checkpoint, childRun } from './process/checkpoint.js';
export {
  runChild,
  type RunChildOptions,
  type ChildModule,
  type ChildRun,
  type ChildExit,
  type CheckpointHit,
  type KillPlan,
} from './process/run-child.js';
export { ChildWaitError, isChildWaitError } from './process/errors.js';
export {
  faultInterceptor,
  type FaultInterceptor,
  type FaultInterceptorOptions,
  type InterceptedCall,
} from './undici/fault-interceptor.js';
export { injectedFaultOf } from './undici/fault-flow.js';
export {
  createHistory,
  loadHistory,
  isHistory,
  type History,
  type HistoryEvent,
  type HistoryOptions,
  type Invocation,
  type OperationOutcome,
  type TrackOptions,
} from './exactly-once/history.js';
export {
  createLedger,
  loadLedger,
  isLedger,
  type Ledger,
  type LedgerEntry,
  type LedgerOptions,
} from './exactly-once/ledger.js';
export {
  checkExactlyOnce,
  type CheckExactlyOnceOptions,
  type ExactlyOnceReport,
  type Violation,
  type ViolationKind,
} from './exactly-once/check-exactly-once.js';
export { assertExactlyOnce } from './exactly-once/assert-exactly-once.js';
export { preciseNow } from './exactly-once/clock.js';
export { ExactlyOnceViolationError, isExactlyOnceViolationError } from './exactly-once/errors.js';
export {
  registerMatchers,
  type ExactlyOnceMatchers,
  type ExtendableExpect,
} from './exactly-once/matchers.js';
export { faultProxy, type FaultProxy, type FaultProxyOptions } from './tcp/fault-proxy.js';
export {
  type Toxic,
  type ToxicSpec,
  type ToxicStream,
  type LatencyToxic,
  type BandwidthToxic,
  type SlowCloseToxic,
  type TimeoutToxic,
  type ResetPeerToxic,
  type SlicerToxic,
  type LimitDataToxic,
} from './tcp/toxics.js';
