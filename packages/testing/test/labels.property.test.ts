// The central claim of the fault labels, checked on random plans: a `beforeSend` fault never
// ran the server's handler, an `afterSend` or `midBody` one always did, and a call that passed
// got the handler's answer — for faultyServer and for faultInterceptor in front of a server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { faultInterceptor, faults, faultyServer, plans, type Fault } from '@unfazed/testing';
import { observe } from './observe.js';

const faultArb: fc.Arbitrary<Fault | 'pass'> = fc.oneof(
  fc.constant('pass' as const),
  fc.constantFrom(500, 503, 429).map((s) => faults.status(s)),
  fc.constantFrom(502, 504).map((s) => faults.status(s, { label: 'afterSend' })),
  fc.constant(faults.reset()),
  fc.constant(faults.lostResponse()),
  fc.integer({ min: 0, max: 20 }).map((n) => faults.closeMidBody({ afterBytes: n })),
  fc.constant(faults.slowBody({ chunkSize: 16, intervalMs: 1 })),
);

const ANSWER = 'handled:'.padEnd(48, '.');
const agent = new Agent({ keepAliveTimeout: 10 });
afterAll(async () => {
  await agent.close();
});

function expectMatchesLabel(
  step: Fault | 'pass',
  handled: boolean,
  seen: Awaited<ReturnType<typeof observe>>,
) {
  if (step === 'pass' || step.kind === 'slowBody') {
    expect(handled).toBe(true);
    expect(seen).toMatchObject({ kind: 'answer', body: ANSWER });
    return;
  }
  expect(handled).toBe(step.label !== 'beforeSend');
  if (step.kind === 'status') expect(seen).toMatchObject({ kind: 'answer', status: step.status });
  else expect(seen).toMatchObject({ kind: 'error' });
}

describe('labels tell the truth (property)', () => {
  it('faultyServer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(faultArb, { minLength: 1, maxLength: 6 }), async (steps) => {
        let handled = 0;
        const server = await faultyServer({
          plan: plans.sequence(steps),
          handler: () => {
            handled++;
            return { body: ANSWER };
          },
        });
        try {
          for (const step of steps) {
            const before = handled;
            const seen = await observe(`${server.url}/op`, {
              method: 'POST',
              body: 'x',
              dispatcher: agent,
            });
            expectMatchesLabel(step, handled > before, seen);
          }
          server.assertAllFaultsFired();
        } finally {
          await server.close();
        }
      }),
      { numRuns: 12 },
    );
  });

  describe('faultInterceptor', () => {
    let server: Server;
    let url: string;
    let handled = 0;
    beforeAll(async () => {
      server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          handled++;
          res.writeHead(200, { 'content-type': 'text/plain' }).end(ANSWER);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/op`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    it('in front of a plain node:http server', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(faultArb, { minLength: 1, maxLength: 6 }), async (steps) => {
          const chaos = faultInterceptor({ plan: plans.sequence(steps) });
          const dispatcher = agent.compose(chaos);
          for (const step of steps) {
            const before = handled;
            const seen = await observe(url, { method: 'POST', body: 'x', dispatcher });
            expectMatchesLabel(step, handled > before, seen);
          }
          chaos.assertAllFaultsFired();
        }),
        { numRuns: 12 },
      );
    });
  });
});
