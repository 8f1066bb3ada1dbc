/**
 * One run of the demo: starts the services (and the worker processes with Redis), plays the
 * stories, prints the timeline and the summary. Loaded by main.ts once the flags are valid.
 */
import type { Durable, DurableWorker } from '@unfazed/client/durable';
import type { FrozenMessage, Timing, WorkerConfig } from './config.js';
import { crashPlan } from './crash.js';
import { passenger, runDriver } from './driver.js';
import { eventPrinter } from './event-printer.js';
import { observe } from './events.js';
import { runNaive } from './naive.js';
import { checkInQueue, paymentQueue } from './operations.js';
import type { DemoOptions } from './options.js';
import { startBarcodeGenerator } from './services/barcode-generator.js';
import { startCardService } from './services/card-service.js';
import { startCheckInService } from './services/check-in-service.js';
import { startOutputManagement } from './services/output-management.js';
import { startPaymentService } from './services/payment-service.js';
import { memoryStores, redisStores, type Stores } from './stores.js';
import { startDemoConsole } from './ops-console.js';
import { printSummary, summarize } from './summary.js';
import { targetNames } from './targets.js';
import { createTimeline, wantsColor, type Timeline } from './timeline.js';
import { startWorkerProcess, stopWorkerProcess, type WorkerProcess } from './worker-processes.js';

const INITIAL_CREDIT = 100;

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * Runs the demo; resolves with the exit code (0: every invariant held). With `--ops` it calls
 * `storyDone` after the summary and serves the operations console until SIGINT or SIGTERM.
 */
