import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WORKER_CONFIG_ENV, type FrozenMessage, type WorkerConfig } from './config.js';
import type { DemoEvent } from './events.js';
import type { WorkerMessage } from './worker.js';

/** One worker process. */
export interface WorkerProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves once it exits, with its signal (e.g. `SIGKILL`) or exit code. */
  readonly exited: Promise<string>;
}

/** Where `worker.ts` is: next to the script that runs (main.ts). */
function workerScript(): string {
  const main = process.argv[1] ?? '';
  const script = join(dirname(main), 'worker.ts');
  if (!existsSync(script)) throw new Error(`cannot find the worker script at ${script}`);
  return script;
}

/**
 * Starts a worker process: plain `node` with tsx's loader and the `@unfazed/source` condition,
 * so it runs the TypeScript sources like the parent, and a SIGKILL hits the worker itself.
 */
export function startWorkerProcess(
  config: WorkerConfig,
  onEvent: (event: DemoEvent) => void,
  onFrozen: (message: FrozenMessage) => void = () => undefined,
): Promise<WorkerProcess> {
  const script = workerScript();
  const tsx = pathToFileURL(createRequire(script).resolve('tsx')).href;
  const child = fork(script, [], {
    execArgv: ['--conditions=@unfazed/source', '--import', tsx],
    env: { ...process.env, [WORKER_CONFIG_ENV]: JSON.stringify(config) },
    // Nothing of the worker's may reach stdout: with --json it carries the summary only.
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? `exit ${code ?? '?'}`));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker ${config.name} did not start within 20 s`));
    }, 20_000);
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'event') onEvent(message.event);
      else if (message.type === 'frozen') onFrozen(message);
      else if (message.type === 'ready') {
        clearTimeout(timer);
        resolve({ name: config.name, pid: child.pid ?? 0, child, exited });
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`worker ${config.name} exited before it was ready (${how})`));
    });
  });
}

/** Asks a worker to stop (it finishes or releases what it holds), SIGKILL after `graceMs`. */
export async function stopWorkerProcess(worker: WorkerProcess, graceMs = 5_000): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  if (worker.child.connected) worker.child.send({ type: 'stop' });
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), graceMs);
  await worker.exited;
  clearTimeout(timer);
}
