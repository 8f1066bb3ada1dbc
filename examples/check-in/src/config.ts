/** Where the services listen: every one on 127.0.0.1, on a port the OS chose. */
export interface ServiceUrls {
  readonly barcode: string;
  readonly output: string;
  readonly card: string;
  readonly payment: string;
}

/** The timing knobs every process of one run shares (ms). */
export interface Timing {
  /** Wait budget of the check-in and payment services before they answer 202. */
  readonly wait: number;
  /** Deadline of the payment saga; past it the payment is compensated. */
  readonly paymentDeadline: number;
  /** Lease of a saga: how soon another worker takes over from a dead one. */
  readonly leaseMs: number;
}

/** What a worker process needs to join a run (passed as JSON in its environment). */
export interface WorkerConfig {
  readonly name: string;
  readonly urls: ServiceUrls;
  readonly timing: Timing;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  readonly seed: number;
  /** Credit every customer starts with, € (the credit ledger's default). */
  readonly initialCredit: number;
  /**
   * `--crash`: once armed by the parent, stop right after the first saga step call that a
   * downstream with side effects (output management, the card service) answered with success — the downstream
   * did the work, the worker has not recorded it — and tell the parent, which kills the worker
   * with SIGKILL. After `sideEffectsFirstMs` any successful call will do.
   */
  readonly freezeAfterFirstSuccess: boolean;
  readonly sideEffectsFirstMs: number;
}

/** A worker stopped after a successful call and before recording it (`--crash`). */
export interface FrozenMessage {
  readonly type: 'frozen';
  readonly id: string;
  /** The saga type and the step whose call succeeded. */
  readonly saga: string;
  readonly step: string;
  readonly status: number;
}

/** Environment variable carrying a {@link WorkerConfig}. */
export const WORKER_CONFIG_ENV = 'UNFAZED_DEMO_WORKER';

/** Key prefixes of each store under the run's Redis prefix. */
export const PREFIXES = {
  checkInQueue: 'check-in:durable:',
  paymentQueue: 'payment:durable:',
  outputKeys: 'output:idem:',
  cardKeys: 'card:idem:',
  paymentKeys: 'payment:idem:',
  credit: 'payment:credit:',
} as const;
