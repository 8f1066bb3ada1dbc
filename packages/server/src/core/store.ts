/**
 * The idempotency store interface. A store keeps one record per (scope, key): either a claim
 * in flight (an owner token and a lease) or a completed response. Every method is one atomic
 * step; the Redis store makes each one Redis round trip. Write your own by implementing
 * {@link IdempotencyStore}; the README lists the rules each method must keep.
 */

/** A response as kept for replay. */
export interface ReplayableResponse {
  /** HTTP status of the first answer. */
  status: number;
  /** Allow-listed response headers, lower-case names. */
  headers: Record<string, string>;
  /**
   * The body bytes, or `null` when the body was larger than `maxResponseBytes` and was not kept
   * ("completed, body not kept"): a replay then answers `response-not-retained`.
   */
  body: Uint8Array | null;
}

/** Input of {@link IdempotencyStore.claim}. */
export interface ClaimInput {
  /** Record key: a hex digest of scope and Idempotency-Key, never raw header text. */
  key: string;
  /** Hex digest of method, target, body and scope. */
  fingerprint: string;
  /** Unique token naming this claim's owner; completion and release must present it. */
  owner: string;
  /** How long the claim stays in flight unless renewed, ms. */
  leaseMs: number;
}

/** What {@link IdempotencyStore.claim} found. */
export type ClaimResult =
  /** No live record: the caller now owns the key. `recovered` when an expired lease was taken over. */
  | { outcome: 'claimed'; recovered: boolean }
  /** A live record (in flight or completed) with another fingerprint. */
  | { outcome: 'mismatch' }
  /** A live claim with the same fingerprint; its lease has `leaseRemainingMs` left. */
  | { outcome: 'in-flight'; leaseRemainingMs: number }
  /** A completed record with the same fingerprint. */
  | { outcome: 'completed'; response: ReplayableResponse };

/** Input of {@link IdempotencyStore.complete}. */
export interface CompleteInput {
  key: string;
  owner: string;
  /** The claim's fingerprint, kept with the outcome (a record lost since the claim is rewritten). */
  fingerprint: string;
  response: ReplayableResponse;
  /** How long the completed record is kept, ms. */
  retentionMs: number;
}

/** Input of {@link IdempotencyStore.release} and {@link IdempotencyStore.renew}. */
export interface OwnerInput {
  key: string;
  owner: string;
}

/**
 * Where idempotency records live. Rules every implementation keeps:
 * - `claim` is atomic: of concurrent claims on one key exactly one gets `claimed`. A completed or
 *   in-flight record with another fingerprint gives `mismatch` (checked before in-flight). A claim
 *   whose lease has expired counts as absent and is taken over (`recovered: true`).
 * - `release` and `renew` act only while `owner` still holds the in-flight claim and return
 *   `false` otherwise. `complete` stores while no other owner holds the key: `owner` holds the
 *   claim, or the record is gone (lost in a restart, or long expired), and returns `false` when
 *   another owner's record is there (a slow old owner can never overwrite a newer record). A
 *   record `owner` completed already answers `true` again: the middleware repeats a completion
 *   whose answer was lost.
 * - an in-flight record never outlives its lease by much; a completed one is kept `retentionMs`.
 */
export interface IdempotencyStore {
  /** Claims `key`, or reports the live record's state (a replay gets its response here). */
  claim(input: ClaimInput): Promise<ClaimResult>;
  /** Turns the owner's claim into a completed record. `false` when another owner holds the key. */
  complete(input: CompleteInput): Promise<boolean>;
  /** Deletes the owner's claim so the key can run again. `false` when the owner lost it. */
  release(input: OwnerInput): Promise<boolean>;
  /** Extends the owner's lease to `leaseMs` from now. `false` when the owner lost the claim. */
  renew(input: OwnerInput & { leaseMs: number }): Promise<boolean>;
}
