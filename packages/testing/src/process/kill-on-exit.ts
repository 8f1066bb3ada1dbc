/** Anything that can be killed: a `ChildProcess`, or a wrapper that signals a process group. */
export interface Killable {
  kill(signal: NodeJS.Signals): unknown;
}

/**
 * Children that must not outlive this process. The set is kept on the real `process` object
 * under a global symbol so that every copy of this module (jest loads one per test file)
 * shares one set and one group of listeners.
 */
interface ExitRegistry {
  children: Set<Killable>;
  installed: boolean;
  onExit: () => void;
  onSignal: (signal: NodeJS.Signals) => void;
}

const kRegistry = Symbol.for('unfazed.testing.kill-on-exit');
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function registry(): ExitRegistry {
  const holder = process as unknown as Record<symbol, ExitRegistry | undefined>;
  let reg = holder[kRegistry];
  if (!reg) {
    const children = new Set<Killable>();
    const killAll = (): void => {
      for (const child of children) {
        try {
          child.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
      children.clear();
    };
    const created: ExitRegistry = {
      children,
      installed: false,
      onExit: killAll,
      onSignal: (signal) => {
        killAll();
        uninstall(created);
        // Our listener suppressed the default action; re-raise so the process still ends
        // (unless someone else handles the signal).
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      },
    };
    reg = created;
    holder[kRegistry] = reg;
  }
  return reg;
}

function uninstall(reg: ExitRegistry): void {
  if (!reg.installed) return;
  process.removeListener('exit', reg.onExit);
  for (const signal of SIGNALS) process.removeListener(signal, reg.onSignal);
  reg.installed = false;
}

/**
 * Makes sure `child` is SIGKILLed when this process exits (normally or on SIGINT, SIGTERM,
 * SIGHUP). Returns a function that forgets the child again; call it once the child has been
 * stopped. Listeners are installed only while at least one child is registered.
 *
 * Inside jest this is not enough: a test file's `process` is a copy whose `exit` event never
 * fires. Children therefore also watch their parent themselves (see `guardedSpawn` and the
 * orphan guard of `runChild`), which covers a parent killed by SIGKILL as well.
 */
export function killOnExit(child: Killable): () => void {
  const reg = registry();
  reg.children.add(child);
  if (!reg.installed) {
    process.on('exit', reg.onExit);
    for (const signal of SIGNALS) process.on(signal, reg.onSignal);
    reg.installed = true;
  }
  return () => {
    reg.children.delete(child);
    if (reg.children.size === 0) uninstall(reg);
  };
}
