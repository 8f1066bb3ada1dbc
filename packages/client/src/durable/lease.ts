import { leaseClock } from './lease-clock.js';
import type { RunEnv } from './run.js';

/**
 * @internal How a lease was granted: the token the store gave for this claim (or create), the
 * worker's name for history and events, and when the command that granted it was sent.
 */
export interface LeaseGrant {
  /** The lease token (`record.owner` of the claimed or created record). */
  readonly token: string;
  /** The worker's id (or `start:<process>`), shown in history and events. */
  readonly worker: string;
  /**
   * {@link leaseClock} when the claim (or create) was sent. The store granted the lease when it
   * executed the command, later, by its clock: the lease surely lasts until `sentAt + leaseMs`.
   */
  readonly sentAt: number;
  /** The lease length granted, ms (`leaseUntil - updatedAt` of the record). */
  readonly leaseMs: number;
}

/**
 * @internal A lease held on one operation: renewed in the background at a third of its length,
 * and marked lost (with the in-flight attempt aborted) when the store says another owner has it.
 *
 * It also knows how long the lease surely holds by this process's own clock: from when the
 * command that granted (or renewed) it was *sent*, which is before the store executed it. An
 * attempt starts only while that holds, and is aborted (`lapsed`) if renewals stop coming back
 * before it runs out: past that point another worker may have claimed the operation, and two
 * attempts of one operation must never be in flight at once.
 */
export class Lease {
  readonly controller = new AbortController();
  lost = false;
  /** The lease ran out by this process's measure during an attempt, which was aborted. */
  lapsed = false;
  readonly owner: string;
  readonly worker: string;
  readonly #timer: NodeJS.Timeout;
  #validUntil: number;
  readonly #margin: number;
  #ended = false;

  readonly #stopSignal: AbortSignal | undefined;
  readonly #onStop = (): void => this.controller.abort(STOPPING);

  /**
   * `stopSignal` (a stopping worker) also aborts `controller`, without marking the lease lost:
   * one signal per run instead of an `AbortSignal.any` per attempt.
   */
  constructor(
    readonly env: Pick<RunEnv, 'store' | 'events' | 'leaseMs'>,
    readonly id: string,
    readonly type: string,
    grant: LeaseGrant,
    stopSignal?: AbortSignal,
  ) {
    this.owner = grant.token;
    this.worker = grant.worker;
    this.#validUntil = grant.sentAt + Math.min(grant.leaseMs, env.leaseMs);
    // Room for the abort to reach the socket and for a loaded event loop.
    this.#margin = Math.min(1_000, Math.max(20, Math.floor(env.leaseMs / 10)));
    this.#timer = setInterval(() => void this.#renew(), Math.max(50, Math.floor(env.leaseMs / 3)));
    this.#timer.unref();
    this.#stopSignal = stopSignal;
    if (stopSignal?.aborted) this.#onStop();
    else stopSignal?.addEventListener('abort', this.#onStop, { once: true });
  }

  /** True while the lease surely holds by this process's clock (with a margin). */
  holds(): boolean {
    return leaseClock() < this.#validUntil - this.#margin;
  }

  /** A write that extends the lease (renew, hook settle), sent at `sentAt`, succeeded. */
  extended(sentAt: number): void {
    this.#validUntil = Math.max(this.#validUntil, sentAt + this.env.leaseMs);
  }

  /**
   * Before an attempt: true when the lease surely holds, renewing it first when this process
   * cannot tell (the claim's reply came late). False when it still cannot (or the lease is lost).
   */
  async ensure(): Promise<boolean> {
    if (this.holds()) return true;
    await this.#renew();
    return !this.lost && this.holds();
  }

  /**
   * Arms the lapse check for the attempt about to be sent: when the lease runs out by this
   * process's measure, the attempt is aborted and `lapsed` set. Returns the disarm function.
   */
  guard(): () => void {
    let timer: NodeJS.Timeout | undefined;
    const check = (): void => {
      const left = this.#validUntil - this.#margin - leaseClock();
      if (left > 0) {
        timer = setTimeout(check, left);
        timer.unref();
        return;
      }
      if (this.controller.signal.aborted) return;
      this.lapsed = true;
      this.controller.abort(LAPSED);
    };
    check();
    return () => clearTimeout(timer);
  }

  async #renew(): Promise<void> {
    if (this.lost) return;
    const sentAt = leaseClock();
    try {
      const ok = await this.env.store.renew(this.id, this.owner, this.env.leaseMs);
      // A renewal that ran after the final write (queued behind it) finds nothing to renew.
      if (this.#ended) return;
      if (!ok) this.markLost();
      else this.extended(sentAt);
    } catch {
      // The store is unreachable: keep the lease as long as it lasts; the owner check decides.
    }
  }

  markLost(): void {
    if (this.lost) return;
    this.lost = true;
    this.controller.abort(new Error('lease lost'));
    this.env.events.emit('lease-lost', { id: this.id, type: this.type, worker: this.worker });
  }

  /** Stops renewing: the run ended, or its final write was sent. */
  end(): void {
    this.#ended = true;
    clearInterval(this.#timer);
    this.#stopSignal?.removeEventListener('abort', this.#onStop);
  }
}

/** Reason of the abort when a stopping worker ran out of patience (never thrown to users). */
const STOPPING = new Error('worker stopping');

/** Reason of the abort when the lease ran out during an attempt (never thrown to users). */
const LAPSED = new Error('lease lapsed');
