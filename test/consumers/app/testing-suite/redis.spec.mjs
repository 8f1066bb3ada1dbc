// A jest suite written from packages/testing/README.md, against the packed @unfazed/testing.
import { createServer } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createHistory, createLedger, faultProxy, runChild } from '@unfazed/testing';

const upstream = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('@unfazed/testing from the packed tarball', () => {
  it('runs a TypeScript child named by a URL', async () => {
    const child = await runChild(new URL('./child.ts', import.meta.url));
    const exit = await child.exited;
    expect(exit.stderr).toBe('');
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain('child run 1 key ok');
    expect(exit.checkpoints.map((c) => c.name)).toEqual(['started']);
  });

  it('puts a fault proxy in front of Redis and tears it down after quit()', async () => {
    const proxy = await faultProxy({ upstream });
    const redis = new Redis(proxy.url('redis'), { maxRetriesPerRequest: 1 });
    expect(await redis.ping()).toBe('PONG');
    proxy.addToxic({ type: 'latency', latency: 50 });
    const started = Date.now();
    await redis.ping();
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    await redis.quit();
    await proxy.close();
  });

  it('tears a Redis proxy down after quit() then cut(), and after disconnect()', async () => {
    const proxy = await faultProxy({ upstream });
    const quitting = new Redis(proxy.url('redis'), { maxRetriesPerRequest: 1 });
    await quitting.set('unfazed:consumer:proxy', '1', 'PX', 1_000);
    await quitting.quit();
    proxy.cut();
    const dropping = new Redis(proxy.url('redis'), { maxRetriesPerRequest: 1 });
    await dropping.ping();
    dropping.disconnect();
    await proxy.close();
  });

  it('tears an HTTP proxy down after a Connection: close exchange', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = await faultProxy({
      upstream: { host: '127.0.0.1', port: server.address().port },
    });
    const res = await fetch(proxy.url(), { headers: { connection: 'close' } });
    expect(await res.text()).toBe('ok');
    await proxy.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('has the exactly-once matchers from the setup file', async () => {
    const ledger = createLedger();
    const history = createHistory();
    await history.track('k1', async () => {
      ledger.record('k1', { amount: 1 });
      return { status: 201 };
    });
    expect(history).toHaveAppliedExactlyOnce(ledger);
  });
});
