/**
 * `pnpm demo --ops`: the operations console of @unfazed/ops over the demo's two durable queues,
 * on one loopback server, after the story: the payment sagas at `/ops` (the compensated ones
 * are there), the check-in sagas at `/ops/check-in`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import type { Durable } from '@unfazed/client/durable';
import { memoryAuditLog, redisAuditLog, type OpsAuthorize, type OpsAuditLog } from '@unfazed/ops';
import { opsConsole } from '@unfazed/ops';
import { opsExpress } from '@unfazed/ops/express';
import { closeServer } from './http.js';

/** A running demo console. */
export interface DemoConsole {
  /** `http://127.0.0.1:<port>/ops/` (the payment queue). */
  readonly url: string;
  /** `http://127.0.0.1:<port>/ops/check-in/` (the check-in queue). */
  readonly checkInUrl: string;
  close(): Promise<void>;
}

/** Options of {@link startDemoConsole}. */
export interface DemoConsoleOptions {
  readonly payment: Durable;
  readonly checkIn: Durable;
  /** 0: a port the OS chose. */
  readonly port: number;
  /** Redis mode: the audit logs go to Redis under this prefix (deleted with the run's keys). */
  readonly redis?: { readonly url: string; readonly prefix: string };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * The demo's `authorize`: anyone on this machine (a loopback peer) may read and act, as
 * `demo (local)`; nothing else may. A real app checks its own session instead.
 */
export const localOnly: OpsAuthorize<express.Request> = (req) =>
  LOOPBACK.has(req.socket.remoteAddress ?? '')
    ? { allow: true, who: 'demo (local)' }
    : { allow: false, status: 403, message: 'the demo console answers this machine only' };

/** Serves both consoles on `127.0.0.1:<port>`. */
export async function startDemoConsole(o: DemoConsoleOptions): Promise<DemoConsole> {
  const redis = o.redis ? new Redis(o.redis.url, { lazyConnect: true }) : undefined;
  if (redis) await redis.connect();
  const audit = (name: string): OpsAuditLog =>
    redis && o.redis
      ? redisAuditLog(redis, { prefix: `${o.redis.prefix}ops:${name}:` })
      : memoryAuditLog();
  const checkIn = opsConsole({
    durable: o.checkIn,
    authorize: localOnly,
    basePath: '/ops/check-in',
    audit: audit('check-in'),
  });
  const payment = opsConsole({
    durable: o.payment,
    authorize: localOnly,
    basePath: '/ops',
    audit: audit('payment'),
    // The customers' ids are personal data: masked in every answer and in the audit log.
    redact: ['customerId'],
  });
  const app = express();
  // The longer base path first: the payment console would answer everything under /ops.
  app.use(opsExpress(checkIn));
  app.use(opsExpress(payment));
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', () => resolve());
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/ops/`,
    checkInUrl: `${base}/ops/check-in/`,
    async close() {
      await Promise.all([checkIn.close(), payment.close()]);
      await closeServer(server);
      if (redis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}
