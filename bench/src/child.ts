import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A server process started by a suite; it prints `READY {"ports":{...}}` once listening. */
export interface ChildServer {
  /** Ports by server name, from the READY line. */
  readonly ports: Readonly<Record<string, number>>;
  readonly pid: number | undefined;
  /** Closes its stdin (the child exits on that), then kills it if it has not exited in 5 s. */
  close(): Promise<void>;
}

/** Options of {@link startChild}. */
export interface ChildOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  /** Default 20 000 ms. */
  readonly readyTimeoutMs?: number;
}

/**
 * Spawns `command args` and resolves once it printed its READY line. The child must exit when
 * its stdin ends, so that it also goes away when this process dies.
 */
export async function startChild(
  command: string,
  args: readonly string[],
  options: ChildOptions = {},
): Promise<ChildServer> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  let ports: Record<string, number>;
  try {
    ports = await new Promise<Record<string, number>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${command} was not ready within ${timeoutMs} ms: ${tail}`)),
        timeoutMs,
      );
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        if (!line.startsWith('READY ')) return;
        clearTimeout(timer);
        resolve((JSON.parse(line.slice(6)) as { ports: Record<string, number> }).ports);
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${command} exited (${code ?? signal}) before it was ready: ${tail}`));
      });
    });
  } catch (error) {
    await stop(child, exited);
    process.removeListener('exit', killOnExit);
    throw error;
  }
  return {
    ports,
    pid: child.pid,
    async close() {
      await stop(child, exited);
      process.removeListener('exit', killOnExit);
    },
  };
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin?.end();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), 5_000);
  });
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}