export async function run(
  options: DemoOptions,
  runStart: number,
  storyDone: () => void = () => undefined,
): Promise<number> {
  const out = options.json ? process.stderr : process.stdout;
  const timeline = createTimeline({
    out,
    color: wantsColor(out, process.env),
    enabled: !options.quiet,
    start: runStart,
  });
  const timing: Timing = {
    wait: options.wait,
    paymentDeadline: options.paymentDeadline,
    leaseMs: 1_500,
  };
  const closers: (() => Promise<unknown>)[] = [];
  const stores: Stores = options.redisUrl
    ? await redisStores(options.redisUrl, options.redisPrefix, INITIAL_CREDIT)
    : memoryStores(INITIAL_CREDIT);
  closers.push(() => stores.close());
  let closing: Promise<void> | undefined;
  const closeAll = (): Promise<void> =>
    (closing ??= (async () => {
      for (const close of closers.reverse()) {
        await Promise.resolve()
          .then(close)
          .catch((error: unknown) =>
            process.stderr.write(`demo: while closing: ${String(error)}\n`),
          );
      }
    })());
  // Ctrl-C: stop the workers and delete the run's Redis keys before leaving.
  const interrupted = (): void => {
    process.stderr.write('\ndemo: interrupted, cleaning up…\n');
    void closeAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  try {
    const say = (actor: string) => (text: string, tone?: Parameters<Timeline['line']>[2]) =>
      timeline.line(actor, text, tone);
    // What the sagas and breakers report, in this process and the workers.
    const { onEvent, breaker, sagas } = eventPrinter(timeline);
    const barcode = await startBarcodeGenerator({
      seed: options.seed,
      faultRate: 0.15,
    });
    closers.push(() => barcode.close());
    const output = await startOutputManagement({
      store: stores.outputKeys,
      seed: options.seed,
      lostResponseRate: 0.3,
      dedupe: !options.withoutIdempotency,
      say: say('output management'),
    });
    closers.push(() => output.close());
    const card = await startCardService({
      store: stores.cardKeys,
      seed: options.seed,
      say: say('card service'),
    });
    closers.push(() => card.close());
    // The payment saga's local steps write the credit ledger here (a start within its wait) and
    // in the workers.
    const pq = paymentQueue(
      stores.paymentQueue,
      { card: card.url },
      timing,
      stores.credit,
      (text, tone) =>
        onEvent({ kind: 'credit', text, ...(tone ? { tone } : {}), process: 'payment service' }),
    );
    closers.push(() => pq.client.close());
    const payment = await startPaymentService({
      store: stores.paymentKeys,
      wait: options.wait,
      queue: pq,
    });
    closers.push(() => payment.close());
    const urls = { barcode: barcode.url, output: output.url, card: card.url, payment: payment.url };
    const checkIn = checkInQueue(stores.checkInQueue, urls, timing);
    const checkInService = await startCheckInService({
      queue: checkIn,
      barcodeUrl: barcode.url,
      outputUrl: output.url,
      wait: options.wait,
      say: say('check-in service'),
    });
    closers.push(() => checkInService.close());
    closers.push(() => checkIn.client.close());

    let onFrozen: (message: FrozenMessage) => void = () => undefined;
    const targets = targetNames(urls);
    observe(checkIn.durable, checkIn.client, 'check-in service', targets, onEvent);
    observe(pq.durable, pq.client, 'payment service', targets, onEvent);

    // Without Unfazed.
    let naive: { errorsShown: number; boardingPasses: number } | undefined;
    if (!options.skipNaive) {
      timeline.section('without Unfazed: plain calls, the error goes to the passenger');
      const r = await runNaive(checkInService.url, timeline);
      naive = { errorsShown: r.errorsShown, boardingPasses: output.naiveLedger.count('P00') };
      timeline.note(
        `${r.errorsShown} error messages, and ${naive.boardingPasses} boarding passes for one passenger.`,
        'bad',
      );
    }

    // With Unfazed: workers here (memory) or in their own processes (Redis).
    const workerStats: { started: number; killed: number; killedWorker?: string } = {
      started: 0,
      killed: 0,
    };
    const inProcess: DurableWorker[] = [];
    const processes: WorkerProcess[] = [];
    const workerConfig = (name: string, freeze = false): WorkerConfig => ({
      name,
      urls,
      timing,
      redisUrl: options.redisUrl ?? '',
      redisPrefix: options.redisPrefix,
      seed: options.seed,
      initialCredit: INITIAL_CREDIT,
      freezeAfterFirstSuccess: freeze,
      sideEffectsFirstMs: 2_000,
    });
    if (stores.kind === 'memory') {
      inProcess.push(
        checkIn.durable.startWorker({ pollInterval: 50, name: 'check-in worker' }),
        pq.durable.startWorker({ pollInterval: 50, name: 'payment worker' }),
      );
    } else {
      // With --crash the victim runs alone until it is killed, so that it surely holds
      // operations when it dies; the other workers start with its replacement.
      const first = options.crash ? 1 : options.workers;
      const started = await Promise.all(
        Array.from({ length: first }, (_, i) =>
          startWorkerProcess(
            workerConfig(`worker-${i + 1}`, options.crash && i === 0),
            onEvent,
            (m) => onFrozen(m),
          ),
        ),
      );
      processes.push(...started);
      workerStats.started = started.length;
    }
    closers.push(() => Promise.all(inProcess.map((w) => w.stop({ timeout: 2_000 }))));
    closers.push(() => Promise.all(processes.map((w) => stopWorkerProcess(w))));

    timeline.section(
      `with Unfazed: ${plural(options.passengers, 'passenger')}, ${plural(options.payments, 'payment')}, ${stores.kind === 'memory' ? 'in-memory stores' : `Redis, ${plural(processes.length, 'worker process', 'worker processes')}`}`,
    );
    if (options.withoutIdempotency)
      timeline.note(
        'output management runs WITHOUT the idempotency middleware (--without-idempotency)',
        'bad',
      );
    if (processes.length > 0)
      timeline.note(`workers: ${processes.map((w) => `${w.name} (pid ${w.pid})`).join(', ')}`);

    const victim = options.crash ? processes[0] : undefined;
    const crash = victim
      ? crashPlan({
          victim,
          timeline,
          fallbackMs: 5_000,
          subjectOf: async (id) =>
            (await stores.checkInQueue.get(id))?.key ??
            (await stores.paymentQueue.get(id))?.key ??
            id,
          restart: async () => {
            const more = await Promise.all(
              Array.from({ length: options.workers }, (_, i) =>
                startWorkerProcess(workerConfig(`worker-${processes.length + i + 1}`), onEvent),
              ),
            );
            processes.push(...more);
            workerStats.started += more.length;
            return more[0] as WorkerProcess;
          },
        })
      : undefined;
    if (crash) onFrozen = (m) => crash.onFrozen(m);

    const storyStart = Date.now();
    if (victim?.child.connected) victim.child.send({ type: 'arm' });
    barcode.goDown(1_000);
    timeline.line(
      'barcode generator',
      'down for the next second, then flaky (seeded 500s, hangs, 503 + Retry-After)',
      'dim',
    );
    const ui = await runDriver({
      checkInUrl: checkInService.url,
      paymentUrl: payment.url,
      passengers: options.passengers,
      payments: options.payments,
      seed: options.seed,
      giveUpAt: storyStart + options.timeout,
      start: runStart,
      say: (actor, text, tone) => timeline.line(actor, text, tone),
    });
    const crashed = await crash?.done();
    if (crashed) {
      workerStats.killed++;
      workerStats.killedWorker = `${crashed.killed.name} killed with SIGKILL ${crashed.why}`;
    }

    // Sagas a worker took over after another's lease ran out (the killed one's).
    let takeovers = 0;
    if (workerStats.killed > 0) {
      const histories = await Promise.all([
        ...checkInService.operationIds().map((id) => stores.checkInQueue.history(id)),
        ...payment.operationIds().map((id) => stores.paymentQueue.history(id)),
      ]);
      for (const history of histories)
        takeovers += history.filter((h) => h.kind === 'lease-expired').length;
    }

    const summary = summarize({
      mode: stores.kind,
      seed: options.seed,
      workers: { ...workerStats, takeovers },
      passengerIds: Array.from(
        { length: options.passengers },
        (_, i) => passenger(i + 1).passengerId,
      ),
      paymentIds: Array.from({ length: options.payments }, (_, j) => `PAY-${j + 1}`),
      checkInAnswers: checkInService.answers(),
      paymentAnswers: payment.answers(),
      ui,
      passes: output.ledger,
      credit: await stores.credit.snapshot(),
      card: card.ledger,
      initialCredit: INITIAL_CREDIT,
      sagas,
      output: output.stats(),
      barcodeRetries: barcode.stats().retries,
      cardRetries: card.stats().retries,
      breaker,
      storyStart,
      runStart,
      ...(naive ? { naive } : {}),
    });
    if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else printSummary(summary, process.stdout, timeline.paint);
    const code = summary.invariants.ok ? 0 : 1;
    if (options.ops) {
      storyDone();
      process.off('SIGINT', interrupted);
      await serveConsole(options, checkIn.durable, pq.durable, closers, out);
    }
    return code;
  } finally {
    process.off('SIGINT', interrupted);
    await closeAll();
  }
}

/**
 * `--ops`: the operations console over both queues (the services and workers keep running),
 * its URL printed, until Ctrl-C (SIGINT) or SIGTERM; the caller then closes everything.
 */
async function serveConsole(
  options: DemoOptions,
  checkIn: Durable,
  payment: Durable,
  closers: (() => Promise<unknown>)[],
  out: NodeJS.WritableStream,
): Promise<void> {
  const ops = await startDemoConsole({
    checkIn,
    payment,
    port: options.opsPort,
    ...(options.redisUrl ? { redis: { url: options.redisUrl, prefix: options.redisPrefix } } : {}),
  });
  closers.push(() => ops.close());
  const api = ops.url.replace(/\/$/, '');
  out.write(
    [
      '',
      `ops console  ${ops.url}`,
      `             payments (the compensated ones) here; check-in sagas at ${ops.checkInUrl}`,
      `  API        ${api}/api/queues, ${api}/api/operations?state=compensated`,
      `  CLI        UNFAZED_OPS_URL=${api} unfazed-ops search --state compensated`,
      '  authorize  allows every request from this machine (loopback) as "demo (local)" and',
      '             refuses any other: a demo setting; a real app checks its own session',
      '  the services and workers keep running; Ctrl-C stops everything',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      out.write('\ndemo: stopping the console, the services and the workers…\n');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
