import { createHash } from 'node:crypto';
import { faults, faultyServer, plans, type FaultyServer } from '@unfazed/testing';

/** The flaky barcode generator: a real HTTP server whose faults come from a seeded plan. */
export interface BarcodeGenerator {
  readonly url: string;
  readonly server: FaultyServer;
  /** Every call fails for the next `ms`: the generator is down when the first passengers arrive. */
  goDown(ms: number): void;
  /** Calls of the Unfazed route, and how many of them were retries of an earlier call. */
  stats(): { calls: number; retries: number; faults: number };
  close(): Promise<void>;
}

/** Options of {@link startBarcodeGenerator}. */
export interface BarcodeGeneratorOptions {
  readonly seed: number;
  /** Chance of a fault when the generator is up. */
  readonly faultRate: number;
}

/** The barcode of a passenger: the same for every call, as a real generator would keep it. */
export function barcodeFor(passengerId: string, flight: string): string {
  return `M1${flight}${createHash('sha256').update(`${flight}/${passengerId}`).digest('hex').slice(0, 10).toUpperCase()}`;
}

/**
 * Starts the barcode generator on a free port. `POST /barcodes` (the Unfazed story) answers
 * with a seeded mix of `500`, hangs and `503` + `Retry-After`: every call while it is down
 * ({@link BarcodeGenerator.goDown}), `faultRate` of them otherwise. `POST /v0/barcodes` (the story without Unfazed) fails its first call with a 500.
 */
export async function startBarcodeGenerator(
  options: BarcodeGeneratorOptions,
): Promise<BarcodeGenerator> {
  const error = faults.status(500, { body: { error: 'barcode printer offline' } });
  const hang = faults.hang();
  const busy = faults.status(503, {
    retryAfterMs: 1_000,
    body: { error: 'overloaded, come back later' },
  });
  const whenDown = [error, hang, busy];
  const whenUp = [error, error, hang, hang, busy];
  let downUntil = 0;
  const unfazedPlan = plans.when(
    (_call, random) => {
      // Draw on every call so that one seed always gives the same sequence.
      const hit = random.chance(options.faultRate);
      const down = random.pick(whenDown);
      const up = random.pick(whenUp);
      if (Date.now() < downUntil) return down;
      return hit ? up : 'pass';
    },
    {
      seed: options.seed,
      description: `down for a while (500 | hang | 503 + Retry-After), then ${options.faultRate * 100} % faults`,
    },
  );
  const handler = (req: { json<T>(): T }) => {
    const { passengerId, flight } = req.json<{ passengerId: string; flight: string }>();
    return { status: 201, body: { barcode: barcodeFor(passengerId, flight) } };
  };
  const server = await faultyServer({
    routes: {
      'POST /barcodes': { plan: unfazedPlan, handler },
      'POST /v0/barcodes': {
        plan: plans.times(1, faults.status(500, { body: { error: 'barcode printer offline' } })),
        handler,
      },
    },
  });
  return {
    url: server.url,
    server,
    goDown(ms) {
      downUntil = Date.now() + ms;
    },
    stats() {
      const calls = server.requestsTo('POST /barcodes');
      return {
        calls: calls.length,
        retries: calls.filter((r) => r.attempt > 1).length,
        faults: calls.filter((r) => r.fault !== undefined).length,
      };
    },
    close: () => server.close(),
  };
}
