const monoStart = performance.now();
const wallStart = Date.now();
let latest = 0;

/**
 * @internal The clock leases are measured on, ms since the process loaded this module: the
 * larger of the time the monotonic clock and the wall clock say has passed, never going back.
 * The monotonic clock alone is blind to a paused process or virtual machine (it stops; the
 * store's clock and the other workers' do not), so a lease could look valid after it ran out;
 * the wall clock alone can step back. Taking the larger only ever makes a lease end sooner.
 */
export function leaseClock(): number {
  const elapsed = Math.max(performance.now() - monoStart, Date.now() - wallStart);
  if (elapsed > latest) latest = elapsed;
  return latest;
}
