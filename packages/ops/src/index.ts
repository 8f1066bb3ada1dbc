/**
 * @unfazed/ops — the operations console API over the durable queue: queue overview, search,
 * one operation's story, redrive (edited, bulk and paced), discard, pause, audit.
 * @packageDocumentation
 */
export {
  opsConsole,
  type OpsConsole,
  type OpsConsoleOptions,
  type OpsRequest,
  type OpsResponse,
} from './console.js';
export { startOpsServer, type OpsServer, type OpsServerOptions } from './standalone.js';
export {
  readOnly,
  OPS_HEADER,
  type OpsAction,
  type OpsAuthorize,
  type OpsDecision,
} from './security.js';
export {
  memoryAuditLog,
  type OpsAuditLog,
  type AuditEntry,
  type NewAuditEntry,
  type AuditAction,
  type AuditPage,
  type MemoryAuditLogOptions,
} from './audit-log.js';
export {
  redisAuditLog,
  type AuditRedisClient,
  type RedisAuditLogOptions,
} from './redis-audit-log.js';
export type {
  BulkRedriveFilter,
  BulkRedriveJob,
  BulkRedriveFailure,
  CircuitView,
  OpsClock,
} from './bulk-redrive.js';
export { REDACTED } from './redact.js';
export {
  OPS_PROBLEMS,
  OPS_PROBLEM_TYPE_BASE,
  OpsProblemError,
  isOpsProblemError,
  type OpsProblemCode,
} from './errors.js';
