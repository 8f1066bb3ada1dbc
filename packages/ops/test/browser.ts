/**
 * The browser setup of the web UI's tests and of the README's screenshots
 * (`docs-screenshots.ts`): Debian's chromium driven by playwright-core, and a console over a
 * durable instance holding failed, dead and compensated work and a saga.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { createClient } from '@unfazed/client';
import { createDurable, type Durable, type DurableStore } from '@unfazed/client/durable';
import { startOpsServer, type OpsAuditLog, type OpsServer } from '@unfazed/ops';

/** Debian's chromium (`apt-get install -y chromium`); `UNFAZED_CHROMIUM` overrides the path. */
export const CHROMIUM = process.env['UNFAZED_CHROMIUM'] ?? '/usr/bin/chromium';

/** Launches headless chromium, or fails saying how to install it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The web UI's browser tests need Debian's chromium at ${CHROMIUM}, which is missing. ` +
        'Install it with `sudo apt-get update && sudo apt-get install -y chromium` ' +
        '(.ci/run does this), or set UNFAZED_CHROMIUM to a Chromium/Chrome binary.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 20_000,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** The input holding markup: the UI must show it as text. */
export const XSS_NOTE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">';

export interface Fixture {
  readonly server: OpsServer;
  /** `http://127.0.0.1:port/ops/`: the UI's page. */
  readonly ui: string;
  readonly durable: Durable;
  readonly ids: {
    readonly failed: readonly string[];
    readonly xss: string;
    readonly dead: string;
    readonly saga: string;
  };
  close(): Promise<void>;
}

/**
 * A loopback downstream (`/charge`: 404, a final failure; `/inventory`: 503, retried until the
 * attempts run out) and a console over `store` with: 4 failed `charge` operations (one whose
 * input holds {@link XSS_NOTE}), a dead `sync-inventory` after 3 attempts, and a compensated
 * `checkout` saga (reserve → charge-card, which fails → the reservation is released).
 */
export async function startFixture(store: DurableStore, audit: OpsAuditLog): Promise<Fixture> {
  const downstream: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const status = req.url === '/inventory' ? 503 : req.url === '/notices' ? 200 : 404;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status === 404 ? { error: 'no such card' } : { ok: status < 300 }));
    });
  });
  await new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}`;
  const client = createClient({ baseUrl, breaker: false });
  const durable = createDurable({ client, store, backoff: { initialMs: 10, maxMs: 10 } });
  const charge = durable.operation<unknown>('charge', {
    request: (input) => ({ method: 'POST', path: '/charge', json: input }),
    maxAttempts: 1,
  });
  const inventory = durable.operation<unknown>('sync-inventory', {
    request: (input) => ({ method: 'POST', path: '/inventory', json: input }),
    maxAttempts: 3,
  });
  const checkout = durable.saga<{ order: string; amount: number }>('checkout', {
    deadline: 10_000,
    steps: [
      {
        name: 'reserve',
        run: async (input) => ({ reserved: input.order }),
        compensate: async () => undefined,
      },
      {
        name: 'charge-card',
        request: (input) => ({ method: 'POST', path: '/charge', json: input }),
        maxAttempts: 1,
      },
      { name: 'notify', request: (input) => ({ method: 'POST', path: '/notices', json: input }) },
    ],
  });

  const worker = durable.startWorker({ pollInterval: 10 });
  const failed: string[] = [];
  let xss = '';
  let dead = '';
  let saga = '';
  try {
    for (let i = 0; i < 4; i++) {
      const out = await charge.start({
        order: `ord-${1000 + i}`,
        customer: `cust-${i}`,
        amount: 10 + i,
        note: i === 3 ? XSS_NOTE : 'plain',
      });
      failed.push(out.id);
      if (i === 3) xss = out.id;
    }
    dead = (await inventory.start({ sku: 'sku-77', warehouse: 'ams-1' }, { wait: 0 })).id;
    saga = (await checkout.start({ order: 'ord-2000', amount: 42 }, { wait: 0 })).id;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [d, s] = await Promise.all([durable.status(dead), durable.status(saga)]);
      if (d?.state === 'dead' && s?.state === 'compensated') break;
      if (Date.now() > deadline) throw new Error(`fixture not settled: ${d?.state} / ${s?.state}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await worker.stop({ timeout: 2000 });
  }

  const server = await startOpsServer({
    durable,
    audit,
    redact: ['card.number'],
    authorize: () => ({ allow: true, who: 'sre@example.com' }),
    host: '127.0.0.1',
  });
  return {
    server,
    ui: `${server.url}/ops/`,
    durable,
    ids: { failed, xss, dead, saga },
    async close() {
      await server.close();
      await new Promise<void>((resolve) => {
        downstream.close(() => resolve());
        downstream.closeAllConnections();
      });
    },
  };
}
