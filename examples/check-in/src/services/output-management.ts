import { createServer } from 'node:http';
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import type { IdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/express';
import { createLedger, faults, plans, type FaultPlan, type Ledger } from '@unfazed/testing';
import { closeServer, keyOf, listen, requireJsonBody } from '../http.js';
import type { Tone } from '../timeline.js';

/** Output management: sends boarding passes (Express, behind the Idempotency-Key middleware). */
export interface OutputManagement {
  readonly url: string;
  /** Boarding passes really sent in the Unfazed story, by passenger. */
  readonly ledger: Ledger;
  /** Boarding passes sent by the route without Unfazed, by passenger. */
  readonly naiveLedger: Ledger;
  /** Requests, retries, responses lost on purpose, and retries answered from the store. */
  stats(): {
    calls: number;
    retries: number;
    lostResponses: number;
    replayed: number;
    conflicts: number;
  };
  close(): Promise<void>;
}

/** Options of {@link startOutputManagement}. */
export interface OutputManagementOptions {
  readonly store: IdempotencyStore;
  readonly seed: number;
  /** Chance that the answer to a first attempt is lost after the pass was sent. */
  readonly lostResponseRate: number;
  /** False: no idempotency middleware (what goes wrong without it). */
  readonly dedupe: boolean;
  readonly say: (text: string, tone?: Tone) => void;
}

/**
 * The lost-response fault, decided by a plan of @unfazed/testing: the handler runs (the pass is
 * sent), then the connection is reset instead of answering. Mounted before the idempotency
 * middleware, so the middleware still stores the answer that never arrived.
 */
function loseResponses(plan: FaultPlan, onLost: (key: string) => void): RequestHandler {
  const attempts = new Map<string, number>();
  return (req, res, next) => {
    const key = keyOf(req.headers['idempotency-key']) || `${req.method} ${req.path}`;
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    const fault = plan.next({
      transport: 'server',
      key,
      attempt,
      method: req.method,
      path: req.path,
    });
    if (fault?.kind === 'lostResponse') {
      res.end = function () {
        onLost(key);
        res.socket?.destroy();
        return res;
      } as typeof res.end;
    }
    next();
  };
}

/** Starts output management on a free port. */
export async function startOutputManagement(
  options: OutputManagementOptions,
): Promise<OutputManagement> {
  const ledger = createLedger();
  const naiveLedger = createLedger();
  const counts = { calls: 0, retries: 0, lostResponses: 0, replayed: 0, conflicts: 0 };
  const seenKeys = new Set<string>();
  const passengerOfKey = new Map<string, string>();
  const who = (key: string): string => passengerOfKey.get(key) ?? key.slice(0, 8);
  const app = express();

  const unfazedPlan = plans.when(
    (call, random) =>
      random.chance(options.lostResponseRate) && call.attempt === 1
        ? faults.lostResponse()
        : 'pass',
    {
      seed: options.seed,
      description: `lost response on ${options.lostResponseRate * 100} % of first attempts`,
    },
  );
  app.post(
    '/boarding-passes',
    (req, _res, next) => {
      counts.calls++;
      const key = keyOf(req.headers['idempotency-key']);
      if (seenKeys.has(key)) counts.retries++;
      seenKeys.add(key);
      next();
    },
    loseResponses(unfazedPlan, (key) => {
      counts.lostResponses++;
      options.say(`pass sent to ${who(key)}, then the response was lost (fault)`, 'warn');
    }),
    options.dedupe
      ? idempotency({
          store: options.store,
          on: {
            replayed: (e) => {
              counts.replayed++;
              options.say(
                `retry for ${who(e.key)} answered from the idempotency store: no second pass`,
                'ok',
              );
            },
            conflict: () => {
              counts.conflicts++;
            },
          },
        })
      : (_req: Request, _res: Response, next: NextFunction) => next(),
    express.json(),
    requireJsonBody,
    (req, res) => {
      const pass = req.body as { passengerId: string; name: string; barcode: string };
      passengerOfKey.set(keyOf(req.headers['idempotency-key']), pass.passengerId);
      const n = ledger.record(pass.passengerId, {
        barcode: pass.barcode,
        key: keyOf(req.headers['idempotency-key']),
      });
      options.say(
        `boarding pass #${n} e-mailed to ${pass.passengerId} ${pass.name}`,
        n > 1 ? 'bad' : 'plain',
      );
      res.status(201).json({ passengerId: pass.passengerId, sent: true });
    },
  );

  // The same service as it was before Unfazed: no key, no dedupe; its first answer is lost.
  const naivePlan = plans.times(1, faults.lostResponse());
  app.post(
    '/v0/boarding-passes',
    loseResponses(naivePlan, () => {
      options.say('pass sent, then the response was lost (fault)', 'warn');
    }),
    express.json(),
    (req, res) => {
      const pass = req.body as { passengerId: string; name: string };
      const n = naiveLedger.record(pass.passengerId, {});
      options.say(
        `boarding pass #${n} e-mailed to ${pass.passengerId} ${pass.name}`,
        n > 1 ? 'bad' : 'plain',
      );
      res.status(201).json({ passengerId: pass.passengerId, sent: true });
    },
  );

  const server = createServer(app);
  const url = await listen(server);
  return {
    url,
    ledger,
    naiveLedger,
    stats: () => ({ ...counts }),
    close: () => closeServer(server),
  };
}
