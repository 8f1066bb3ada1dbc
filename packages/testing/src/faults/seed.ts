import { randomInt } from 'node:crypto';
import { InvalidOptionError } from '@unfazed/contract';
import { replayCommand } from './replay-command.js';

/** Environment variable that fixes the seed of every plan and toxic created without one. */
export const SEED_ENV = 'UNFAZED_SEED';

let processSeed: number | undefined;

/**
 * The seed used when none is given: `UNFAZED_SEED` when set, else one random seed chosen
 * once per module instance (so, under jest, once per test file). Every unseeded plan of a
 * run shares it, which is why one `UNFAZED_SEED=<n>` replays the whole run.
 */
export function defaultSeed(): number {
  const fromEnv = process.env[SEED_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseSeed(fromEnv, SEED_ENV);
  processSeed ??= randomInt(0, 2 ** 31);
  return processSeed;
}

/** Validates a seed given as an option or in the environment. */
export function parseSeed(value: unknown, option = 'seed'): number {
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) {
    throw new InvalidOptionError(option, 'must be an integer from 0 to 4294967295', value);
  }
  return n;
}

/**
 * The one-line replay hint printed with failures: `replay with seed=<n> (<command>, or pass
 * { seed: <n> })`, where the command re-runs the current jest test with `UNFAZED_SEED=<n>`.
 */
export function replayHint(seeds: Iterable<number>): string {
  const unique = [...new Set(seeds)];
  if (unique.length === 0) return 'no seeded fault: every run injects the same faults';
  if (unique.length === 1) {
    const [seed] = unique;
    return `replay with seed=${seed} (${replayCommand(seed as number)}, or pass { seed: ${seed} })`;
  }
  return `replay with seeds=${unique.join(',')} (pass each plan its { seed })`;
}
