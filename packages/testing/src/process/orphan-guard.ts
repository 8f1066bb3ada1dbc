import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GUARD_SOURCE = `// Preloaded by @unfazed/testing runChild(): when the IPC channel to the test process closes,
// the test process is gone (ended, crashed or SIGKILLed), and this child must not outlive it.
// Polled on an unref'd timer, because a 'disconnect' listener would ref the channel and keep
// every child alive. Node also runs preloads in the module-hooks thread (tsx): skip it there.
if (require('node:worker_threads').isMainThread && typeof process.send === 'function') {
  setInterval(() => {
    if (!process.connected) process.exit(1);
  }, 100).unref();
}
`;

/**
 * Path of a CommonJS module to `--require` in every `runChild()` child: it ends the child when
 * its parent disappears, which exit handlers in the parent cannot guarantee (jest's sandboxed
 * `process` never emits `exit`, and a SIGKILLed parent runs nothing). Written once to the
 * temporary directory, atomically, since several jest workers may race to create it.
 * @internal
 */
export function orphanGuardFile(): string {
  const file = join(tmpdir(), 'unfazed-testing-orphan-guard-v3.cjs');
  if (!existsSync(file)) {
    const temp = `${file}.${process.pid}.${Date.now()}`;
    writeFileSync(temp, GUARD_SOURCE);
    renameSync(temp, file);
  }
  return file;
}
