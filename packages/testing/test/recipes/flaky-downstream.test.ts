// Recipe "flaky downstream": a dependency that fails a few times, or at a seeded random rate,
// and code under test that must still get its answer. Plain undici stands in for your client.
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { Agent, request } from 'undici';
import { parseRetryAfter } from '@unfazed/contract';
import { faults, faultyServer, plans, withReplayHint, type FaultyServer } from '@unfazed/testing';

/** The code under test: GET /quote, retrying 429/503 (honouring Retry-After) and network errors. */
async function getQuote(baseUrl: string, dispatcher: Agent, maxAttempts = 4): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    let waitMs = 5;
    try {
      const res = await request(`${baseUrl}/quote`, {
        dispatcher,
        signal: AbortSignal.timeout(2000),
      });
      if (res.statusCode === 200) return await res.body.json();
      await res.body.dump();
      if (![429, 503].includes(res.statusCode) || attempt >= maxAttempts) {
        throw new Error(`GET /quote failed with status ${res.statusCode}`);
      }
      waitMs = Math.min(parseRetryAfter(res.headers['retry-after']) ?? waitMs, 50);
    } catch (error) {
      if (attempt >= maxAttempts || (error as Error).message.startsWith('GET /quote failed'))
        throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}

let server: FaultyServer | undefined;
const agent = new Agent({ keepAliveTimeout: 10 });
afterEach(async () => {
  await server?.close();
  server = undefined;
});
afterAll(async () => {
  await agent.close();
});

describe('recipe: flaky downstream', () => {
  it('503 twice (with Retry-After), then the answer', async () => {
    server = await faultyServer({
      routes: {
        'GET /quote': {
          plan: plans.times(2, faults.status(503, { retryAfterMs: 0 })),
          handler: () => ({ body: { price: 42 } }),
        },
      },
    });

    expect(await getQuote(server.url, agent)).toEqual({ price: 42 });

    expect(server.requests.map((r) => [r.attempt, r.fault?.kind ?? 'pass'])).toEqual([
      [1, 'status'],
      [2, 'status'],
      [3, 'pass'],
    ]);
    server.assertAllFaultsFired(); // fails if the code under test stopped calling early
  });

  it('gives up after maxAttempts: the test sees the error', async () => {
    server = await faultyServer({ routes: { 'GET /quote': plans.always(faults.status(503)) } });
    await expect(getQuote(server.url, agent, 3)).rejects.toThrow('status 503');
    expect(server.requests).toHaveLength(3);
  });

  it('seeded chaos: 30% of calls fail in mixed ways, every quote still arrives', async () => {
    server = await faultyServer({
      routes: {
        'GET /quote': {
          // Fix the seed to replay a failure; UNFAZED_SEED=<n> does it for unseeded plans.
          plan: plans.rate(0.3, [faults.status(503), faults.reset(), faults.closeMidBody()], {
            seed: 20260101,
            maxFaults: 6,
          }),
          handler: () => ({ body: { price: 42 } }),
        },
      },
    });

    const url = server.url;
    // On failure, the message ends with the injected faults and "replay with seed=...".
    await withReplayHint(server, async () => {
      for (let i = 0; i < 10; i++) expect(await getQuote(url, agent, 8)).toEqual({ price: 42 });
    });
    expect(server.events.length).toBeGreaterThan(0);
    expect(server.replayHint()).toContain('seed=20260101');
  });
});
