import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A full garbage collection, whether or not Node was started with --expose-gc. */
export function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Heap and buffer bytes after two full collections. */
export function liveBytes(gc: () => void): { heap: number; buffers: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

/**
 * Live bytes once they stop falling: what earlier work left to close asynchronously (sockets,
 * pools, child-process pipes) is collected between readings, so it is not counted as the
 * baseline of a growth measurement. Stops when two readings 50 ms apart differ by < 1 MiB.
 */
export async function settledLiveBytes(gc: () => void): Promise<number> {
  const read = (): number => {
    const b = liveBytes(gc);
    return b.heap + b.buffers;
  };
  let previous = read();
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const current = read();
    if (Math.abs(current - previous) < 1 << 20) return current;
    previous = current;
  }
  return previous;
}
