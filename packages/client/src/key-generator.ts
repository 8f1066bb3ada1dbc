import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

const KEY_BYTES = 16;
const POOL_KEYS = 256;
const pool = new Uint8Array(KEY_BYTES * POOL_KEYS);
let offset = pool.length;
const state = { msecs: -Infinity, seq: 0 };

/**
 * A new Idempotency-Key: a UUIDv7, as `generateIdempotencyKey()` of the contract makes, with
 * the same per-process monotonic sequence, but with its random bytes taken from a pool filled
 * 4 KiB at a time. `uuid` asks `crypto.getRandomValues` for 16 bytes per key, which on
 * Node 20 costs several µs, as much as the rest of the client's work on a POST.
 */
export function generateKey(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const random = pool.subarray(offset, offset + KEY_BYTES);
  offset += KEY_BYTES;
  // The sequence rules of uuid's own v7(): a fresh random sequence each millisecond, counting
  // up within one (and borrowing the next millisecond on overflow), so keys sort by creation.
  const now = Date.now();
  if (now > state.msecs) {
    state.seq =
      (((random[6] ?? 0) & 0x7f) << 24) |
      ((random[7] ?? 0) << 16) |
      ((random[8] ?? 0) << 8) |
      (random[9] ?? 0);
    state.msecs = now;
  } else {
    state.seq = (state.seq + 1) | 0;
    if (state.seq === 0) state.msecs++;
  }
  return uuidv7({ random, msecs: state.msecs, seq: state.seq });
}
